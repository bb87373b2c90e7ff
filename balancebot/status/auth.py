"""Who may read the status page: a bearer token (header, or `?token=` for a phone's
bookmark) or basic auth against a scrypt hash; with neither configured, anyone who can
reach the address (loopback unless `[http]` says otherwise, see config/status_access.py).

Tokens and keys are compared in constant time. A password costs one scrypt (~50 ms), run
off the event loop, one at a time; a good `Authorization` header is remembered for a few
minutes by its digest, so a page refreshing every minute does not pay it each time.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import os
import time

from aiohttp import web

from ..config import HttpConfig
from ..config.status_access import verify_password

REMEMBER_SECONDS = 600.0
REMEMBERED_MOST = 64


class StatusAuth:
    def __init__(self, http: HttpConfig) -> None:
        token = http.status_token
        self._token = token.get_secret_value().encode() if token is not None else None
        self._user = http.status_user
        self._hash = http.status_password_hash
        self._hashing = asyncio.Semaphore(1)  # scrypt is memory-hungry: one at a time
        self._pepper = os.urandom(16)  # remembered headers are kept as keyed digests only
        self._good: dict[bytes, float] = {}

    @property
    def required(self) -> bool:
        return self._token is not None or self._user is not None

    def token_from(self, request: web.Request) -> str | None:
        """The token the request was let in with through the URL, for links on the page."""
        token = request.query.get("token")
        return token if token is not None and self._token_matches(token) else None

    def _token_matches(self, token: str) -> bool:
        if self._token is None:
            return False
        return hmac.compare_digest(token.encode("utf-8", "replace"), self._token)

    async def allows(self, request: web.Request) -> bool:
        if not self.required:
            return True
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and self._token_matches(value.strip()):
            return True
        if "token" in request.query and self._token_matches(request.query["token"]):
            return True
        if scheme.lower() == "basic" and self._user is not None:
            return await self._basic(header, value.strip())
        return False

    async def _basic(self, header: str, value: str) -> bool:
        try:
            user, colon, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        assert self._user is not None and self._hash is not None
        if not colon:
            return False
        digest = hmac.new(self._pepper, header.encode(), hashlib.sha256).digest()
        now = time.monotonic()
        if self._good.get(digest, 0.0) > now:
            return True
        async with self._hashing:
            good = await asyncio.to_thread(verify_password, password, self._hash)
        good = hmac.compare_digest(user.encode(), self._user.encode()) and good
        if good:
            if len(self._good) >= REMEMBERED_MOST:
                self._good = {d: t for d, t in self._good.items() if t > now}
                if len(self._good) >= REMEMBERED_MOST:
                    self._good.clear()
            self._good[digest] = now + REMEMBER_SECONDS
        return good

    def refusal(self) -> web.Response:
        """401 with a challenge the browser answers with a login form (basic auth), or
        one saying a bearer token is wanted."""
        challenge = 'Basic realm="balancebot", charset="UTF-8"' if self._user else "Bearer"
        return web.Response(
            status=401,
            text="401: this status page needs a login (see docs/status-page.md)\n",
            headers={"WWW-Authenticate": challenge, "Cache-Control": "no-store"},
        )
