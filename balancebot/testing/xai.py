"""A loopback xAI Management API prepaid balance: the ledger in string USD cents
(`"-1000"` is 10.00 USD left), teams by id, `{"code", "error"}` error bodies."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .fakeapi import FakeAPI, Reply

PATH = "/v1/billing/teams/{team_id}/prepaid/balance"


def path(team_id: str) -> str:
    return PATH.format(team_id=team_id)


def _balance(account: dict[str, Any]) -> dict[str, Any]:
    """Top-ups are negative entries, spend positive; `total` is their sum."""
    entries = [("PURCHASE", -cents) for cents in account.get("top_ups", [1000])]
    if account.get("spent"):
        entries.append(("SPEND", account["spent"]))
    changes = [{"changeOrigin": kind, "amount": {"val": str(val)}} for kind, val in entries]
    return {"changes": changes, "total": {"val": str(sum(val for _, val in entries))}}


class XaiFake(FakeAPI):
    """Keys added with `team="..."` (default `team-1`) and `management=False` for an
    inference key; a team id other than the key's gets 404."""

    def __init__(self) -> None:
        super().__init__({PATH: _balance})

    def unauthorized(self) -> Reply:
        return Reply(401, _error("Unauthenticated", "Invalid management key"))

    async def _handle(self, request: web.Request) -> web.Response:
        account = self.accounts.get(self.key_of(request))
        if account is not None and not self.script[PATH]:
            if not account.get("management", True):
                refused = _error("Permission denied", "Inference keys cannot use this API")
                self.reply_next(PATH, Reply(403, refused))
            elif request.match_info["team_id"] != account.get("team", "team-1"):
                self.reply_next(PATH, Reply(404, _error("Not found", "Team not found")))
        return await super()._handle(request)


def _error(code: str, message: str) -> dict[str, str]:
    return {"code": code, "error": message}
