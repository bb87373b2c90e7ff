"""A fake Slack: Web API methods under `/api/`, incoming webhooks under `/hooks/`,
Socket Mode (`apps.connections.open` and a WebSocket speaking the envelope protocol) and
`response_url`s under `/commands/`.

Web API answers are HTTP 200 with `{"ok": false, "error": ...}` on failure, except rate
limits: HTTP 429 with `Retry-After` and `{"ok": false, "error": "ratelimited"}`. Webhooks
answer with plain-text bodies (`ok`, `invalid_payload`, `channel_not_found`, ...).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from balancebot.clock import Clock, SystemClock
from balancebot.httpserver import LoopbackServer

from .slack_buttons import InteractiveMethods


@dataclass
class SlackFault:
    error: str
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class FakeSlack(InteractiveMethods, LoopbackServer):
    def __init__(
        self, bot_token: str, clock: Clock | None = None, app_token: str = "xapp-1-test"
    ) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.app_token = app_token
        self.connections_opened = 0
        self.opens = 0  # apps.connections.open calls, answered or not
        self.open_fault: SlackFault | None = None  # the answer to every open while set
        self.acks: dict[str, dict[str, Any] | None] = {}
        self.responses: list[dict[str, Any]] = []
        self._socket: web.WebSocketResponse | None = None
        self._connected = asyncio.Condition()
        self._acked = asyncio.Condition()
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
        self.app.router.add_get("/socket", self._websocket)
        self.app.router.add_post("/commands/{id}", self._response_url)
        self.app.router.add_post("/upload/{file_id}", self._upload)
        self.uploads: dict[str, bytes] = {}
        self.files: list[dict[str, Any]] = []
        self.app.router.add_post("/actions/{id}", self._action_response)
        self._init_interactive()

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
        if method == "apps.connections.open":
            self.opens += 1
            if (fault := self.open_fault) is not None:
                return self.fail(fault.error, fault.status, fault.headers)
            if auth != f"Bearer {self.app_token}":
                return self.fail("invalid_auth")
            ws_url = self.url.replace("http://", "ws://") + f"/socket?ticket={uuid.uuid4()}"
            return web.json_response({"ok": True, "url": ws_url})
        if auth != f"Bearer {self.bot_token}":
            return self.fail("invalid_auth")
        body = {**request.query, **await self._body(request)}
        if method == "files.getUploadURLExternal":
            file_id = f"F{len(self.uploads) + 1}"
            self.uploads[file_id] = b""
            return web.json_response(
                {"ok": True, "file_id": file_id, "upload_url": f"{self.url}/upload/{file_id}"}
            )
        if method == "files.completeUploadExternal":
            files = json.loads(body["files"])
            channel = body.get("channel_id", "")
            if channel not in self.channels:
                return self.fail("channel_not_found")
            for f in files:
                if not self.uploads.get(f["id"]):
                    return self.fail("file_upload_incomplete")
            async with self._acked:
                self.files += [
                    {
                        "id": f["id"],
                        "title": f.get("title"),
                        "channel": channel,
                        "comment": body.get("initial_comment"),
                        "data": self.uploads[f["id"]],
                    }
                    for f in files
                ]
                self._acked.notify_all()
            return web.json_response({"ok": True, "files": [{"id": f["id"]} for f in files]})
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
            return await self._post_message(body)
        return self.fail("unknown_method", status=404)

    async def _post_message(self, body: dict[str, Any]) -> web.Response:
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
        self._ts += 1
        ts = f"1700000000.{self._ts:06d}"
        async with self._acked:
            self.posted.append(
                {
                    "channel": channel,
                    "text": body.get("text"),
                    "blocks": blocks,
                    "at": time.perf_counter(),
                    "ts": ts,
                }
            )
            self._acked.notify_all()
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

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        if file_id not in self.uploads:
            return web.Response(status=404, text="not found")
        self.uploads[file_id] = await request.read()
        return web.Response(text=f"OK - {len(self.uploads[file_id])}")

    # --- Socket Mode ---------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "fake"},
                "connection_info": {"app_id": "A1"},
            }
        )
        async with self._connected:
            self._socket = ws
            self.connections_opened += 1
            self._connected.notify_all()
        async for message in ws:
            if message.type != 1:  # aiohttp.WSMsgType.TEXT
                continue
            data = json.loads(message.data)
            if "envelope_id" in data:
                async with self._acked:
                    self.acks[data["envelope_id"]] = data.get("payload")
                    self._acked.notify_all()
        return ws

    async def wait_connections(self, count: int) -> None:
        async with self._connected:
            await asyncio.wait_for(
                self._connected.wait_for(lambda: self.connections_opened >= count), 30
            )

    async def slash_command(
        self, command: str, text: str = "", user_id: str = "U1", channel_id: str = "C1"
    ) -> str:
        """Send a slash command envelope; returns its envelope id."""
        assert self._socket is not None, "no Socket Mode client connected"
        envelope_id = str(uuid.uuid4())
        await self._socket.send_json(
            {
                "envelope_id": envelope_id,
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": {
                    "token": "deprecated",
                    "team_id": "T1",
                    "team_domain": "example",
                    "channel_id": channel_id,
                    "channel_name": "ops",
                    "user_id": user_id,
                    "user_name": "someone",
                    "command": command,
                    "text": text,
                    "api_app_id": "A1",
                    "is_enterprise_install": "false",
                    "response_url": f"{self.url}/commands/{envelope_id}",
                    "trigger_id": "t1",
                },
            }
        )
        return envelope_id

    async def ack_for(self, envelope_id: str) -> dict[str, Any] | None:
        async with self._acked:
            await asyncio.wait_for(self._acked.wait_for(lambda: envelope_id in self.acks), 30)
        return self.acks[envelope_id]

    async def drop_socket(self) -> None:
        """Close the Socket Mode connection without a `disconnect` envelope (a network cut)."""
        assert self._socket is not None
        await self._socket.close()

    async def _send_envelope(self, envelope: dict[str, Any]) -> None:
        assert self._socket is not None, "no Socket Mode client connected"
        await self._socket.send_json(envelope)

    async def send_disconnect(self, reason: str = "refresh_requested") -> None:
        assert self._socket is not None
        await self._socket.send_json(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}}
        )

    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        async with self._acked:
            self.responses.append({"id": request.match_info["id"], **body})
            self._acked.notify_all()
        return web.Response(text="ok")

    async def wait_posted(self, count: int) -> None:
        async with self._acked:
            await asyncio.wait_for(self._acked.wait_for(lambda: len(self.posted) >= count), 30)

    async def wait_files(self, count: int) -> None:
        async with self._acked:
            await asyncio.wait_for(self._acked.wait_for(lambda: len(self.files) >= count), 30)

    async def wait_responses(self, count: int) -> None:
        async with self._acked:
            await asyncio.wait_for(self._acked.wait_for(lambda: len(self.responses) >= count), 30)
