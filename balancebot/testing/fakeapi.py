"""A loopback fake of a provider's balance API, for tests (ours and plugin authors').

A fake is this server plus, per path, a function from an account's state to the
documented answer. Answers can be scripted per path (an error status, an HTTP-200
business error, any body), and an unknown key gets the provider's documented 401.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..httpserver import LoopbackServer


@dataclass
class Reply:
    """One scripted answer: `body` is sent as JSON, or as it is when bytes."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        return self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()


Answer = Callable[[dict[str, Any]], Any]
"""The documented body for an account's state (a dict of the fake's own fields)."""


class FakeAPI(LoopbackServer):
    """Serves `answers` (path → body for the caller's account) to keys given `add_account`."""

    def __init__(self, answers: dict[str, Answer], public: tuple[str, ...] = ()) -> None:
        super().__init__()
        self._answers = answers
        self._public = public
        self.accounts: dict[str, dict[str, Any]] = {}
        self.script: defaultdict[str, deque[Reply]] = defaultdict(deque)
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        for path in answers:
            self.app.router.add_route("*", path, self._handle)

    def add_account(self, key: str, **state: Any) -> dict[str, Any]:
        self.accounts[key] = state
        return state

    def reply_next(self, path: str, *replies: Reply) -> None:
        self.script[path].extend(replies)

    def key_of(self, request: web.Request) -> str:
        """Where this API reads the key; Bearer by default."""
        return request.headers.get("Authorization", "").removeprefix("Bearer ")

    def unauthorized(self) -> Reply:
        """The OpenAI-style 401 most of these APIs send."""
        error = {"message": "Invalid Authentication", "type": "invalid_authentication_error"}
        return Reply(401, {"error": error})

    async def _handle(self, request: web.Request) -> web.Response:
        path = (
            request.match_info.route.resource.canonical if request.match_info.route.resource else ""
        )
        self.requests.append((request.method, request.path_qs, dict(request.headers)))
        scripted = self.script[path]
        if scripted:
            reply = scripted.popleft()
        else:
            account = self.accounts.get(self.key_of(request))
            if account is None and path not in self._public:
                reply = self.unauthorized()
            else:
                reply = Reply(200, self._answers[path](account or {}))
        return web.Response(
            status=reply.status,
            body=reply.encoded(),
            headers={"Content-Type": "application/json", **reply.headers},
        )
