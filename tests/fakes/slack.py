"""A fake Slack: Web API methods under `/api/`, incoming webhooks under `/hooks/`.

Web API answers are HTTP 200 with `{"ok": false, "error": ...}` on failure, except rate
limits: HTTP 429 with `Retry-After` and `{"ok": false, "error": "ratelimited"}`. Webhooks
answer with plain-text bodies (`ok`, `invalid_payload`, `channel_not_found`, ...).
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from balancebot.clock import Clock, SystemClock
from balancebot.loopback import LoopbackServer


@dataclass
class SlackFault:
    error: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class FakeSlack(LoopbackServer):
    def __init__(self, bot_token: str, clock: Clock | None = None) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.clock = clock or SystemClock()
        self.channels: set[str] = set()
        self.not_in_channel: set[str] = set()
        self.archived: set[str] = set()
        self.hooks: dict[str, str] = {}  # hook id → channel
        self.faults: deque[SlackFault] = deque()
        self.posted: list[dict[str, Any]] = []
        self.hook_posts: list[dict[str, Any]] = []
        self.rate_limited = 0
        self._last_post: dict[str, datetime] = {}
        self._ts = 0
        self.app.router.add_post("/api/{method}", self._api)
        self.app.router.add_post("/hooks/{hook}", self._hook)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def hook_url(self, hook: str) -> str:
        return f"{self.url}/hooks/{hook}"

    @staticmethod
    def fail(error: str, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        return web.json_response({"ok": False, "error": error}, status=status, headers=headers)

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            data: dict[str, Any] = await request.json()
            return data
        form = await request.post()
        return {k: v for k, v in form.items()}

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        auth = request.headers.get("Authorization", "")
        if not auth:
            return self.fail("not_authed")
        if auth != f"Bearer {self.bot_token}":
            return self.fail("invalid_auth")
        body = await self._body(request)
        if method == "auth.test":
            return web.json_response(
                {
                    "ok": True,
                    "url": "https://example.slack.com/",
                    "team": "T",
                    "user": "balancebot",
                    "team_id": "T1",
                    "user_id": "U1",
                    "bot_id": "B1",
                }
            )
        if method == "chat.postMessage":
            return self._post_message(body)
        return self.fail("unknown_method", status=404)

    def _post_message(self, body: dict[str, Any]) -> web.Response:
        if self.faults:
            fault = self.faults.popleft()
            return self.fail(fault.error, fault.status, fault.headers)
        channel = str(body.get("channel", ""))
        if channel in self.archived:
            return self.fail("is_archived")
        if channel in self.not_in_channel:
            return self.fail("not_in_channel")
        if channel not in self.channels:
            return self.fail("channel_not_found")
        if not body.get("text") and not body.get("blocks"):
            return self.fail("no_text")
        now = self.clock.now()
        last = self._last_post.get(channel)
        if last is not None and (now - last).total_seconds() < 1.0:
            self.rate_limited += 1
            return self.fail("ratelimited", 429, {"Retry-After": "1"})
        self._last_post[channel] = now
        blocks = body.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        self.posted.append({"channel": channel, "text": body.get("text"), "blocks": blocks})
        self._ts += 1
        ts = f"1700000000.{self._ts:06d}"
        return web.json_response(
            {
                "ok": True,
                "channel": channel,
                "ts": ts,
                "message": {"type": "message", "text": body.get("text"), "ts": ts},
            }
        )

    async def _hook(self, request: web.Request) -> web.Response:
        hook = request.match_info["hook"]
        if self.faults:
            fault = self.faults.popleft()
            return web.Response(status=fault.status, text=fault.error, headers=fault.headers)
        if hook not in self.hooks:
            return web.Response(status=404, text="no_service")
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return web.Response(status=400, text="invalid_payload")
        self.hook_posts.append({"hook": hook, **body})
        return web.Response(status=200, text="ok")
