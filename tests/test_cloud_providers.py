"""The cloud billing providers over loopback, against fakes that verify each signature
the way the cloud documents: the balance in the cloud's unit, a wrong secret, a clock off,
throttling, business errors and garbage, and both secrets masked."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from random import Random
from typing import Any

import httpx
import pytest

from balancebot.config import AccountConfig, Config, convert
from balancebot.errors import (
    AuthError,
    CheckError,
    ConfigError,
    MalformedResponse,
    RateLimited,
    RequestRejected,
    UpstreamUnavailable,
)
from balancebot.models import BalanceSnapshot, CurrencyBalance
from balancebot.providers import Fetcher, Provider, fetch_result
from balancebot.providers import volcengine as volcengine_provider
from balancebot.providers.aliyun import AliyunProvider
from balancebot.providers.contract import HttpRequest, HttpResponse
from balancebot.providers.tencentcloud import TencentCloudProvider
from balancebot.providers.volcengine import VolcengineProvider
from balancebot.retry import Backoff
from balancebot.testing import aliyun, tencentcloud, volcengine
from balancebot.testing.clock import FakeClock
from balancebot.testing.fakeapi import Reply
from balancebot.testing.signedcloud import SignedCloudFake

from .conftest import API_KEY
from .providers_util import account, fetch, refused

KEY_ID = "AKIDcloud0123456789example"


@dataclass
class Cloud:
    name: str
    provider: Provider[Any]
    fake: Callable[..., SignedCloudFake]
    option: str
    state: dict[str, Any]
    """An account's state in the fake, and what it reads as:"""
    reads: dict[str, CurrencyBalance]
    window: int
    """Minutes the cloud accepts a request's time off its own."""
    errors: list[tuple[Reply, type[CheckError], str]]
    garbage: list[bytes]
    owing: tuple[dict[str, Any], Decimal]
    extra: list[tuple[dict[str, Any], dict[str, CurrencyBalance]]] = field(default_factory=list)


def _cny(total: str) -> dict[str, CurrencyBalance]:
    return {"CNY": CurrencyBalance(Decimal(total), Decimal(0), Decimal(total))}


def _tencent_balance(value: str) -> bytes:
    return b'{"Response": {"Balance": %s, "RequestId": "x"}}' % value.encode()


def _aliyun_balance(value: str, currency: str = '"CNY"') -> bytes:
    data = b'{"AvailableAmount": %s, "Currency": %s}' % (value.encode(), currency.encode())
    return b'{"Code": "200", "Success": true, "Data": %s}' % data


def _volcengine_balance(value: str) -> bytes:
    return b'{"ResponseMetadata": {"RequestId": "x"}, "Result": {"AvailableBalance": %s}}' % (
        value.encode()
    )


CLOUDS = [
    Cloud(
        name="tencentcloud",
        provider=TencentCloudProvider(),
        fake=tencentcloud.TencentCloudFake,
        option="secret_id",
        state={"fen": 1_234_567},
        reads=_cny("12345.67"),
        window=5,
        errors=[
            (
                tencentcloud.error("RequestLimitExceeded", "请求的次数超过了频率限制。"),
                RateLimited,
                "RequestLimitExceeded",
            ),
            (
                tencentcloud.error("UnauthorizedOperation", "CAM签名/鉴权错误。"),
                AuthError,
                "billing:DescribeAccountBalance",
            ),
            (
                tencentcloud.error("FailedOperation", "操作失败。"),
                RequestRejected,
                "FailedOperation",
            ),
            (
                tencentcloud.error("InternalError", "内部错误。"),
                UpstreamUnavailable,
                "InternalError",
            ),
        ],
        garbage=[
            _tencent_balance(v)
            for v in ('"1234"', "12.5", "true", "null", "1e400", "1234567890123456789")
        ]
        + [b'{"Response": {}}', b"<html>", b'{"Response": {"Error": {"Code": 7}}}'],
        owing=({"fen": -250}, Decimal("-2.50")),
    ),
    Cloud(
        name="aliyun",
        provider=AliyunProvider(),
        fake=aliyun.AliyunFake,
        option="access_key_id",
        state={"available": "12,345.67"},
        reads=_cny("12345.67"),
        window=15,
        errors=[
            (
                aliyun.error(
                    400, "Throttling.User", "Request was denied due to user flow control."
                ),
                RateLimited,
                "Throttling.User",
            ),
            (
                aliyun.error(
                    403,
                    "Forbidden.RAM",
                    "User not authorized to operate on the specified resource.",
                ),
                AuthError,
                "AliyunBSSReadOnlyAccess",
            ),
            (
                aliyun.error(400, "NotApplicable", "This API is not applicable for caller."),
                RequestRejected,
                "NotApplicable",
            ),
            (
                Reply(200, {"Code": "InternalError", "Message": "unknown error", "Success": False}),
                UpstreamUnavailable,
                "InternalError",
            ),
            (
                aliyun.error(
                    503,
                    "ServiceUnavailable",
                    "The request has failed due to a temporary failure of the server.",
                ),
                UpstreamUnavailable,
                "ServiceUnavailable",
            ),
        ],
        garbage=[
            _aliyun_balance(v)
            for v in ("12.5", '"1,2345.67"', '"12,345,67"', '" 12.00"', '"1e3"', '""', "null")
        ]
        + [
            _aliyun_balance('"12.00"', '"yuan"'),
            _aliyun_balance('"12.00"', "null"),
            b'{"Code": "200", "Success": true}',
            b'{"Code": "200", "Success": "true", "Data": {}}',
        ],
        owing=({"available": "-1,234.50"}, Decimal("-1234.50")),
        extra=[
            (
                {"available": "99.90", "currency": "USD"},
                {"USD": CurrencyBalance(Decimal("99.90"), Decimal(0), Decimal("99.90"))},
            )
        ],
    ),
    Cloud(
        name="volcengine",
        provider=VolcengineProvider(),
        fake=volcengine.VolcengineFake,
        option="access_key_id",
        state={"available": "12345.67"},
        reads=_cny("12345.67"),
        window=15,
        errors=[
            (
                volcengine.error("FlowLimitExceeded", "Flow limit exceeded."),
                RateLimited,
                "FlowLimitExceeded",
            ),
            (
                volcengine.error(
                    "AccessDenied", "User is not authorized to perform: billing:QueryBalanceAcct"
                ),
                AuthError,
                "billing:QueryBalanceAcct",
            ),
            (
                volcengine.error("InvalidParameter", "The parameter is invalid.", 400),
                RequestRejected,
                "InvalidParameter",
            ),
            (
                volcengine.error("InternalServiceError", "internal error"),
                UpstreamUnavailable,
                "InternalServiceError",
            ),
            (
                volcengine.error("QuotaExceeded.NewName", "slow down", 429),
                RateLimited,
                "QuotaExceeded",
            ),
        ],
        garbage=[
            _volcengine_balance(v)
            for v in ("12.5", '"12,345.67"', '" 12.00"', '"1e3"', '""', "null", '"NaN"')
        ]
        + [b'{"ResponseMetadata": {}}', b"<html>", b'{"ResponseMetadata": {"Error": {}}}'],
        owing=({"available": "-12.30"}, Decimal("-12.30")),
    ),
]


@pytest.fixture(params=CLOUDS, ids=lambda c: c.name)
def cloud(request: pytest.FixtureRequest) -> Cloud:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def fake(cloud: Cloud, clock: FakeClock) -> AsyncIterator[SignedCloudFake]:
    async with cloud.fake(now=clock.now) as server:
        server.add_account(KEY_ID, secret=API_KEY, **cloud.state)
        yield server


def _account(cloud: Cloud, fake: SignedCloudFake, key_id: str = KEY_ID) -> AccountConfig:
    return account(cloud.name, fake.url, **{cloud.option: key_id})


async def test_the_balance_is_read_in_the_clouds_unit(
    cloud: Cloud, fake: SignedCloudFake, clock: FakeClock
) -> None:
    snapshot = await fetch(cloud.provider, _account(cloud, fake), clock)
    assert snapshot.balances == cloud.reads and snapshot.is_available
    for state, reads in cloud.extra:
        fake.add_account(KEY_ID, secret=API_KEY, **state)
        assert (await fetch(cloud.provider, _account(cloud, fake), clock)).balances == reads
    assert API_KEY not in str(fake.requests)


async def test_owing_is_a_negative_balance(
    cloud: Cloud, fake: SignedCloudFake, clock: FakeClock
) -> None:
    state, total = cloud.owing
    fake.add_account(KEY_ID, secret=API_KEY, **state)
    snapshot = await fetch(cloud.provider, _account(cloud, fake), clock)
    assert [b.total for b in snapshot.balances.values()] == [total] and not snapshot.is_available


async def test_a_wrong_secret_or_key_id_is_an_authentication_failure(
    cloud: Cloud, fake: SignedCloudFake, clock: FakeClock
) -> None:
    says = rf"check the access key secret \(api_key\) and its id \(options.{cloud.option}\)"
    fake.add_account(KEY_ID, secret="another-secret-key")
    error = await refused(cloud.provider, _account(cloud, fake), AuthError, says, clock)
    assert "\n" not in error.message  # one line (Alibaba's quotes its string to sign)
    await refused(cloud.provider, _account(cloud, fake, "AKIDnobody"), AuthError, says, clock)


@pytest.mark.parametrize("way", [-1, 1])
async def test_a_clock_off_says_by_how_much(
    cloud: Cloud, fake: SignedCloudFake, clock: FakeClock, way: int
) -> None:
    minutes = cloud.window + 1
    fake.skew = timedelta(minutes=minutes * way)
    error = await refused(cloud.provider, _account(cloud, fake), RequestRejected, "time", clock)
    side = "behind" if way > 0 else "ahead of"
    assert f"the machine's clock is off by about {minutes} min ({side} " in error.message
    fake.skew = timedelta(minutes=(cloud.window - 1) * way)  # within the window: accepted
    await fetch(cloud.provider, _account(cloud, fake), clock)


@pytest.mark.parametrize(
    ("skew", "said"),
    [
        (timedelta(minutes=119), "about 119 min"),
        (timedelta(hours=5, minutes=10), "about 5 h"),
        (timedelta(days=1, minutes=1), "about 24 h"),  # once "about 1441 min"
        (timedelta(days=400), "about 400 days"),
    ],
)
async def test_a_clock_far_off_says_it_in_hours_or_days(
    cloud: Cloud, fake: SignedCloudFake, clock: FakeClock, skew: timedelta, said: str
) -> None:
    fake.skew = skew
    error = await refused(cloud.provider, _account(cloud, fake), RequestRejected, "time", clock)
    assert f"the machine's clock is off by {said} (behind " in error.message


async def test_throttling_business_and_server_errors(
    cloud: Cloud, fake: SignedCloudFake, clock: FakeClock
) -> None:
    for reply, raised, says in cloud.errors:
        fake.reply_next(fake.path, reply)
        with pytest.raises(raised, match=says):
            await fetch(cloud.provider, _account(cloud, fake), clock)


async def test_a_retry_is_signed_anew_with_the_clocks_time(
    cloud: Cloud, fake: SignedCloudFake, clock: FakeClock
) -> None:
    """The signature covers the time it is sent at: a retry after throttling is signed
    again, seconds later on the one clock, and accepted."""
    fake.reply_next(fake.path, cloud.errors[0][0])  # throttled: transient
    config = _account(cloud, fake)
    async with httpx.AsyncClient() as http:
        fetcher = Fetcher(cloud.provider, http, clock)
        result = await fetch_result(fetcher, config, clock, Backoff(initial=30), Random(1))
    assert isinstance(result, BalanceSnapshot), result
    header = cloud.provider.stamp[0]
    first, second = (headers[header] for _, _, headers in fake.requests)
    assert first != second and clock.slept and clock.slept[0] >= 15


async def test_garbage_is_never_a_balance(
    cloud: Cloud, fake: SignedCloudFake, clock: FakeClock
) -> None:
    for body in cloud.garbage:
        fake.reply_next(fake.path, Reply(200, body))
        with pytest.raises(MalformedResponse):
            await fetch(cloud.provider, _account(cloud, fake), clock)


async def test_both_secrets_are_masked(
    cloud: Cloud, fake: SignedCloudFake, clock: FakeClock
) -> None:
    reply, _, _ = cloud.errors[2]  # a business error, its message echoing both
    reply = Reply(reply.status, _echo(reply.body, f"bad key {API_KEY} for {KEY_ID}"))
    fake.reply_next(fake.path, reply)
    with pytest.raises(CheckError) as caught:
        await fetch(cloud.provider, _account(cloud, fake), clock)
    assert API_KEY not in caught.value.message and KEY_ID not in caught.value.message
    assert "***" in caught.value.message


def _echo(body: Any, message: str) -> Any:
    """`body` with every "Message" replaced by `message`."""
    if isinstance(body, dict):
        return {k: message if k == "Message" else _echo(v, message) for k, v in body.items()}
    return body


def test_an_empty_key_id_is_a_config_error(
    cloud: Cloud, make_config: Callable[..., Config]
) -> None:
    raw = {"name": "c", "api_key": "s3cret", "provider": cloud.name}
    with pytest.raises(ConfigError) as raised:
        make_config(accounts=[{**raw, "options": {cloud.option: ""}}])
    assert any(f"{cloud.option} is empty" in p for p in raised.value.problems), raised.value
    with pytest.raises(ConfigError, match=f"options.{cloud.option}"):
        make_config(accounts=[raw])


def _without_version(request: HttpRequest) -> HttpRequest:
    """The request as a client that forgot the API version sends it (the header dropped)."""
    headers = {k: v for k, v in request.headers.items() if k.lower() not in VERSION_HEADERS}
    return replace(request, headers=headers)


VERSION_HEADERS = {"x-tc-version", "x-acs-version"}
NO_VERSION = {
    "tencentcloud": "MissingParameter",
    "aliyun": "MissingVersion",
    "volcengine": "InvalidActionOrVersion",
}


async def test_the_fakes_refuse_a_request_without_the_api_version(
    cloud: Cloud, fake: SignedCloudFake, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clouds route by action and version: a signed request without the version is
    refused in the cloud's words (the fakes once answered it with a balance)."""
    monkeypatch.setattr(volcengine_provider, "QUERY", {"Action": "QueryBalanceAcct"})
    config = _account(cloud, fake)
    options = convert(config.options, cloud.provider.Options)
    (built,) = cloud.provider.requests(config, options)
    sent = cloud.provider.sign(_without_version(built), config, options, clock.now())
    async with httpx.AsyncClient() as http:
        answer = await http.request(
            sent.method, sent.url, headers=dict(sent.headers), content=sent.body
        )
    response = HttpResponse(answer.status_code, dict(answer.headers), answer.content)
    error = cloud.provider.error_for(sent, response, clock.now())
    assert isinstance(error, RequestRejected) and NO_VERSION[cloud.name] in error.message, error
