"""A loopback TCP proxy in front of a real server (PostgreSQL), to fail the network between it
and its clients without touching either:

- `blackhole()` stops bytes (and closes) going either way while every socket stays open, as
  when a cable is cut or a firewall starts dropping packets; nothing tells either end, and a
  new connection is accepted and answered by nobody (a server that hangs). `heal()` delivers
  what was held back, in order, as TCP retransmission would.
- `sever()` closes the proxy's sockets to the server only, as the server's kernel does when
  its TCP keepalives go unanswered.
- `cut()` closes every socket and refuses new connections, as a server that went away;
  `restore()` accepts them again, on the same port.

    async with Proxy("127.0.0.1", 5432) as proxy:   # then connect to 127.0.0.1:proxy.port
        ...

`refused_port()` is a port where connections are refused (a service that is down), kept for
the caller until it ends, so a server can be started on it later (the service comes up).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Self


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port nothing listens on. A port found free and closed again can be taken
    by anyone (another test's server, a client's ephemeral port, even a connection to itself)
    before it is used; this one stays bound, without listening, until the block ends, and
    a server may still bind it meanwhile (both use SO_REUSEADDR; only one listens)."""
    with socket.socket() as held:
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        held.bind(("127.0.0.1", 0))
        port: int = held.getsockname()[1]
        yield port


class _End(asyncio.Protocol):
    """One socket of a proxied connection; what it receives goes to `peer`'s socket."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.peer: _End | None = None
        self.transport: asyncio.Transport | None = None
        self.held = bytearray()  # received, not yet forwarded
        self.ended = asyncio.Event()  # the far side closed; forwarded like the bytes

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.held += data
        self.proxy._forward(self)

    def eof_received(self) -> bool:
        self.ended.set()
        self.proxy._forward(self)
        return True  # keep the socket until the close is forwarded

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended.set()
        self.proxy._forward(self)

    @property
    def open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    @property
    def port(self) -> int | None:
        """This socket's local port (a server sees it as the client's: pg_stat_activity's
        `client_port` for the proxy's sockets to PostgreSQL)."""
        return None if self.transport is None else self.transport.get_extra_info("sockname")[1]


class Proxy:
    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._dials: set[asyncio.Task[None]] = set()
        self.port = 0
        self.blackholed = False
        self.links: list[tuple[_End, _End]] = []  # (client side, server side), oldest first
        self.accepted = asyncio.Event()
        """Set as a connection is accepted (clear it to wait for the next one)."""

    async def __aenter__(self) -> Self:
        await self.restore()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.cut()

    async def restore(self) -> None:
        """Accept connections: on a free port the first time, on the same one after `cut()`."""
        if self._server is None:
            loop = asyncio.get_running_loop()
            self._server = await loop.create_server(self._accept, "127.0.0.1", self.port)
            self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Refuse new connections and close every socket, as a server that went away."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in self._dials:
            task.cancel()
        await asyncio.gather(*self._dials, return_exceptions=True)
        for link in self.links:
            for end in link:
                if end.transport is not None:
                    end.transport.abort()
        self.links.clear()
        if server is not None:
            with contextlib.suppress(Exception):
                await server.wait_closed()

    def _accept(self) -> _End:
        client, server = _End(self), _End(self)
        client.peer, server.peer = server, client
        self.links.append((client, server))
        self.accepted.set()
        dial = asyncio.get_running_loop().create_task(self._dial(server))
        self._dials.add(dial)
        dial.add_done_callback(self._dials.discard)
        return client

    async def _dial(self, server: _End) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: server, *self._target)
        except OSError:
            server.ended.set()
        assert server.peer is not None
        self._forward(server.peer)
        self._forward(server)

    def _forward(self, end: _End) -> None:
        target = end.peer.transport if end.peer is not None else None
        if self.blackholed or target is None:
            return  # held until the partition heals (or the server side is dialled)
        if end.held and not target.is_closing():
            target.write(bytes(end.held))
        end.held.clear()
        if end.ended.is_set():
            target.close()

    def blackhole(self) -> None:
        """Stop forwarding both ways, on new connections too; keep every socket open."""
        self.blackholed = True

    def heal(self) -> None:
        """Forward again, starting with what was held back."""
        self.blackholed = False
        for client, server in self.links:
            self._forward(client)
            self._forward(server)

    def sever(self) -> None:
        """Close the sockets to the server (it sees the connections end); the clients' stay."""
        for _, server in self.links:
            if server.transport is not None:
                server.transport.abort()

    def server_ports(self) -> set[int]:
        """The ports of the open sockets to the server, as it sees them."""
        return {end.port for _, end in self.links if end.open and end.port is not None}

    def link(self, server_port: int) -> tuple[_End, _End]:
        """The proxied connection whose socket to the server has this port."""
        return next(link for link in self.links if link[1].port == server_port)
