"""A loopback TCP proxy that can partition the network: `blackhole()` stops bytes (and closes)
going either way while every socket stays open, as when a cable is cut or a firewall starts
dropping packets; nothing tells either end. `heal()` delivers what was held back, in order, as
TCP retransmission would. `sever()` closes the proxy's sockets to the server only, as the
server's kernel does when its TCP keepalives go unanswered.

    proxy = await Proxy.start("127.0.0.1", 5432)   # then connect to 127.0.0.1:proxy.port
"""

from __future__ import annotations

import asyncio
import contextlib


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
        self.port = 0
        self.blackholed = False
        self.links: list[tuple[_End, _End]] = []  # (client side, server side), oldest first

    @classmethod
    async def start(cls, host: str, port: int) -> Proxy:
        proxy = cls(host, port)
        loop = asyncio.get_running_loop()
        proxy._server = await loop.create_server(proxy._accept, "127.0.0.1", 0)
        proxy.port = proxy._server.sockets[0].getsockname()[1]
        return proxy

    def _accept(self) -> _End:
        client, server = _End(self), _End(self)
        client.peer, server.peer = server, client
        self.links.append((client, server))
        asyncio.get_running_loop().create_task(self._dial(server))
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
        """Stop forwarding both ways; keep every socket open, as a partition does."""
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

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in self.links:
            for end in link:
                if end.transport is not None:
                    end.transport.abort()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
