"""An HTTP transport of many one-connection pools instead of one big pool.

httpcore's pool walks every connection it holds, some of them twice over, on each request
and each release (encode/httpcore#1035, open upstream): at 50 connections a sweep of 1,000
accounts spent about 60% of its CPU in that bookkeeping. Here each connection is a pool of
its own (a lane), and each request takes the least busy lane, preferring one already
connected to the request's host, then one not connected yet: keep-alive connections are
still reused, and picking a lane costs one comparison per lane.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import httpx

_Origin = tuple[bytes, bytes, int | None]


class _Lane:
    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self.transport = httpx.AsyncHTTPTransport(
            verify=ssl_context,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )
        self.busy = 0
        self.origin: _Origin | None = None

    def affinity(self, origin: _Origin) -> int:
        """0: connected there already; 1: not connected yet; 2: would have to reconnect."""
        if self.origin == origin:
            return 0
        return 1 if self.origin is None else 2


class _ReleasingStream(httpx.AsyncByteStream):
    """The response body; closing it frees its lane for the next request."""

    def __init__(self, stream: httpx.AsyncByteStream, lane: _Lane) -> None:
        self._stream = stream
        self._lane: _Lane | None = lane

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._lane is not None:  # closing twice must not free the lane twice
                self._lane.busy -= 1
                self._lane = None


class LaneTransport(httpx.AsyncBaseTransport):
    """At most `connections` connections, like `httpx.Limits(max_connections=...)`."""

    def __init__(self, connections: int, ssl_context: ssl.SSLContext) -> None:
        self._lanes = [_Lane(ssl_context) for _ in range(max(1, connections))]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        origin = request.url.raw_scheme, request.url.raw_host, request.url.port
        lane = min(self._lanes, key=lambda lane: (lane.busy, lane.affinity(origin)))
        lane.busy += 1
        lane.origin = origin
        try:
            response = await lane.transport.handle_async_request(request)
        except BaseException:
            lane.busy -= 1
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _ReleasingStream(response.stream, lane)
        return response

    async def aclose(self) -> None:
        for lane in self._lanes:
            await lane.transport.aclose()
