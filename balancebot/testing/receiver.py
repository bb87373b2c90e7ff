"""A loopback receiver for the webhook and apprise notifiers' tests.

It answers as the real services do:
- `/hook/<name>`: any HTTP receiver (balancebot's webhook, apprise's `json://`, `form://`);
  records method, headers and body, answers 200.
- Gotify: `POST /message` with `X-Gotify-Key` (an application token); JSON
  `{"title", "message", "priority"}`; an unknown token gets Gotify's 401 JSON.
- ntfy: `POST /` with a JSON body naming the `topic` (ntfy's "publish as JSON"); with
  `ntfy_users` set, HTTP basic auth is required, refused as ntfy does (401, code 40101).
- Apprise API (v1): `POST /notify/<key>`, a form with `title`, `body`, `type`.
`faults` are answered first, one per request, whatever the route. Hostile receivers for the
delivery engine's tests: `stalls` requests (the next ones) are answered 200 with a body
dripped one byte every `drip` seconds, forever; `gate`, when set, holds every request until
it is set. `stalled` is set once a stalled request is being dripped, `held` once a request
waits at the gate, `delivered` once a request is recorded.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..httpserver import LoopbackServer


@dataclass
class Fault:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


@dataclass(frozen=True)
class Received:
    route: str  # "hook/<name>", "gotify", "ntfy"
    method: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.received: list[Received] = []
        self.faults: deque[Fault] = deque()
        self.requests = 0
        self.gotify_tokens: set[str] = set()
        self.ntfy_users: dict[str, str] = {}
        self.stalls = 0
        self.drip = 5.0
        self.stalled = asyncio.Event()
        self.gate: asyncio.Event | None = None
        self.waiting = 0  # requests held at the gate now
        self.held = asyncio.Event()
        self.delivered = asyncio.Event()
        self.app.router.add_route("*", "/hook/{name}", self._hook)
        self.app.router.add_post("/message", self._gotify)
        self.app.router.add_post("/", self._ntfy)
        self.app.router.add_post("/notify/{key}", self._apprise_api)

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    def on(self, route: str) -> list[Received]:
        return [r for r in self.received if r.route == route]

    async def _take(
        self, route: str, request: web.Request
    ) -> web.Response | web.StreamResponse | None:
        self.requests += 1
        if self.stalls:
            self.stalls -= 1
            return await self._stall(request)
        if self.gate is not None:
            self.waiting += 1
            self.held.set()
            try:
                await self.gate.wait()
            finally:
                self.waiting -= 1
        if self.faults:
            fault = self.faults.popleft()
            return web.Response(status=fault.status, headers=fault.headers, text=fault.body)
        body = await request.read()
        self.received.append(Received(route, request.method, dict(request.headers), body))
        self.delivered.set()
        return None

    async def _stall(self, request: web.Request) -> web.StreamResponse:
        """200, then a byte every `drip` seconds until the client goes away."""
        await request.read()
        response = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        self.stalled.set()
        with contextlib.suppress(ConnectionError):
            while True:
                await response.write(b".")
                await asyncio.sleep(self.drip)
        return response

    async def _hook(self, request: web.Request) -> web.StreamResponse:
        return await self._take(f"hook/{request.match_info['name']}", request) or web.Response(
            text="ok"
        )

    async def _apprise_api(self, request: web.Request) -> web.StreamResponse:
        answer = await self._take(f"apprise-api/{request.match_info['key']}", request)
        return answer or web.json_response({"success": True})

    async def _gotify(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("X-Gotify-Key") not in self.gotify_tokens:
            self.requests += 1
            return web.json_response(
                {
                    "error": "Unauthorized",
                    "errorCode": 401,
                    "errorDescription": "you need to provide a valid access token or user "
                    "credentials to access this api",
                },
                status=401,
            )
        answer = await self._take("gotify", request)
        if answer is not None:
            return answer
        message = self.received[-1].json()
        if not isinstance(message.get("message"), str) or not message["message"]:
            self.received.pop()
            return web.json_response({"error": "Bad Request", "errorCode": 400}, status=400)
        return web.json_response({"id": len(self.received), **message})

    async def _ntfy(self, request: web.Request) -> web.StreamResponse:
        if self.ntfy_users and not self._ntfy_authorized(request.headers.get("Authorization")):
            self.requests += 1
            return web.json_response(
                {"code": 40101, "http": 401, "error": "unauthorized"}, status=401
            )
        answer = await self._take("ntfy", request)
        if answer is not None:
            return answer
        message = self.received[-1].json()
        if not isinstance(message.get("topic"), str):
            self.received.pop()
            error = {"code": 40009, "http": 400, "error": "invalid topic"}
            return web.json_response(error, status=400)
        return web.json_response({"id": "x1", "event": "message", **message})

    def _ntfy_authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return self.ntfy_users.get(user) == password
