"""xAI over loopback: the inverted ledger in string cents, team ids, the management key."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import pytest

from balancebot.config import Config
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
from balancebot.providers.xai import XaiProvider
from balancebot.testing.fakeapi import Reply
from balancebot.testing.xai import PATH, XaiFake, path

from .conftest import API_KEY
from .providers_util import account, fetch, refused


@pytest.fixture
async def fake() -> AsyncIterator[XaiFake]:
    async with XaiFake() as server:
        yield server


async def test_minus_1000_cents_is_ten_dollars_left(fake: XaiFake) -> None:
    fake.add_account(API_KEY, top_ups=[1000])
    snapshot = await fetch(XaiProvider(), account("xai", fake.url, team_id="team-1"))
    assert snapshot.balances == {
        "USD": CurrencyBalance(Decimal("10.00"), Decimal(0), Decimal("10.00"))
    }
    assert snapshot.is_available
    method, called, headers = fake.requests[0]
    assert (method, called) == ("GET", path("team-1"))
    assert headers["Authorization"] == f"Bearer {API_KEY}"


async def test_spend_lowers_it_and_an_empty_ledger_is_unavailable(fake: XaiFake) -> None:
    fake.add_account(API_KEY, top_ups=[1000, 2500], spent=3333)
    snapshot = await fetch(XaiProvider(), account("xai", fake.url, team_id="team-1"))
    assert snapshot.balances["USD"].total == Decimal("1.67") and snapshot.is_available
    fake.add_account(API_KEY, top_ups=[1000], spent=1000)
    empty = await fetch(XaiProvider(), account("xai", fake.url, team_id="team-1"))
    assert empty.balances["USD"].total == 0 and not empty.is_available


async def test_an_inference_key_is_told_a_management_key_is_needed(fake: XaiFake) -> None:
    fake.add_account(API_KEY, management=False)
    config = account("xai", fake.url, team_id="team-1")
    error = await refused(XaiProvider(), config, AuthError, "needs an xAI management key")
    assert "Inference keys cannot use this API" in error.message


async def test_an_unknown_key_and_another_team(fake: XaiFake) -> None:
    await refused(
        XaiProvider(), account("xai", fake.url, team_id="team-1"), AuthError, "Invalid management"
    )
    fake.add_account(API_KEY, team="team-1")
    await refused(
        XaiProvider(), account("xai", fake.url, team_id="team-2"), RequestRejected, "team_id"
    )


def _total(val: object) -> Reply:
    return Reply(200, {"changes": [], "total": {"val": val}})


@pytest.mark.parametrize(
    ("reply", "raised", "says"),
    [
        (Reply(403, {"code": "x", "error": f"bad key {API_KEY}"}), AuthError, "management key"),
        (
            Reply(429, {"code": "Too many requests", "error": "slow down"}, {"Retry-After": "1"}),
            RateLimited,
            "slow down",
        ),
        (Reply(500, {"code": "Internal", "error": "oops"}), UpstreamUnavailable, "oops"),
        (_total(-1000), MalformedResponse, "total.val is missing or not a string"),
        (_total("-10.00"), MalformedResponse, "whole number of cents"),
        (_total("-1e3"), MalformedResponse, "whole number of cents"),
        (_total(" -1000"), MalformedResponse, "whole number of cents"),
        (_total("-\u0661\u0660\u0660\u0660"), MalformedResponse, "whole number of cents"),
        (_total("1000"), MalformedResponse, "above zero is not documented"),
        (_total(None), MalformedResponse, "total.val"),
        (Reply(200, {"changes": []}), MalformedResponse, "total is missing"),
        (Reply(200, {"total": "-1000"}), MalformedResponse, "total is missing or not an object"),
    ],
)
async def test_other_shapes_are_never_a_balance(
    fake: XaiFake, reply: Reply, raised: type[CheckError], says: str
) -> None:
    fake.add_account(API_KEY)
    fake.reply_next(PATH, reply)
    await refused(XaiProvider(), account("xai", fake.url, team_id="team-1"), raised, says)


def test_the_team_id_is_required_and_checked(make_config: Callable[..., Config]) -> None:
    accounts = [
        {"name": "a", "api_key": "k", "provider": "xai"},
        {"name": "b", "api_key": "k", "provider": "xai", "options": {"team_id": "../x?y"}},
    ]
    with pytest.raises(ConfigError) as raised:
        make_config(accounts=accounts)
    problems = "\n".join(raised.value.problems)
    assert "accounts[0].options" in problems and "team_id" in problems
    assert "accounts[1].options.team_id" in problems


def test_the_default_host() -> None:
    (request,) = XaiProvider().requests(account("xai", None), XaiProvider.Options("t-1"))
    assert request.url == "https://management-api.x.ai/v1/billing/teams/t-1/prepaid/balance"
