"""The aiohttp server under the daemon's ops endpoints and Slack's HTTP mode (and, without
limits, under the demo's simulator and the tests' fakes).

With `ServerLimits` it holds up against slow or idle clients (slow-loris): a connection
must send its request's headers within `header_timeout` of being accepted and its body
within `body_timeout`, serves one request, and at most `max_connections` are open at
once; connections beyond that are closed as soon as they are accepted.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Self

from aiohttp import ClientPayloadError, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler, RequestPayloadError

log = logging.getLogger(__name__)

# what reading a request body raises for a bad Content-Encoding or a broken chunked body
UNREADABLE_BODY = (HttpProcessingError, ClientPayloadError, RequestPayloadError)


@dataclass(frozen=True)
class ServerLimits:
    max_connections: int = 256  # or half the descriptor limit, if that is lower
    header_timeout: float = 10.0  # seconds from accept to the end of the headers
    body_timeout: float = 10.0  # seconds to receive the body


class _Refuse(asyncio.Protocol):
    """For a connection over the cap: closed at once, costing one descriptor briefly."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


class _Guard:
    """The protocol factory between the listening socket and aiohttp's server."""

    def __init__(self, limits: ServerLimits) -> None:
        self.server: web.Server | None = None  # once the runner is set up
        self.limits = limits
        # never so many that the checks' own sockets could not be opened
        self.cap = min(limits.max_connections, max(16, descriptor_limit() // 2))
        self._pending: set[RequestHandler] = set()
        self.started: set[Any] = set()  # handlers past their headers (until their deadline)
        self.refused = 0
        self.peak = 0  # the most connections open at once

    def __call__(self) -> asyncio.BaseProtocol:
        assert self.server is not None
        # asyncio creates the protocols of a burst of accepts before connecting any of
        # them, so the ones created but not yet connected count too (for at most the
        # header timeout: a TLS handshake that fails never connects)
        connected = self.server.connections
        self._pending.difference_update(connected)
        if len(connected) + len(self._pending) >= self.cap:
            self.refused += 1
            return _Refuse()
        handler = self.server()
        self._pending.add(handler)
        self.peak = max(self.peak, len(connected) + len(self._pending))
        asyncio.get_running_loop().call_later(self.limits.header_timeout, self._expire, handler)
        return handler

    def _expire(self, handler: RequestHandler) -> None:
        self._pending.discard(handler)
        if handler in self.started:
            self.started.discard(handler)
        else:
            handler.force_close()  # no request line and headers in time

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        self.started.add(request.protocol)
        if request.body_exists:
            try:
                async with asyncio.timeout(self.limits.body_timeout):
                    await request.read()
            except TimeoutError:
                response: web.StreamResponse = web.Response(status=408, text="body too slow\n")
                response.force_close()
                return response
            except (
                HttpProcessingError,
                ClientPayloadError,
                RequestPayloadError,
            ) as exc:  # bad Content-Encoding
                log.debug("http: unreadable request body: %s", exc)
                response = web.Response(status=400, text="unreadable body\n")
                response.force_close()
                return response
        response = await handler(request)
        response.force_close()  # one request per connection: the header deadline covers all
        return response


class _GuardedSite(web.TCPSite):
    def __init__(self, runner: web.AppRunner, guard: _Guard, **kwargs: Any) -> None:
        super().__init__(runner, **kwargs)
        self._guard = guard

    async def start(self) -> None:
        await web.BaseSite.start(self)
        self._server = await asyncio.get_running_loop().create_server(
            self._guard,
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
        )


class LoopbackServer:
    def __init__(self, limits: ServerLimits | None = None) -> None:
        self.app = web.Application()
        self._runner: web.AppRunner | None = None
        self._guard: _Guard | None = None
        self.limits = limits
        self.url = ""

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
    ) -> str:
        """Serve on a free port (HTTPS with `tls`, a server-side context); returns the URL."""
        if self.limits is not None and self._guard is None:
            self._guard = _Guard(self.limits)
            self.app.middlewares.append(self._guard.middleware)
        # handler_cancellation: a handler whose client went away stops, as on real servers
        # with limits, no lingering: an unread body does not keep its connection open
        extra: dict[str, Any] = {"lingering_time": 0} if self.limits is not None else {}
        self._runner = web.AppRunner(
            self.app, access_log=None, shutdown_timeout=0.1, handler_cancellation=True, **extra
        )
        await self._runner.setup()
        if self._guard is not None:
            assert self._runner.server is not None
            self._guard.server = self._runner.server
            site: web.TCPSite = _GuardedSite(
                self._runner, self._guard, host=host, port=port, ssl_context=tls
            )
        else:
            site = web.TCPSite(self._runner, host, port, ssl_context=tls)
        await site.start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host  # IPv6: [::1]:9464
        self.url = f"{'https' if tls else 'http'}://{shown}:{bound_port}"
        return self.url

    @property
    def refused_connections(self) -> int:
        return self._guard.refused if self._guard is not None else 0

    @property
    def peak_connections(self) -> int:
        return self._guard.peak if self._guard is not None else 0

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def descriptor_limit() -> int:
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def raise_descriptor_limit() -> int:
    """Soft descriptor limit up to the hard one (often 1024 → 1M): a burst of idle clients
    must not leave the process unable to open a socket for its checks. Returns the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:  # some sandboxes refuse; keep what we have
            log.debug("could not raise the descriptor limit from %d: %s", soft, exc)
            return soft
        return target
    return soft


ACCEPT_ERROR = "socket.accept() out of system resource"
ACCEPT_ERROR_EVERY = 60.0  # seconds between lines about failing accepts


def quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """asyncio logs every failed accept (EMFILE) with a traceback, once a second per
    listening socket for as long as it lasts; say it once a minute, with a count."""
    previous = loop.get_exception_handler()
    last, suppressed = -ACCEPT_ERROR_EVERY, 0

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        nonlocal last, suppressed
        if context.get("message") != ACCEPT_ERROR:
            if previous is not None:
                previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        now = time.monotonic()
        if now - last < ACCEPT_ERROR_EVERY:
            suppressed += 1
            return
        log.error(
            "http: cannot accept connections: %s (%d more since the last line)",
            context.get("exception"),
            suppressed,
        )
        last, suppressed = now, 0

    loop.set_exception_handler(handle)
