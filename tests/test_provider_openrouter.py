"""OpenRouter over loopback: key limits (capped and not), credits, the management-key 403."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from balancebot.errors import (
    AuthError,
    CheckError,
    MalformedResponse,
    RateLimited,
    UpstreamUnavailable,
)
from balancebot.providers.openrouter import OpenRouterProvider
from balancebot.render import balance_lines
from balancebot.testing.fakeapi import Reply
from balancebot.testing.openrouter import KEY, OpenRouterFake

from .conftest import API_KEY
from .providers_util import account, fetch


@pytest.fixture
async def fake() -> AsyncIterator[OpenRouterFake]:
    async with OpenRouterFake() as server:
        yield server


async def test_key_limit(fake: OpenRouterFake) -> None:
    fake.add_account(API_KEY, limit=10, usage=2.25)
    snapshot = await fetch(OpenRouterProvider(), account("openrouter", fake.url))
    usd = snapshot.balances["USD"]
    assert (usd.total, usd.limit, usd.used) == (Decimal("7.75"), Decimal(10), Decimal("2.25"))
    assert snapshot.is_available and not snapshot.uncapped
    assert balance_lines(snapshot) == ["USD: 7.75 left of a 10.00 limit"]


async def test_no_limit_is_no_cap_never_zero(fake: OpenRouterFake) -> None:
    fake.add_account(API_KEY, limit=None)
    snapshot = await fetch(OpenRouterProvider(), account("openrouter", fake.url))
    assert snapshot.uncapped and snapshot.is_available and snapshot.balances == {}
    assert balance_lines(snapshot) == ["No spending cap on this key"]


async def test_credits_with_a_management_key(fake: OpenRouterFake) -> None:
    fake.add_account(API_KEY, management=True)
    snapshot = await fetch(OpenRouterProvider(), account("openrouter", fake.url, mode="credits"))
    usd = snapshot.balances["USD"]
    assert (usd.total, usd.used, usd.limit) == (Decimal("74.75"), Decimal("25.75"), None)


async def test_credits_with_an_inference_key_says_which_key(fake: OpenRouterFake) -> None:
    fake.add_account(API_KEY)
    with pytest.raises(AuthError, match="need a management key"):
        await fetch(OpenRouterProvider(), account("openrouter", fake.url, mode="credits"))


@pytest.mark.parametrize(
    ("reply", "raised", "says"),
    [
        (
            Reply(401, {"error": {"code": 401, "message": "No auth credentials found"}}),
            AuthError,
            "No auth",
        ),
        (
            Reply(403, {"error": {"code": 403, "message": "forbidden"}}),
            AuthError,
            "wrong or revoked",
        ),
        (
            Reply(429, {"error": {"code": 429, "message": "Rate limit exceeded"}}),
            RateLimited,
            "Rate",
        ),
        (
            Reply(502, {"error": {"code": 502, "message": "upstream"}}),
            UpstreamUnavailable,
            "upstream",
        ),
        (
            Reply(200, {"data": {"limit": 5, "limit_remaining": "lots", "usage": 0}}),
            MalformedResponse,
            "limit_remaining",
        ),
        (Reply(200, {"data": {"usage": 0}}), MalformedResponse, "data.limit"),
        (Reply(200, {"error": {"message": "x"}}), MalformedResponse, "data is missing"),
    ],
)
async def test_error_shapes(
    fake: OpenRouterFake, reply: Reply, raised: type[CheckError], says: str
) -> None:
    fake.add_account(API_KEY)
    fake.reply_next(KEY, reply)
    with pytest.raises(raised, match=says):
        await fetch(OpenRouterProvider(), account("openrouter", fake.url))
