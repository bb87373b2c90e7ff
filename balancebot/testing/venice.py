"""A loopback Venice `/api/v1/billing/balance`: JSON numbers and Venice's `{"error": "..."}`
bodies; an inference key gets the 401 an admin-only endpoint sends it."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .fakeapi import FakeAPI, Reply

PATH = "/api/v1/billing/balance"


def _balance(account: dict[str, Any]) -> dict[str, Any]:
    usd, diem = account.get("usd", 25), account.get("diem", 0)
    return {
        "canConsume": account.get("can_consume", usd > 0 or diem > 0),
        "consumptionCurrency": "DIEM" if diem > 0 else "USD",
        "balances": {"diem": diem, "usd": usd},
        "diemEpochAllocation": account.get("allocation", 0),
    }


class VeniceFake(FakeAPI):
    """Keys added with `admin=False` are inference keys."""

    def __init__(self) -> None:
        super().__init__({PATH: _balance})

    def unauthorized(self) -> Reply:
        return Reply(401, {"error": "Authentication failed"})

    async def _handle(self, request: web.Request) -> web.Response:
        account = self.accounts.get(self.key_of(request))
        if account is not None and not account.get("admin", True) and not self.script[PATH]:
            self.reply_next(PATH, Reply(401, {"error": "Unauthorized"}))
        return await super()._handle(request)
