"""Venice over loopback: prepaid USD, `canConsume` as availability, the admin-key 401."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from balancebot.errors import AuthError, CheckError, MalformedResponse, RateLimited
from balancebot.models import CurrencyBalance
from balancebot.providers.venice import VeniceProvider
from balancebot.testing.fakeapi import Reply
from balancebot.testing.venice import PATH, VeniceFake

from .conftest import API_KEY
from .providers_util import account, fetch, refused


@pytest.fixture
async def fake() -> AsyncIterator[VeniceFake]:
    async with VeniceFake() as server:
        yield server


async def test_prepaid_usd_and_the_request(fake: VeniceFake) -> None:
    fake.add_account(API_KEY, usd=25.5)
    snapshot = await fetch(VeniceProvider(), account("venice", fake.url))
    assert snapshot.is_available
    assert snapshot.balances == {
        "USD": CurrencyBalance(Decimal("25.5"), Decimal(0), Decimal("25.5"))
    }
    method, path, headers = fake.requests[0]
    assert (method, path, headers["Authorization"]) == ("GET", PATH, f"Bearer {API_KEY}")


async def test_low_balance_is_a_balance_not_an_error(fake: VeniceFake) -> None:
    fake.add_account(API_KEY, usd=0.42)
    snapshot = await fetch(VeniceProvider(), account("venice", fake.url))
    assert snapshot.balances["USD"].total == Decimal("0.42") and snapshot.is_available


async def test_can_consume_false_is_unavailable(fake: VeniceFake) -> None:
    fake.add_account(API_KEY, usd=0, diem=0)
    snapshot = await fetch(VeniceProvider(), account("venice", fake.url))
    assert not snapshot.is_available and snapshot.balances["USD"].total == 0


async def test_diem_keeps_the_account_available_with_no_usd(fake: VeniceFake) -> None:
    fake.add_account(API_KEY, usd=0, diem=90.5)
    snapshot = await fetch(VeniceProvider(), account("venice", fake.url))
    assert snapshot.is_available and snapshot.balances["USD"].total == 0


async def test_an_inference_key_is_told_an_admin_key_is_needed(fake: VeniceFake) -> None:
    fake.add_account(API_KEY, admin=False)
    await refused(
        VeniceProvider(), account("venice", fake.url), AuthError, "needs a Venice admin key"
    )


async def test_an_unknown_key(fake: VeniceFake) -> None:
    error = await refused(
        VeniceProvider(), account("venice", fake.url), AuthError, "Authentication failed"
    )
    assert "admin key" in error.message


@pytest.mark.parametrize(
    ("reply", "raised", "says"),
    [
        (Reply(403, {"error": f"key {API_KEY} is not allowed"}), AuthError, "admin key"),
        (
            Reply(429, {"error": "Rate limit exceeded"}, {"Retry-After": "7"}),
            RateLimited,
            "Rate limit",
        ),
        (Reply(200, {"canConsume": True, "balances": {"usd": "lots"}}), MalformedResponse, "usd"),
        (Reply(200, {"canConsume": True, "balances": {"usd": -3}}), MalformedResponse, "negative"),
        (Reply(200, {"canConsume": True, "balances": {"diem": 1}}), MalformedResponse, "usd"),
        (
            Reply(200, {"canConsume": "yes", "balances": {"usd": 1}}),
            MalformedResponse,
            "canConsume",
        ),
        (Reply(200, {"canConsume": True}), MalformedResponse, "balances is missing"),
        (
            Reply(200, b'{"canConsume": true, "balances": {"usd": 1e400}}'),
            MalformedResponse,
            "range",
        ),
        (Reply(200, b"<html>maintenance</html>"), MalformedResponse, "not JSON"),
    ],
)
async def test_errors_are_never_a_balance(
    fake: VeniceFake, reply: Reply, raised: type[CheckError], says: str
) -> None:
    fake.add_account(API_KEY)
    fake.reply_next(PATH, reply)
    await refused(VeniceProvider(), account("venice", fake.url), raised, says)


def test_the_default_host() -> None:
    (request,) = VeniceProvider().requests(account("venice", None), VeniceProvider.Options())
    assert request.url == "https://api.venice.ai/api/v1/billing/balance"
