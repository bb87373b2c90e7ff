"""fal over loopback: credits in the answer's currency, `Key` auth, the admin-key 403."""

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
from balancebot.models import CurrencyBalance
from balancebot.providers.fal import FalProvider
from balancebot.testing.fakeapi import Reply
from balancebot.testing.fal import PATH, FalFake

from .conftest import API_KEY
from .providers_util import account, fetch, refused


@pytest.fixture
async def fake() -> AsyncIterator[FalFake]:
    async with FalFake() as server:
        yield server


async def test_credits_and_the_request(fake: FalFake) -> None:
    fake.add_account(API_KEY, balance=42.5)
    snapshot = await fetch(FalProvider(), account("fal", fake.url))
    assert snapshot.is_available
    assert snapshot.balances == {
        "USD": CurrencyBalance(Decimal("42.5"), Decimal(0), Decimal("42.5"))
    }
    method, path, headers = fake.requests[0]
    assert (method, path) == ("GET", "/v1/account/billing?expand=credits")
    assert headers["Authorization"] == f"Key {API_KEY}"


@pytest.mark.parametrize(
    ("balance", "code", "available"),
    [("3.10", "USD", True), (0, "USD", False), (-1.25, "USD", False), (12, "EUR", True)],
)
async def test_low_empty_owing_and_other_currencies(
    fake: FalFake, balance: object, code: str, available: bool
) -> None:
    fake.add_account(API_KEY, balance=balance, currency=code)
    snapshot = await fetch(FalProvider(), account("fal", fake.url))
    assert snapshot.balances[code].total == Decimal(str(balance))
    assert snapshot.is_available is available


async def test_an_api_scope_key_is_told_an_admin_key_is_needed(fake: FalFake) -> None:
    fake.add_account(API_KEY, admin=False)
    error = await refused(
        FalProvider(), account("fal", fake.url), AuthError, "needs a fal admin key"
    )
    assert "HTTP 403: This endpoint requires an Admin API key" in error.message


async def test_an_unknown_key(fake: FalFake) -> None:
    await refused(FalProvider(), account("fal", fake.url), AuthError, "Invalid API key")


@pytest.mark.parametrize(
    ("reply", "raised", "says"),
    [
        (Reply(401, {"detail": f"Invalid key {API_KEY}"}), AuthError, "Invalid key"),
        (
            Reply(403, {"error": {"type": "authorization_error", "message": "admin only"}}),
            AuthError,
            "admin only.*admin key",
        ),
        (
            Reply(429, {"detail": "Too many requests"}, {"Retry-After": "2"}),
            RateLimited,
            "Too many",
        ),
        (Reply(503, b"upstream connect error"), UpstreamUnavailable, "HTTP 503"),
        (Reply(200, {"username": "acme"}), MalformedResponse, "credits is missing"),
        (Reply(200, {"credits": None}), MalformedResponse, "credits is missing"),
        (
            Reply(200, {"credits": {"current_balance": 5}}),
            MalformedResponse,
            "credits.currency",
        ),
        (
            Reply(200, {"credits": {"current_balance": 5, "currency": "dollars"}}),
            MalformedResponse,
            "credits.currency",
        ),
        (
            Reply(200, {"credits": {"current_balance": "5,00", "currency": "USD"}}),
            MalformedResponse,
            "current_balance",
        ),
        (
            Reply(200, {"credits": {"current_balance": None, "currency": "USD"}}),
            MalformedResponse,
            "current_balance",
        ),
        (
            Reply(200, b'{"credits": {"current_balance": NaN, "currency": "USD"}}'),
            MalformedResponse,
            "not trustworthy",
        ),
    ],
)
async def test_errors_are_never_a_balance(
    fake: FalFake, reply: Reply, raised: type[CheckError], says: str
) -> None:
    fake.add_account(API_KEY)
    fake.reply_next(PATH, reply)
    await refused(FalProvider(), account("fal", fake.url), raised, says)


def test_the_default_host() -> None:
    (request,) = FalProvider().requests(account("fal", None), FalProvider.Options())
    assert request.url == "https://api.fal.ai/v1/account/billing?expand=credits"
