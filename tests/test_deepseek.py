"""The real httpx client against the simulated DeepSeek API over loopback."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest

from balancebot.config import Config
from balancebot.errors import (
    AuthError,
    CheckError,
    MalformedResponse,
    RateLimited,
    RequestRejected,
    Timeout,
    UpstreamUnavailable,
)
from balancebot.models import BalanceSnapshot, CurrencyBalance
from balancebot.providers import Fetcher
from balancebot.providers.deepseek import DeepSeekProvider
from balancebot.providers.engine import MAX_BODY_BYTES
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator, Fault

from .conftest import API_KEY


@pytest.fixture
def account_config(simulator: DeepSeekSimulator, make_config: Callable[..., Config]) -> Config:
    return make_config(
        accounts=[
            {"name": "prod", "api_key": API_KEY, "base_url": simulator.base_url, "timeout": "1s"}
        ]
    )


async def fetch(config: Config, clock: FakeClock | None = None) -> BalanceSnapshot:
    async with httpx.AsyncClient() as http:
        provider = Fetcher(DeepSeekProvider(), http, clock or FakeClock())
        return await provider.fetch(config.accounts[0])


async def test_normal_balance(simulator: DeepSeekSimulator, account_config: Config) -> None:
    simulator.add_account(API_KEY, {"CNY": ("10.00", "100.00")})
    snapshot = await fetch(account_config)
    assert snapshot.is_available is True
    assert snapshot.balances == {
        "CNY": CurrencyBalance(Decimal("110.00"), Decimal("10.00"), Decimal("100.00"))
    }
    assert snapshot.taken_at.tzinfo is not None
    assert simulator.requests[0] == {
        "authorization": f"Bearer {API_KEY}",
        "accept": "application/json",
    }


async def test_both_currencies(simulator: DeepSeekSimulator, account_config: Config) -> None:
    simulator.add_account(API_KEY, {"CNY": ("0.00", "5.50"), "USD": ("1.25", "0.00")})
    snapshot = await fetch(account_config)
    assert snapshot.balances["USD"].total == Decimal("1.25")
    assert snapshot.balances["CNY"].topped_up == Decimal("5.50")


async def test_usd_only_and_empty_list(
    simulator: DeepSeekSimulator, account_config: Config
) -> None:
    simulator.add_account(API_KEY, {"USD": ("0.00", "3.00")})
    assert set((await fetch(account_config)).balances) == {"USD"}
    simulator.add_account(API_KEY, {})
    empty = await fetch(account_config)
    assert empty.balances == {}


async def test_a_third_currency_is_read(
    simulator: DeepSeekSimulator, account_config: Config
) -> None:
    simulator.add_account(API_KEY)
    simulator.fail_next(
        Fault(
            body=body({"is_available": True, "balance_infos": [{**GOOD_INFO, "currency": "EUR"}]})
        )
    )
    assert set((await fetch(account_config)).balances) == {"EUR"}


async def test_unavailable_account(simulator: DeepSeekSimulator, account_config: Config) -> None:
    simulator.add_account(API_KEY, {"CNY": ("0.00", "0.00")})
    snapshot = await fetch(account_config)
    assert snapshot.is_available is False
    assert snapshot.balances["CNY"].total == Decimal("0.00")


async def test_keepalive_blank_lines_before_the_body(
    simulator: DeepSeekSimulator, account_config: Config
) -> None:
    simulator.add_account(API_KEY)
    simulator.fail_next(Fault(keepalive_lines=3))
    assert (await fetch(account_config)).balances["CNY"].total == Decimal("110.00")


def body(data: object) -> bytes:
    return json.dumps(data).encode()


GOOD_INFO = {
    "currency": "CNY",
    "total_balance": "1.00",
    "granted_balance": "0.00",
    "topped_up_balance": "1.00",
}

FAILURES: list[tuple[str, Fault, type[CheckError], str]] = [
    ("401", Fault(status=401), AuthError, "wrong or revoked"),
    ("403", Fault(status=403), AuthError, "HTTP 403"),
    ("429", Fault(status=429, headers={"Retry-After": "7"}), RateLimited, "rate limited"),
    ("500", Fault(status=500), UpstreamUnavailable, "Server error"),
    ("503", Fault(status=503), UpstreamUnavailable, "overloaded"),
    ("402", Fault(status=402), RequestRejected, "Insufficient Balance"),
    ("422", Fault(status=422), RequestRejected, "HTTP 422"),
    (
        "html error page",
        Fault(status=502, body=b"<html>Bad gateway</html>"),
        UpstreamUnavailable,
        "HTTP 502",
    ),
    (
        "malformed json",
        Fault(body=b'{"is_available": true, "balance_'),
        MalformedResponse,
        "not JSON",
    ),
    ("html on 200", Fault(body=b"<html>hello</html>"), MalformedResponse, "not JSON"),
    ("not an object", Fault(body=body([1, 2])), MalformedResponse, "not a JSON object"),
    (
        "missing is_available",
        Fault(body=body({"balance_infos": []})),
        MalformedResponse,
        "is_available",
    ),
    (
        "string is_available",
        Fault(body=body({"is_available": "true", "balance_infos": []})),
        MalformedResponse,
        "is_available",
    ),
    (
        "balance_infos not a list",
        Fault(body=body({"is_available": True, "balance_infos": {"CNY": "1"}})),
        MalformedResponse,
        "not a list",
    ),
    (
        "non-numeric amount",
        Fault(
            body=body(
                {"is_available": True, "balance_infos": [{**GOOD_INFO, "total_balance": "lots"}]}
            )
        ),
        MalformedResponse,
        "not a number",
    ),
    (
        "float amount",
        Fault(
            body=body(
                {"is_available": True, "balance_infos": [{**GOOD_INFO, "total_balance": 1.0}]}
            )
        ),
        MalformedResponse,
        "not a decimal string",
    ),
    (
        "NaN amount",
        Fault(
            body=body(
                {"is_available": True, "balance_infos": [{**GOOD_INFO, "granted_balance": "NaN"}]}
            )
        ),
        MalformedResponse,
        "not a number: 'NaN'",
    ),
    (
        "missing amount",
        Fault(
            body=body(
                {"is_available": True, "balance_infos": [{"currency": "CNY", "total_balance": "1"}]}
            )
        ),
        MalformedResponse,
        "granted_balance",
    ),
    (
        "not a currency code",
        Fault(
            body=body({"is_available": True, "balance_infos": [{**GOOD_INFO, "currency": "eur"}]})
        ),
        MalformedResponse,
        "not a currency code: 'eur'",
    ),
    (
        "padded amount",
        Fault(
            body=body(
                {"is_available": True, "balance_infos": [{**GOOD_INFO, "total_balance": " 1.00"}]}
            )
        ),
        MalformedResponse,
        "not a number: ' 1.00'",
    ),
    (
        "duplicate key",
        Fault(body=b'{"is_available": true, "is_available": false, "balance_infos": []}'),
        MalformedResponse,
        "appears twice",
    ),
    (
        "BOM",
        Fault(body=b"\xef\xbb\xbf" + body({"is_available": True, "balance_infos": []})),
        MalformedResponse,
        "byte order mark",
    ),
    (
        "duplicate currency",
        Fault(body=body({"is_available": True, "balance_infos": [GOOD_INFO, GOOD_INFO]})),
        MalformedResponse,
        "listed twice",
    ),
    (
        "huge body",
        Fault(body=b" " * (MAX_BODY_BYTES + 10) + b"{}"),
        MalformedResponse,
        "larger than",
    ),
    ("hang", Fault(hang=True), Timeout, "within 1s"),
    ("drip past the deadline", Fault(keepalive_lines=30, line_interval=0.1), Timeout, "within 1s"),
]


@pytest.mark.parametrize(
    ("fault", "error", "says"),
    [case[1:] for case in FAILURES],
    ids=[case[0] for case in FAILURES],
)
async def test_failures_map_to_the_error_hierarchy(
    simulator: DeepSeekSimulator,
    account_config: Config,
    fault: Fault,
    error: type[CheckError],
    says: str,
) -> None:
    simulator.add_account(API_KEY)
    simulator.fail_next(fault)
    with pytest.raises(error) as raised:
        await fetch(account_config)
    assert says in raised.value.message
    assert API_KEY not in str(raised.value)


async def test_retry_after_is_read(simulator: DeepSeekSimulator, account_config: Config) -> None:
    simulator.fail_next(Fault(status=429, headers={"Retry-After": "7"}))
    with pytest.raises(RateLimited) as raised:
        await fetch(account_config)
    assert raised.value.retry_after == 7.0


async def test_unknown_key_is_an_auth_error(
    simulator: DeepSeekSimulator, account_config: Config
) -> None:
    with pytest.raises(AuthError):
        await fetch(account_config)


async def test_connection_refused_is_unavailable(make_config: Callable[..., Config]) -> None:
    config = make_config()  # base_url port 9: nothing listens there
    with pytest.raises(UpstreamUnavailable, match=r"cannot reach 127\.0\.0\.1"):
        await fetch(config)


async def test_key_never_in_logs_or_reprs(
    simulator: DeepSeekSimulator,
    account_config: Config,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    simulator.add_account(API_KEY)
    await fetch(account_config)
    simulator.fail_next(Fault(status=401, body=body({"error": {"message": f"bad key {API_KEY}"}})))
    with pytest.raises(AuthError) as raised:
        await fetch(account_config)
    assert "***" in str(raised.value)
    texts = [str(raised.value), repr(account_config), repr(account_config.accounts[0])]
    texts += [r.getMessage() for r in caplog.records]
    assert not [t for t in texts if API_KEY in t]


@pytest.mark.parametrize("field", ["total_balance", "currency"])
async def test_a_body_echoing_the_key_never_puts_it_in_the_failure(
    simulator: DeepSeekSimulator, account_config: Config, field: str
) -> None:
    simulator.add_account(API_KEY)
    echo = {**GOOD_INFO, field: f"x{API_KEY}"}
    simulator.fail_next(Fault(body=body({"is_available": True, "balance_infos": [echo]})))
    with pytest.raises(MalformedResponse) as raised:
        await fetch(account_config)
    assert API_KEY[:8] not in str(raised.value) and API_KEY[-8:] not in raised.value.message
    assert "***" in raised.value.message
