"""one-api / new-api relays over loopback: hundredths, display units, HTTP-200 errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from balancebot.errors import (
    AuthError,
    CheckError,
    MalformedResponse,
    RateLimited,
    RequestRejected,
    UpstreamUnavailable,
)
from balancebot.models import CurrencyBalance
from balancebot.providers.relay import NewApiProvider, OneApiProvider
from balancebot.testing.fakeapi import Reply
from balancebot.testing.relay import STATUS, SUBSCRIPTION, USAGE, RelayFake

from .conftest import API_KEY
from .providers_util import account, fetch


@pytest.fixture
async def relay() -> AsyncIterator[RelayFake]:
    async with RelayFake() as server:
        server.add_account(API_KEY, granted=25.0, used=5.5)
        yield server


async def test_one_api_left_of_the_quota(relay: RelayFake) -> None:
    snapshot = await fetch(OneApiProvider(), account("one-api", relay.url + "/v1"))
    assert snapshot.balances == {
        "USD": CurrencyBalance(
            Decimal("19.5"), Decimal(0), Decimal("19.5"), limit=Decimal("25.0"), used=Decimal("5.5")
        )
    }
    assert [r[1] for r in relay.requests] == [SUBSCRIPTION, USAGE]


async def test_new_api_reads_the_display_unit(relay: RelayFake) -> None:
    snapshot = await fetch(NewApiProvider(), account("new-api", relay.url))
    assert set(snapshot.balances) == {"USD"}
    assert "Authorization" not in relay.requests[-1][2]  # /api/status is public: no key
    cny = {"success": True, "data": {"quota_display_type": "CNY", "usd_exchange_rate": 7.3}}
    relay.reply_next(STATUS, Reply(200, cny))
    assert set((await fetch(NewApiProvider(), account("new-api", relay.url))).balances) == {"CNY"}
    tokens = {"success": True, "data": {"quota_display_type": "TOKENS"}}
    relay.reply_next(STATUS, Reply(200, tokens))
    with pytest.raises(MalformedResponse, match="not as money"):
        await fetch(NewApiProvider(), account("new-api", relay.url))


async def test_unlimited_token_is_no_cap(relay: RelayFake) -> None:
    relay.add_account(API_KEY, granted=100000000.0, used=1.0)
    snapshot = await fetch(OneApiProvider(), account("one-api", relay.url))
    assert snapshot.uncapped and snapshot.balances == {} and snapshot.is_available


def test_base_url_is_required() -> None:
    with pytest.raises(RequestRejected, match="base_url is required"):
        OneApiProvider().requests(account("one-api", None), OneApiProvider.Options())


@pytest.mark.parametrize(
    ("path", "reply", "raised", "says"),
    [
        (
            SUBSCRIPTION,
            Reply(
                200, {"error": {"message": "该令牌已过期 token expired", "type": "one_api_error"}}
            ),
            AuthError,
            "expired",
        ),
        (
            USAGE,
            Reply(
                200,
                {
                    "error": {
                        "message": "当前分组上游负载已饱和 upstream busy",
                        "type": "new_api_error",
                    }
                },
            ),
            UpstreamUnavailable,
            "busy",
        ),
        (
            SUBSCRIPTION,
            Reply(200, {"error": {"message": "too many requests", "type": "x"}}),
            RateLimited,
            "too many",
        ),
        (
            SUBSCRIPTION,
            Reply(200, {"error": "nope"}),
            MalformedResponse,
            "error is missing or not an object",
        ),
        (
            USAGE,
            Reply(200, {"object": "list", "total_usage": "1e309"}),
            MalformedResponse,
            "total_usage",
        ),
        (
            SUBSCRIPTION,
            Reply(500, {"error": {"message": "db down", "type": "x"}}),
            UpstreamUnavailable,
            "db down",
        ),
        (
            USAGE,
            Reply(401, {"error": {"message": "invalid token", "type": "x"}}),
            AuthError,
            "invalid token",
        ),
    ],
)
async def test_error_shapes(
    relay: RelayFake, path: str, reply: Reply, raised: type[CheckError], says: str
) -> None:
    relay.reply_next(path, reply)
    with pytest.raises(raised, match=says):
        await fetch(OneApiProvider(), account("one-api", relay.url))


async def test_unknown_token(relay: RelayFake) -> None:
    relay.accounts.clear()
    with pytest.raises(AuthError, match="invalid token"):
        await fetch(OneApiProvider(), account("one-api", relay.url))
