"""A loopback one-api / new-api relay: the billing endpoints with an `sk-` token, new-api's
public `/api/status` with the display unit, and its `/api/user/self` for an access token
with the matching `New-Api-User` header (new-api's `{"success": false, ...}` errors)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .fakeapi import FakeAPI, Reply

SUBSCRIPTION = "/v1/dashboard/billing/subscription"
USAGE = "/v1/dashboard/billing/usage"
STATUS = "/api/status"
SELF = "/api/user/self"


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


def _self(account: dict[str, Any]) -> dict[str, Any]:
    """A user's account: `quota` is what is left, in raw quota units."""
    return {
        "success": True,
        "message": "",
        "data": {
            "id": account.get("user_id", 1),
            "username": "demo",
            "display_name": "demo",
            "role": 1,
            "status": 1,
            "group": "default",
            "quota": account.get("quota", 5_000_000),
            "used_quota": account.get("used_quota", 250_000),
            "request_count": 42,
        },
    }


class RelayFake(FakeAPI):
    """`display` is what `/api/status` says (change it to show CNY or tokens). Accounts
    added with `access=True` are users' access tokens (with their `user_id`), the others
    `sk-` tokens."""

    def __init__(self) -> None:
        self.display: dict[str, Any] = {
            "quota_per_unit": 500000,
            "quota_display_type": "USD",
            "usd_exchange_rate": 7.3,
        }
        super().__init__(
            {SUBSCRIPTION: _subscription, USAGE: _usage, STATUS: self._status, SELF: _self},
            public=(STATUS,),
        )

    def _status(self, _: dict[str, Any]) -> dict[str, Any]:
        return {"success": True, "message": "", "data": dict(self.display)}

    def unauthorized(self) -> Reply:
        """one-api answers a bad token with HTTP 401 and an OpenAI-style error."""
        error = {"message": "无效的令牌 (invalid token)", "type": "one_api_error"}
        return Reply(401, {"error": error})

    async def _handle(self, request: web.Request) -> web.Response:
        """The dashboard API's own auth: the access token, then `New-Api-User`."""
        if request.path == SELF and not self.script[SELF]:
            account = self.accounts.get(self.key_of(request))
            said = request.headers.get("New-Api-User")
            if account is None or not account.get("access"):  # an sk- token is not one
                self.reply_next(SELF, _refused("无权进行此操作，access token 无效"))
            elif said is None:
                self.reply_next(SELF, _refused("无权进行此操作，未提供 New-Api-User"))
            elif said != str(account.get("user_id", 1)):
                self.reply_next(SELF, _refused("无权进行此操作，New-Api-User 与登录用户不匹配"))
        return await super()._handle(request)


def _refused(message: str) -> Reply:
    return Reply(401, {"success": False, "message": message})
