"""Tencent Cloud: TC3-HMAC-SHA256 against the published worked example, and the provider
over loopback against a fake that verifies each signature the way Tencent documents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import pytest

from balancebot.config import AccountConfig
from balancebot.errors import AuthError, MalformedResponse, RateLimited, RequestRejected
from balancebot.models import CurrencyBalance
from balancebot.providers.tencentcloud import TencentCloudProvider
from balancebot.providers.tencentcloud.sign import sign
from balancebot.testing.clock import FakeClock
from balancebot.testing.fakeapi import Reply
from balancebot.testing.tencentcloud import PATH, TencentCloudFake, error

from .conftest import API_KEY
from .providers_util import account, fetch, refused

SECRET_ID = "AKIDtencent0123456789example"


def test_the_signer_reproduces_the_published_example() -> None:
    """ "签名方法 v3" (cloud.tencent.com/document/api/213/30654, the version with the full
    example SecretKey; mirrored as the English "Signature v3" page): CVM DescribeInstances
    at 1551113065."""
    payload = (
        b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    )
    signed = sign(
        secret_id="AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
        secret_key="Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        service="cvm",
        timestamp=1551113065,
        method="POST",
        query="",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Host": "cvm.tencentcloudapi.com",
        },
        payload=payload,
    )
    assert signed.canonical_request == (
        "POST\n/\n\n"
        "content-type:application/json; charset=utf-8\n"
        "host:cvm.tencentcloudapi.com\n\n"
        "content-type;host\n"
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    )
    assert signed.string_to_sign == (
        "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
        "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
    )
    assert signed.signature == "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    assert signed.authorization == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/"
        "tc3_request, SignedHeaders=content-type;host, Signature="
        "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[TencentCloudFake]:
    async with TencentCloudFake(now=clock.now) as server:
        server.add_account(SECRET_ID, secret=API_KEY, fen=1_234_567)
        yield server


def _account(fake: TencentCloudFake, secret_id: str = SECRET_ID) -> AccountConfig:
    return account("tencentcloud", fake.url, secret_id=secret_id)


async def test_fen_are_read_as_yuan(fake: TencentCloudFake, clock: FakeClock) -> None:
    snapshot = await fetch(TencentCloudProvider(), _account(fake), clock)
    assert snapshot.balances == {
        "CNY": CurrencyBalance(Decimal("12345.67"), Decimal(0), Decimal("12345.67"))
    }
    assert snapshot.is_available
    method, _, headers = fake.requests[-1]
    assert method == "POST" and headers["X-TC-Timestamp"] == str(int(clock.now().timestamp()))
    assert API_KEY not in str(headers)


async def test_arrears_are_a_negative_balance(fake: TencentCloudFake, clock: FakeClock) -> None:
    fake.add_account(SECRET_ID, secret=API_KEY, fen=-250)
    snapshot = await fetch(TencentCloudProvider(), _account(fake), clock)
    assert snapshot.balances["CNY"].total == Decimal("-2.50") and not snapshot.is_available


async def test_a_wrong_secret_is_an_authentication_failure(
    fake: TencentCloudFake, clock: FakeClock
) -> None:
    fake.add_account(SECRET_ID, secret="another-secret-key")
    await refused(
        TencentCloudProvider(),
        _account(fake),
        AuthError,
        r"AuthFailure.SignatureFailure.*check the access key secret \(api_key\) and its id "
        r"\(options.secret_id\)",
        clock,
    )


async def test_an_unknown_secret_id_is_an_authentication_failure(
    fake: TencentCloudFake, clock: FakeClock
) -> None:
    config = _account(fake, "AKIDnobody")
    await refused(TencentCloudProvider(), config, AuthError, "SecretIdNotFound", clock)


@pytest.mark.parametrize(("skew", "way"), [(-15, "ahead of"), (16, "behind")])
async def test_a_clock_off_says_by_how_much(
    fake: TencentCloudFake, clock: FakeClock, skew: int, way: str
) -> None:
    fake.skew = timedelta(minutes=skew)
    error = await refused(
        TencentCloudProvider(),
        _account(fake),
        RequestRejected,
        "AuthFailure.SignatureExpire",
        clock,
    )
    assert f"the machine's clock is off by {abs(skew)} min ({way} Tencent Cloud's)" in str(error)


async def test_four_minutes_off_is_still_accepted(fake: TencentCloudFake, clock: FakeClock) -> None:
    fake.skew = timedelta(minutes=4)
    await fetch(TencentCloudProvider(), _account(fake), clock)


async def test_business_errors_and_throttling(fake: TencentCloudFake, clock: FakeClock) -> None:
    provider, config = TencentCloudProvider(), _account(fake)
    fake.reply_next(PATH, error("RequestLimitExceeded", "请求的次数超过了频率限制。"))
    await refused(provider, config, RateLimited, "RequestLimitExceeded", clock)
    fake.reply_next(PATH, error("UnauthorizedOperation", "CAM签名/鉴权错误。"))
    await refused(provider, config, AuthError, "billing:DescribeAccountBalance", clock)
    fake.reply_next(PATH, error("FailedOperation", "操作失败。"))
    await refused(provider, config, RequestRejected, "FailedOperation", clock)


@pytest.mark.parametrize(
    "balance", ['"1234"', "12.5", "true", "null", "1e400", "1234567890123456789"]
)
async def test_garbage_is_never_a_balance(
    fake: TencentCloudFake, clock: FakeClock, balance: str
) -> None:
    fake.reply_next(PATH, Reply(200, b'{"Response": {"Balance": %s}}' % balance.encode()))
    await refused(TencentCloudProvider(), _account(fake), MalformedResponse, "Balance|JSON", clock)


async def test_both_secrets_are_masked(fake: TencentCloudFake, clock: FakeClock) -> None:
    echo = error("FailedOperation", f"bad key {API_KEY} for {SECRET_ID}")
    fake.reply_next(PATH, echo)
    caught = await refused(
        TencentCloudProvider(), _account(fake), RequestRejected, "FailedOperation", clock
    )
    assert API_KEY not in caught.message and SECRET_ID not in caught.message
