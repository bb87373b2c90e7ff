"""At most a bounded amount of any answer's body, decompressed here, for every outgoing call.

A receiver answering with a 300 MiB body, or 400 KiB of gzip that inflates to 400 MiB,
must not cost the daemon memory: balancebot reads a few KiB of an error answer (its
status says enough) and at most `limit` bytes of a successful one. The body is taken off
the wire undecoded and inflated here with a bound on the output (`zlib`'s `max_length`),
since a library's decoder inflates each network chunk whole (64 KiB of gzip can be 64 MiB).
Only gzip and deflate are asked for and read; a body in another coding counts as empty.
Once the cap is reached the connection is dropped, not drained.

`event_hooks` (`sync_event_hooks`) plugs this into any httpx client (the webhook notifier,
the heartbeat, python-telegram-bot's `HTTPXRequest`); `CappedBody` is the decoder, shared
with the aiohttp response class the Slack notifier gives slack-sdk and the body requests
hands apprise's plugins.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx

ERROR_BODY_BYTES = 16 * 1024
"""Of an answer that is not a success: enough for any error message."""
ACCEPT_ENCODING = "gzip, deflate"
"""The codings `CappedBody` can inflate with a bound; nothing else is asked for."""


class CappedBody:
    """A body decoded as it arrives, keeping at most `limit` bytes of content and taking
    at most about twice that (plus one network chunk) off the wire."""

    def __init__(self, coding: str, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.raw = 0  # bytes taken off the wire, still encoded
        self.unreadable = False  # an unknown coding, or a stream that does not inflate
        self._coding = coding.strip().lower()
        self._inflate: Any = None
        if self._coding in ("gzip", "x-gzip"):
            self._inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self._coding == "deflate":
            self._inflate = zlib.decompressobj()
        elif self._coding not in ("", "identity"):
            self.unreadable = True

    def feed(self, chunk: bytes) -> bool:
        """Take one chunk off the wire; False once no more should be read."""
        first = self.raw == 0
        self.raw += len(chunk)
        if self.unreadable:
            return False
        room = self.limit - len(self.data)
        if room > 0 and self._inflate is None:
            self.data += chunk[:room]
        elif room > 0:
            try:
                self.data += self._inflate.decompress(chunk, room)  # never more than room
            except zlib.error:
                if not (first and self._coding == "deflate"):
                    return self._give_up()
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as sent
                try:
                    self.data += self._inflate.decompress(chunk, room)
                except zlib.error:
                    return self._give_up()
        # a stream that decodes to little (padding, bytes after the end) is cut too
        return len(self.data) < self.limit and self.raw < 2 * self.limit + 1024

    def _give_up(self) -> bool:
        self.unreadable = True
        self.data.clear()
        return False

    @property
    def content(self) -> bytes:
        return bytes(self.data)


class _CappedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """Stands in for a response's stream: the raw body through a `CappedBody`, its content
    passed on as it is decoded (a reader can keep its own deadline between pieces)."""

    def __init__(self, inner: Any, body: CappedBody) -> None:
        self._inner = inner
        self.body = body
        self._given = 0

    def _new(self) -> bytes:
        piece = bytes(self.body.data[self._given :])
        self._given = len(self.body.data)
        return piece

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            more = self.body.feed(chunk)
            if piece := self._new():
                yield piece
            if not more:
                break

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            more = self.body.feed(chunk)
            if piece := self._new():
                yield piece
            if not more:
                break

    def close(self) -> None:
        self._inner.close()  # unread: the connection is dropped, not drained

    async def aclose(self) -> None:
        await self._inner.aclose()


def _ask(request: httpx.Request) -> None:
    request.headers["Accept-Encoding"] = ACCEPT_ENCODING


def _cap(response: httpx.Response, limit: int, error_limit: int) -> None:
    coding = response.headers.pop("content-encoding", "")  # decoded here, not by httpx
    size = limit if response.is_success else min(limit, error_limit)
    response.stream = _CappedStream(response.stream, CappedBody(coding, size))


def event_hooks(
    limit: int, error_limit: int = ERROR_BODY_BYTES
) -> dict[str, list[Callable[[Any], Awaitable[None]]]]:
    """For `httpx.AsyncClient(event_hooks=...)`: every answer's body capped at `limit`
    bytes of content (`error_limit` when it is not a 2xx), decoded here."""

    async def ask(request: httpx.Request) -> None:
        _ask(request)

    async def cap(response: httpx.Response) -> None:
        _cap(response, limit, error_limit)

    return {"request": [ask], "response": [cap]}


def sync_event_hooks(
    limit: int, error_limit: int = ERROR_BODY_BYTES
) -> dict[str, list[Callable[[Any], None]]]:
    """The same for a synchronous `httpx.Client`."""
    return {"request": [_ask], "response": [lambda response: _cap(response, limit, error_limit)]}


def snippet(text: str, size: int = 200) -> str:
    """The start of an answer's text for a one-line message (a body can be anything)."""
    text = " ".join(text.split())
    return text if len(text) <= size else text[: size - 1] + "…"
