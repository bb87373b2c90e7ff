"""A loopback Novita `/openapi/v1/billing/balance/detail`: strings in 1/10,000 USD."""

from __future__ import annotations

from typing import Any

from .fakeapi import FakeAPI

PATH = "/openapi/v1/billing/balance/detail"


def _detail(account: dict[str, Any]) -> dict[str, Any]:
    cash, credit = account.get("cash", 800000), account.get("credit", 200000)
    return {
        "availableBalance": str(cash + credit),
        "cashBalance": str(cash),
        "creditLimit": str(credit),
        "pendingCharges": "0",
        "outstandingInvoices": "0",
    }


class NovitaFake(FakeAPI):
    def __init__(self) -> None:
        super().__init__({PATH: _detail})
