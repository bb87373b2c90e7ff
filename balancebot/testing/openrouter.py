"""A loopback OpenRouter: `/api/v1/key` for any key, `/api/v1/credits` for management keys."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .fakeapi import FakeAPI, Reply

KEY, CREDITS = "/api/v1/key", "/api/v1/credits"


def _key(account: dict[str, Any]) -> dict[str, Any]:
    limit, usage = account.get("limit", 10), account.get("usage", 2.25)
    return {
        "data": {
            "label": "sk-or-v1-abc...xyz",
            "limit": limit,
            "limit_remaining": None if limit is None else limit - usage,
            "limit_reset": None,
            "usage": usage,
            "usage_daily": usage,
            "usage_weekly": usage,
            "usage_monthly": usage,
            "is_free_tier": False,
            "is_management_key": account.get("management", False),
        }
    }


def _credits(account: dict[str, Any]) -> dict[str, Any]:
    return {"data": {"total_credits": account.get("credits", 100.5), "total_usage": 25.75}}


class OpenRouterFake(FakeAPI):
    def __init__(self) -> None:
        super().__init__({KEY: _key, CREDITS: _credits})

    async def _handle(self, request: web.Request) -> web.Response:
        account = self.accounts.get(self.key_of(request))
        if request.path == CREDITS and account is not None and not account.get("management"):
            self.reply_next(CREDITS, Reply(403, _FORBIDDEN))  # inference keys are refused
        return await super()._handle(request)


_FORBIDDEN = {"error": {"code": 403, "message": "Only management keys can fetch credits"}}
