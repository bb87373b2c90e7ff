"""A loopback Moonshot / Kimi balance API (`/v1/users/me/balance`), numbers as Moonshot sends."""

from __future__ import annotations

from typing import Any

from .fakeapi import FakeAPI

PATH = "/v1/users/me/balance"


def _balance(account: dict[str, Any]) -> dict[str, Any]:
    voucher, cash = account.get("voucher", 46.58893), account.get("cash", 3.00001)
    return {
        "code": 0,
        "data": {
            "available_balance": round(voucher + cash, 5),
            "voucher_balance": voucher,
            "cash_balance": cash,
        },
        "scode": "0x0",
        "status": True,
    }


class MoonshotFake(FakeAPI):
    def __init__(self) -> None:
        super().__init__({PATH: _balance})
