"""A loopback one-api / new-api relay: the billing endpoints with an `sk-` token, and
new-api's public `/api/status` with the display unit."""

from __future__ import annotations

from typing import Any

from .fakeapi import FakeAPI, Reply

SUBSCRIPTION = "/v1/dashboard/billing/subscription"
USAGE = "/v1/dashboard/billing/usage"
STATUS = "/api/status"


def _subscription(account: dict[str, Any]) -> dict[str, Any]:
    granted = account.get("granted", 25.0)
    return {
        "object": "billing_subscription",
        "has_payment_method": True,
        "soft_limit_usd": granted,
        "hard_limit_usd": granted,
        "system_hard_limit_usd": granted,
        "access_until": 0,
    }


def _usage(account: dict[str, Any]) -> dict[str, Any]:
    return {"object": "list", "total_usage": account.get("used", 5.5) * 100}


def _status(_: dict[str, Any]) -> dict[str, Any]:
    return {
        "success": True,
        "message": "",
        "data": {"quota_per_unit": 500000, "quota_display_type": "USD", "usd_exchange_rate": 7.3},
    }


class RelayFake(FakeAPI):
    def __init__(self) -> None:
        super().__init__(
            {SUBSCRIPTION: _subscription, USAGE: _usage, STATUS: _status}, public=(STATUS,)
        )

    def unauthorized(self) -> Reply:
        """one-api answers a bad token with HTTP 401 and an OpenAI-style error."""
        error = {"message": "无效的令牌 (invalid token)", "type": "one_api_error"}
        return Reply(401, {"error": error})
