"""SiliconFlow, StepFun and Novita over loopback: their documented answers and errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

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
from balancebot.providers.novita import NovitaProvider
from balancebot.providers.siliconflow import SiliconFlowProvider
from balancebot.providers.stepfun import StepFunProvider
from balancebot.testing import novita, siliconflow, stepfun
from balancebot.testing.fakeapi import FakeAPI, Reply

from .conftest import API_KEY
from .providers_util import account, fetch


@pytest.fixture
async def silicon() -> AsyncIterator[FakeAPI]:
    async with siliconflow.SiliconFlowFake() as server:
        server.add_account(API_KEY)
        yield server


async def test_siliconflow_balance(silicon: FakeAPI) -> None:
    snapshot = await fetch(SiliconFlowProvider(), account("siliconflow", silicon.url))
    assert snapshot.balances == {
        "CNY": CurrencyBalance(Decimal("88.88"), Decimal("0.88"), Decimal("88.00"))
    }
    com = await fetch(SiliconFlowProvider(), account("sf", silicon.url, region="com"))
    assert set(com.balances) == {"USD"} and com.provider == "sf"


@pytest.mark.parametrize(
    ("reply", "raised", "says"),
    [
        (Reply(401, b'"Invalid token"'), AuthError, "HTTP 401"),
        (
            Reply(
                200, {"code": 30001, "message": "Invalid API key", "status": False, "data": None}
            ),
            AuthError,
            "30001",
        ),
        (
            Reply(200, {"code": 50000, "message": "Internal error, please retry", "status": False}),
            UpstreamUnavailable,
            "Internal",
        ),
        (
            Reply(200, {"code": 20015, "message": "Bad request", "status": False}),
            RequestRejected,
            "20015",
        ),
        (
            Reply(200, {"message": "OK", "status": True, "data": {}}),
            MalformedResponse,
            "code is missing",
        ),
        (
            Reply(
                200,
                {
                    "code": 20000,
                    "data": {"balance": "1", "chargeBalance": "1", "totalBalance": "1_000"},
                },
            ),
            MalformedResponse,
            "totalBalance",
        ),
        (Reply(429, {"message": "Too many requests"}), RateLimited, "Too many"),
        (Reply(503, b"<html>busy</html>"), UpstreamUnavailable, "HTTP 503"),
    ],
)
async def test_siliconflow_errors(
    silicon: FakeAPI, reply: Reply, raised: type[CheckError], says: str
) -> None:
    silicon.reply_next(siliconflow.PATH, reply)
    with pytest.raises(raised, match=says):
        await fetch(SiliconFlowProvider(), account("siliconflow", silicon.url))


async def test_unknown_key_at_siliconflow(silicon: FakeAPI) -> None:
    silicon.accounts.clear()
    with pytest.raises(AuthError):
        await fetch(SiliconFlowProvider(), account("siliconflow", silicon.url))


async def test_stepfun_prepaid_and_postpaid() -> None:
    async with stepfun.StepFunFake() as fake:
        fake.add_account(API_KEY, cash=1.5, voucher=26.0)
        snapshot = await fetch(StepFunProvider(), account("stepfun", fake.url))
        assert snapshot.balances["CNY"] == CurrencyBalance(
            Decimal("27.5"), Decimal("26.0"), Decimal("1.5")
        )
        assert snapshot.is_available
        fake.add_account(API_KEY, cash=-5.0, voucher=0.0, type="postpaid")
        owing = await fetch(StepFunProvider(), account("stepfun", fake.url, region="ai"))
        assert owing.balances["USD"].debt == Decimal(5) and owing.is_available
        fake.reply_next(stepfun.PATH, Reply(200, {"object": "error", "balance": 1}))
        with pytest.raises(MalformedResponse, match="not an account"):
            await fetch(StepFunProvider(), account("stepfun", fake.url))
        fake.reply_next(stepfun.PATH, Reply(401, {"error": {"message": "invalid api key"}}))
        with pytest.raises(AuthError, match="invalid api key"):
            await fetch(StepFunProvider(), account("stepfun", fake.url))


async def test_novita_in_ten_thousandths_of_a_dollar() -> None:
    async with novita.NovitaFake() as fake:
        fake.add_account(API_KEY, cash=812345, credit=200000)
        snapshot = await fetch(NovitaProvider(), account("novita", fake.url))
        assert snapshot.balances["USD"] == CurrencyBalance(
            Decimal("101.2345"), Decimal("20"), Decimal("81.2345")
        )
        bad: list[Any] = [
            (Reply(200, {"availableBalance": 5}), MalformedResponse, "creditLimit"),
            (
                Reply(200, {**novita._detail({}), "cashBalance": "8e5"}),
                MalformedResponse,
                "cashBalance",
            ),
            (Reply(403, {"message": "key is not allowed"}), AuthError, "not allowed"),
            (Reply(500, {"message": "oops"}), UpstreamUnavailable, "oops"),
        ]
        for reply, raised, says in bad:
            fake.reply_next(novita.PATH, reply)
            with pytest.raises(raised, match=says):
                await fetch(NovitaProvider(), account("novita", fake.url))
