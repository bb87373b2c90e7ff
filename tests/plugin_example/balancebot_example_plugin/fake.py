"""Loopback fakes of the Acme balance API and the Acme Chat service, for tests.

Built on `balancebot.testing`, the helpers balancebot ships for plugin authors: `FakeAPI`
answers a provider's documented body per key; `LoopbackServer` is a bare aiohttp server
on a free loopback port. Point the real code at `fake.url` as its base URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web

from balancebot.httpserver import LoopbackServer
from balancebot.testing.fakeapi import FakeAPI

CREDITS = "/v2/orgs/{org}/credits"
MAX_POLL = 30.0  # seconds an /api/updates call is held at most


def _credits(account: dict[str, Any]) -> dict[str, Any]:
    return {
        "org": account.get("org", "org-1"),
        "status": account.get("status", "active"),
        "credits": [
            {"currency": currency, "remaining": remaining, "granted": "0", "purchased": remaining}
            for currency, remaining in account.get("credits", {"EUR": "100.00"}).items()
        ],
    }


class AcmeFake(FakeAPI):
    """`add_account(key, org="org-1", credits={"EUR": "3.00"}, status="active")`."""

    def __init__(self) -> None:
        super().__init__({CREDITS: _credits})

    def key_of(self, request: web.Request) -> str:
        return request.headers.get("X-Acme-Key", "")


class AcmeChatFake(LoopbackServer):
    """Channels, a token, what was posted (`sent`) and what people typed (`say`)."""

    def __init__(self, token: str, channels: tuple[str, ...]) -> None:
        super().__init__()
        self.token = token
        self.channels = channels
        self.sent: list[dict[str, Any]] = []
        self._updates: list[dict[str, Any]] = []
        self._confirmed = 0  # polling past an update confirms it: it is never sent again
        self._changed = asyncio.Condition()
        self.app.router.add_post("/api/messages", self._post)
        self.app.router.add_get("/api/updates", self._poll)

    async def say(self, channel: str, user: str, text: str) -> int:
        """A person types `text` in `channel`; returns the update's id."""
        async with self._changed:
            number = len(self._updates) + 1
            self._updates.append({"id": number, "channel": channel, "user": user, "text": text})
            self._changed.notify_all()
            return number

    async def wait_sent(
        self, match: Callable[[dict[str, Any]], bool], within: float = 20.0
    ) -> dict[str, Any]:
        """The first posted message `match` accepts, waiting for it if need be."""
        async with asyncio.timeout(within), self._changed:
            while True:
                for message in self.sent:
                    if match(message):
                        return message
                await self._changed.wait()

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    async def _post(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return web.json_response({"error": "invalid token"}, status=401)
        message = await request.json()
        if message.get("channel") not in self.channels:
            return web.json_response({"error": "unknown channel"}, status=404)
        async with self._changed:
            self.sent.append(message)
            self._changed.notify_all()
        return web.json_response({"ok": True})

    async def _poll(self, request: web.Request) -> web.Response:
        """Long polling: unconfirmed updates after `after`, held up to `timeout` seconds
        until one comes."""
        if not self._authorized(request):
            return web.json_response({"error": "invalid token"}, status=401)
        self._confirmed = max(self._confirmed, int(request.query.get("after", "0")))
        wait = min(MAX_POLL, float(request.query.get("timeout", "0")))
        async with self._changed:
            try:
                async with asyncio.timeout(wait):
                    await self._changed.wait_for(lambda: len(self._updates) > self._confirmed)
            except TimeoutError:
                pass
            return web.json_response({"updates": self._updates[self._confirmed :]})
