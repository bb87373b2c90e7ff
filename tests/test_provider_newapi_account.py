"""new-api's account mode over loopback: the user's whole quota from `/api/user/self`, in the
unit `/api/status` gives, with the access token and `New-Api-User`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import pytest

from balancebot.config import AccountConfig, Config
from balancebot.errors import (
    AuthError,
    CheckError,
    ConfigError,
    MalformedResponse,
    RateLimited,
    RequestRejected,
    UpstreamUnavailable,
)
from balancebot.models import CurrencyBalance
from balancebot.providers.relay import NewApiProvider
from balancebot.testing.fakeapi import Reply
from balancebot.testing.relay import SELF, STATUS, RelayFake

from .conftest import API_KEY
from .providers_util import account, fetch, refused


@pytest.fixture
async def relay() -> AsyncIterator[RelayFake]:
    async with RelayFake() as server:
        server.add_account(API_KEY, access=True, user_id=42, quota=5_000_000, used_quota=250_000)
        yield server


def mine(relay: RelayFake, user_id: int = 42) -> AccountConfig:
    return account("new-api", relay.url, mode="account", user_id=user_id)


async def test_the_accounts_quota_in_usd(relay: RelayFake) -> None:
    snapshot = await fetch(NewApiProvider(), mine(relay))
    assert snapshot.balances == {
        "USD": CurrencyBalance(Decimal(10), Decimal(0), Decimal(10), used=Decimal("0.5"))
    }
    assert snapshot.is_available and not snapshot.uncapped
    (_, path, headers), (_, status, public) = relay.requests
    assert (path, headers["Authorization"], headers["New-Api-User"]) == (
        SELF,
        f"Bearer {API_KEY}",
        "42",
    )
    assert status == STATUS and "Authorization" not in public


async def test_cny_sites_and_their_own_quota_unit(relay: RelayFake) -> None:
    relay.display.update(quota_display_type="CNY", usd_exchange_rate=7.3, quota_per_unit=1000)
    relay.add_account(API_KEY, access=True, user_id=42, quota=1500, used_quota=333)
    snapshot = await fetch(NewApiProvider(), mine(relay))
    cny = snapshot.balances["CNY"]
    assert (cny.total, cny.used) == (Decimal("10.95"), Decimal("2.43090000"))


async def test_low_overdrawn_and_empty(relay: RelayFake) -> None:
    relay.add_account(API_KEY, access=True, user_id=42, quota=125_000, used_quota=0)
    low = await fetch(NewApiProvider(), mine(relay))
    assert low.balances["USD"].total == Decimal("0.25") and low.is_available
    relay.add_account(API_KEY, access=True, user_id=42, quota=-50_000, used_quota=9)
    owing = await fetch(NewApiProvider(), mine(relay))
    assert owing.balances["USD"].total == Decimal("-0.1") and not owing.is_available


async def test_a_wrong_token_or_user_id_says_what_account_mode_needs(relay: RelayFake) -> None:
    error = await refused(NewApiProvider(), mine(relay, 7), AuthError, "New-Api-User")
    assert "access token" in error.message and "options.user_id" in error.message
    relay.accounts.clear()
    await refused(NewApiProvider(), mine(relay), AuthError, "access token 无效")


async def test_an_sk_token_in_account_mode_is_refused(relay: RelayFake) -> None:
    relay.add_account(API_KEY, granted=25.0, used=5.5)  # a relay token, not an access token
    await refused(NewApiProvider(), mine(relay), AuthError, "needs the user's access token")


@pytest.mark.parametrize(
    ("path", "reply", "raised", "says"),
    [
        (
            SELF,
            Reply(200, {"success": False, "message": f"token {API_KEY} 已过期"}),
            AuthError,
            "已过期",
        ),
        (
            SELF,
            Reply(200, {"success": False, "message": "数据库错误 internal"}),
            UpstreamUnavailable,
            "internal",
        ),
        (
            SELF,
            Reply(429, {"success": False, "message": "请求过于频繁 too many requests"}),
            RateLimited,
            "too many",
        ),
        (
            SELF,
            Reply(200, {"success": True, "data": {"quota": "lots", "used_quota": 0}}),
            MalformedResponse,
            "data.quota",
        ),
        (
            SELF,
            Reply(200, {"success": True, "data": {"quota": 1, "used_quota": -5}}),
            MalformedResponse,
            "used_quota",
        ),
        (SELF, Reply(200, {"success": True, "data": None}), MalformedResponse, "data is missing"),
        (
            SELF,
            Reply(200, b'{"success": true, "data": {"quota": 1e999, "used_quota": 0}}'),
            MalformedResponse,
            "range",
        ),
        (
            STATUS,
            Reply(
                200,
                {
                    "success": True,
                    "data": {"quota_display_type": "TOKENS", "quota_per_unit": 500000},
                },
            ),
            MalformedResponse,
            "not as money",
        ),
        (
            STATUS,
            Reply(
                200, {"success": True, "data": {"quota_display_type": "USD", "quota_per_unit": 0}}
            ),
            MalformedResponse,
            "is zero",
        ),
        (  # a sub-unit quota_per_unit times a huge rate: once decimal.InvalidOperation
            STATUS,
            Reply(
                200,
                b'{"success": true, "data": {"quota_display_type": "CNY", '
                b'"quota_per_unit": 1e-8, "usd_exchange_rate": 999999999999999}}',
            ),
            MalformedResponse,
            "out of range",
        ),
        (  # 5,000,000 quota at 1e-8 a dollar, 7.3 CNY each: once an OK '(out of range)'
            STATUS,
            Reply(
                200,
                b'{"success": true, "data": {"quota_display_type": "CNY", '
                b'"quota_per_unit": 1e-8, "usd_exchange_rate": 7.3}}',
            ),
            MalformedResponse,
            "out of range",
        ),
        (
            STATUS,
            Reply(200, {"success": True, "data": {"quota_display_type": "USD"}}),
            MalformedResponse,
            "quota_per_unit",
        ),
        (
            STATUS,
            Reply(
                200,
                {"success": True, "data": {"quota_display_type": "CNY", "quota_per_unit": 500000}},
            ),
            MalformedResponse,
            "usd_exchange_rate",
        ),
        (
            STATUS,
            Reply(200, {"success": False, "message": "x"}),
            MalformedResponse,
            "did not succeed",
        ),
        (STATUS, Reply(502, b"bad gateway"), UpstreamUnavailable, "HTTP 502"),
    ],
)
async def test_errors_are_never_a_balance(
    relay: RelayFake, path: str, reply: Reply, raised: type[CheckError], says: str
) -> None:
    relay.reply_next(path, reply)
    await refused(NewApiProvider(), mine(relay), raised, says)


def test_user_id_goes_with_account_mode(make_config: Callable[..., Config]) -> None:
    base = {"api_key": "k", "provider": "new-api", "base_url": "https://relay.example"}
    accounts = [
        {"name": "a", **base, "options": {"mode": "account"}},
        {"name": "b", **base, "options": {"user_id": 3}},
        {"name": "c", **base, "options": {"mode": "account", "user_id": 0}},
        {"name": "d", **base, "options": {"mode": "account", "user_id": 3}},
    ]
    with pytest.raises(ConfigError) as raised:
        make_config(accounts=accounts)
    problems = raised.value.problems
    assert problems[0].startswith("accounts[0]: options.user_id is required")
    assert problems[1] == 'accounts[1]: options.user_id is only read with mode = "account"'
    assert problems[2].startswith("accounts[2].options.user_id")
    assert len(problems) == 3


def test_token_mode_is_unchanged() -> None:
    requests = NewApiProvider().requests(
        account("new-api", "https://relay.example/v1"), NewApiProvider.Options()
    )
    assert [r.url for r in requests] == [
        "https://relay.example/v1/dashboard/billing/subscription",
        "https://relay.example/v1/dashboard/billing/usage",
        "https://relay.example/api/status",
    ]
    with pytest.raises(RequestRejected, match="base_url is required"):
        NewApiProvider().requests(account("new-api", None), NewApiProvider.Options("account", 1))
