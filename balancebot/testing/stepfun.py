"""A loopback StepFun `/v1/accounts` (its error shapes are undocumented: OpenAI-style here)."""

from __future__ import annotations

from typing import Any

from .fakeapi import FakeAPI

PATH = "/v1/accounts"


def _account(account: dict[str, Any]) -> dict[str, Any]:
    cash, voucher = account.get("cash", 0.0), account.get("voucher", 26.0)
    return {
        "object": "account",
        "type": account.get("type", "prepaid"),
        "balance": cash + voucher,
        "total_cash_balance": cash,
        "total_voucher_balance": voucher,
    }


class StepFunFake(FakeAPI):
    def __init__(self) -> None:
        super().__init__({PATH: _account})
