"""`/mcp` on the daemon's `[http]` server: the tools over MCP's streamable HTTP transport,
for an assistant on another machine, behind a bearer token.

The SDK's transport is an ASGI app; the daemon's server is aiohttp. A small bridge hands
each `/mcp` request to the SDK's session manager: the request as an ASGI scope and its
(already read) body, the ASGI response messages written back as aiohttp's response. It
is one path, one request at a time per connection, so the bridge stays this simple:

- The token is checked first (`hmac.compare_digest`), before any byte reaches the SDK;
  a wrong or missing one is a 401 that says nothing else.
- Answers are JSON, never event streams, and the GET stream (server-initiated messages,
  of which these tools send none) is refused with 405, as the protocol allows: every
  exchange is one POST and one answer, so the server's limits (headers and body within
  10 s, one request per connection, at most 256 connections) hold for /mcp as for
  /metrics.
- Clients of the 2025 protocol revisions hold a session (their `initialize` names the
  client, which mutes are recorded under): at most `MAX_SESSIONS` at once, each ended
  after `SESSION_IDLE` without a request. 2026 clients send one self-contained request
  at a time and hold none.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

from aiohttp import web
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from ..checks import CheckPipeline
from ..clock import Clock
from ..config import Config, Secret
from ..delivery import Dispatcher
from ..silences import release_unmuted
from ..store import Store
from .server import build_server
from .tools import McpTools

log = logging.getLogger(__name__)

PATH = "/mcp"
MAX_SESSIONS = 100
SESSION_IDLE = 600.0  # seconds
Message = MutableMapping[str, Any]


class McpEndpoint:
    """The tools at `/mcp` of an aiohttp app; `running()` around the time it serves."""

    def __init__(self, tools: McpTools, token: Secret) -> None:
        self._tools = tools
        self._token = token.get_secret_value().encode()
        server = build_server(tools)
        server.streamable_http_app(
            json_response=True,
            session_idle_timeout=SESSION_IDLE,
            max_sessions=MAX_SESSIONS,
            # the token is what keeps others out: a browser tricked by DNS rebinding into
            # calling this address has no token to send, whatever Host it sends
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self._manager: StreamableHTTPSessionManager = server.session_manager
        for chatty in ("mcp.server.streamable_http_manager", "mcp.server.streamable_http"):
            # a line per session opened and closed: a client looping would flood the log
            logging.getLogger(chatty).setLevel(logging.WARNING)

    def reconfigure(self, config: Config) -> None:
        self._tools.reconfigure(config)

    def attach(self, app: web.Application) -> None:
        app.router.add_route("*", PATH, self.handle)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with self._manager.run():
            log.info(
                "mcp: serving %s: %d account(s), mute %s",
                PATH,
                len(self._tools.accounts),
                "allowed" if self._tools.allow_mute else "off",
            )
            yield

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        token = given.strip().encode("utf-8", "replace")
        return scheme.lower() == "bearer" and hmac.compare_digest(token, self._token)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            log.debug("mcp: refused a request from %s without the token", request.remote)
            return web.json_response(
                {"error": "a valid token is required: Authorization: Bearer <[mcp] token>"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="balancebot"'},
            )
        if request.method == "GET":  # no server-initiated messages: no stream to hold open
            return web.Response(status=405, headers={"Allow": "POST, DELETE"})
        return await bridge(request, self._manager)


def scope_of(request: web.Request) -> dict[str, Any]:
    """The ASGI HTTP scope of an aiohttp request."""
    peer = request.transport.get_extra_info("peername") if request.transport else None
    sock = request.transport.get_extra_info("sockname") if request.transport else None
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": f"{request.version.major}.{request.version.minor}",
        "method": request.method,
        "scheme": request.scheme,
        "path": request.path,
        "raw_path": request.raw_path.split("?", 1)[0].encode("latin-1"),
        "query_string": request.query_string.encode("latin-1"),
        "root_path": "",
        "headers": [(name.lower(), value) for name, value in request.raw_headers],
        "client": tuple(peer[:2]) if peer else None,
        "server": tuple(sock[:2]) if sock else None,
    }


async def bridge(request: web.Request, manager: StreamableHTTPSessionManager) -> web.StreamResponse:
    """One request through the SDK's ASGI handler. The body was read already (within the
    server's body timeout); the app's `receive` gets it whole, then waits for the end of
    the exchange, which it hears as a disconnect."""
    body = await request.read()
    finished = asyncio.Event()
    delivered = False
    start: Message = {}
    response: web.StreamResponse | None = None

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal response
        if message["type"] == "http.response.start":
            start.update(message)
            return
        if message["type"] != "http.response.body" or not start:
            return
        if response is None:
            response = web.StreamResponse(status=start["status"])
            for name, value in start.get("headers", ()):
                response.headers.add(name.decode("latin-1"), value.decode("latin-1"))
            await response.prepare(request)
        await response.write(message.get("body", b""))
        if not message.get("more_body", False):
            await response.write_eof()

    try:
        await manager.handle_request(scope_of(request), receive, send)
    finally:
        finished.set()
    if response is None:  # the app answered nothing: a bug on its side, said as one
        log.error("mcp: the MCP SDK sent no response to %s %s", request.method, request.path)
        return web.Response(status=500, text="no response\n")
    return response


def daemon_endpoint(
    config: Config, store: Store, pipeline: CheckPipeline, dispatcher: Dispatcher, clock: Clock
) -> McpEndpoint:
    """The daemon's `/mcp`: the tools read its live read model, and an unmute sends what
    the mute held back at once, as chat's /unmute does. With replicas on one store, the
    accounts are read back before each call (another replica may have checked them)."""
    assert config.mcp.token is not None  # validation refuses http = true without one
    tools: McpTools

    async def refresh() -> None:
        await pipeline.refresh(*tools.accounts)

    async def unmuted() -> None:
        if await release_unmuted(store, clock.now(), pipeline.remember_told, config):
            dispatcher.wake()

    tools = McpTools(
        config, store, pipeline.memory, clock, refresh if store.shared else None, unmuted=unmuted
    )
    return McpEndpoint(tools, config.mcp.token)
