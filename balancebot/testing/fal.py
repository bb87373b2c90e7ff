"""A loopback fal `/v1/account/billing`: the key as `Authorization: Key ...`, the credits
only with `expand=credits`, FastAPI's `{"detail": "..."}` errors, 403 for API-scope keys."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .fakeapi import FakeAPI, Reply

PATH = "/v1/account/billing"


def _billing(account: dict[str, Any]) -> dict[str, Any]:
    return {
        "username": account.get("username", "acme"),
        "credits": {
            "current_balance": account.get("balance", 42.5),
            "currency": account.get("currency", "USD"),
        },
    }


class FalFake(FakeAPI):
    """Keys added with `admin=False` are API-scope (inference) keys."""

    def __init__(self) -> None:
        super().__init__({PATH: _billing})

    def key_of(self, request: web.Request) -> str:
        return request.headers.get("Authorization", "").removeprefix("Key ")

    def unauthorized(self) -> Reply:
        return Reply(401, {"detail": "Invalid API key"})

    async def _handle(self, request: web.Request) -> web.Response:
        account = self.accounts.get(self.key_of(request))
        if account is not None and not self.script[PATH]:
            if not account.get("admin", True):
                forbidden = {"detail": "This endpoint requires an Admin API key"}
                self.reply_next(PATH, Reply(403, forbidden))
            elif request.query.get("expand") != "credits":  # no credits unless asked for
                self.reply_next(PATH, Reply(200, {"username": account.get("username", "acme")}))
        return await super()._handle(request)
