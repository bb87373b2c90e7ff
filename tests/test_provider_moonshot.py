"""Moonshot / Kimi over loopback: numbers parsed exactly, debt, availability, errors."""

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
from balancebot.providers.moonshot import MoonshotProvider
from balancebot.render import balance_lines
from balancebot.testing.fakeapi import Reply
from balancebot.testing.moonshot import PATH, MoonshotFake

from .conftest import API_KEY
from .providers_util import account, fetch


@pytest.fixture
async def fake() -> AsyncIterator[MoonshotFake]:
    async with MoonshotFake() as server:
        server.add_account(API_KEY)
        yield server


async def test_balance_in_the_region_currency(fake: MoonshotFake) -> None:
    snapshot = await fetch(MoonshotProvider(), account("moonshot", fake.url))
    assert snapshot.provider == "moonshot"
    assert snapshot.is_available
    assert snapshot.balances == {
        "CNY": CurrencyBalance(Decimal("49.58894"), Decimal("46.58893"), Decimal("3.00001"))
    }
    usd = await fetch(MoonshotProvider(), account("kimi", fake.url, region="ai"))
    assert set(usd.balances) == {"USD"} and usd.provider == "kimi"
    assert fake.requests[0][2]["Authorization"] == f"Bearer {API_KEY}"


async def test_debt_is_shown_and_blocks(fake: MoonshotFake) -> None:
    fake.add_account(API_KEY, voucher=0, cash=-3.5)
    snapshot = await fetch(MoonshotProvider(), account("moonshot", fake.url))
    balance = snapshot.balances["CNY"]
    assert (balance.total, balance.topped_up, balance.debt) == (
        Decimal("-3.5"),
        Decimal("-3.5"),
        Decimal("3.5"),
    )
    assert not snapshot.is_available
    assert balance_lines(snapshot) == ["CNY: -3.50 (granted 0.00, debt 3.50)"]


def test_default_hosts_by_region() -> None:
    cn = MoonshotProvider().requests(account("moonshot", None), MoonshotProvider.Options())
    ai = MoonshotProvider().requests(account("moonshot", None), MoonshotProvider.Options("ai"))
    assert cn[0].url == "https://api.moonshot.cn/v1/users/me/balance"
    assert ai[0].url == "https://api.moonshot.ai/v1/users/me/balance"


def error(message: str, type_: str) -> dict[str, object]:
    return {"error": {"message": message, "type": type_, "code": None}}


@pytest.mark.parametrize(
    ("reply", "raised", "says"),
    [
        (
            Reply(401, error("Invalid Authentication", "invalid_authentication_error")),
            AuthError,
            "Invalid Authentication",
        ),
        (
            Reply(429, error("rate limit", "rate_limit_reached_error"), {"Retry-After": "3"}),
            RateLimited,
            "rate limit",
        ),
        (Reply(500, error("server error", "server_error")), UpstreamUnavailable, "server error"),
        (
            Reply(
                200,
                {"code": 5, "status": False, "scode": "0x5", "error": {"message": "auth failed"}},
            ),
            AuthError,
            "auth failed",
        ),
        (
            Reply(200, {"code": 0, "status": True, "data": {"available_balance": "x"}}),
            MalformedResponse,
            "available_balance",
        ),
        (
            Reply(
                200,
                {
                    "code": 0,
                    "status": True,
                    "data": {"available_balance": 1, "voucher_balance": -1, "cash_balance": 2},
                },
            ),
            MalformedResponse,
            "negative",
        ),
        (Reply(200, {"code": 0, "status": True}), MalformedResponse, "data is missing"),
        (
            Reply(200, b'{"code": 0, "status": true, "data": {"available_balance": 1e99999999}}'),
            MalformedResponse,
            "out of range",
        ),
    ],
)
async def test_error_shapes(
    fake: MoonshotFake, reply: Reply, raised: type[CheckError], says: str
) -> None:
    fake.reply_next(PATH, reply)
    with pytest.raises(raised, match=says) as caught:
        await fetch(MoonshotProvider(), account("moonshot", fake.url))
    if isinstance(caught.value, RateLimited):
        assert caught.value.retry_after == 3


async def test_unknown_key(fake: MoonshotFake) -> None:
    fake.accounts.clear()
    with pytest.raises(AuthError):
        await fetch(MoonshotProvider(), account("moonshot", fake.url))
