"""A loopback cloud API that checks every request's signature as the cloud does: it
recomputes it from what it received with the secret it knows for the access key id, and
refuses a request whose time is too far from its own clock, in the cloud's own error shape.

Its clock is `now` (the real one unless a test gives its fake clock, the one the checks
sign with), moved by `skew` to play a server whose time differs from the machine's; every
answer carries that time in its `Date` header, as the clouds' gateways do."""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, ClassVar

from aiohttp import web

from .fakeapi import FakeAPI, Reply


class SignedCloudFake(FakeAPI):
    """Accounts are added by access key id, with their `secret` (and the answer's state)."""

    path: ClassVar[str] = "/"
    answer: ClassVar[staticmethod[[dict[str, Any]], Any]]
    """The documented success body for an account's state (a `staticmethod`)."""
    authorization: ClassVar[re.Pattern[str]]
    """The cloud's Authorization header; its first group is the access key id."""

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        super().__init__({self.path: type(self).answer})
        self.skew = timedelta(0)
        self._now = now or (lambda: datetime.now(UTC))

    def server_now(self) -> datetime:
        return self._now() + self.skew

    def add_account(self, key: str, **state: Any) -> dict[str, Any]:
        """`key` is the access key id; `secret=` its secret (required)."""
        assert "secret" in state, "a signed cloud's account needs its secret"
        return super().add_account(key, **state)

    def signature(self, request: web.Request) -> re.Match[str] | None:
        return self.authorization.fullmatch(request.headers.get("Authorization", ""))

    def key_of(self, request: web.Request) -> str:
        found = self.signature(request)
        return found.group(1) if found else ""

    @abstractmethod
    def unsigned(self) -> Reply:
        """The cloud's error for a missing or garbled Authorization header."""

    @abstractmethod
    def unknown(self, key_id: str) -> Reply:
        """The cloud's error for an access key id it does not know."""

    @abstractmethod
    def refusal(
        self, request: web.Request, body: bytes, found: re.Match[str], account: dict[str, Any]
    ) -> Reply | None:
        """The cloud's error when the time or the signature is wrong, or None."""

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        found, account = self.signature(request), self.accounts.get(self.key_of(request))
        if found is None:
            refused: Reply | None = self.unsigned()
        elif account is None:
            refused = self.unknown(found.group(1))
        else:
            refused = self.refusal(request, body, found, account)
        if refused is not None:
            self.requests.append((request.method, request.path_qs, dict(request.headers)))
            response = web.Response(
                status=refused.status,
                body=refused.encoded(),
                headers={"Content-Type": "application/json", **refused.headers},
            )
        else:
            response = await super()._handle(request)
        response.headers["Date"] = format_datetime(self.server_now(), usegmt=True)
        return response
