"""A loopback TCP proxy in front of a real server (PostgreSQL), to make it go away and come
back without touching the server: `cut()` closes every connection and refuses new ones,
`restore()` accepts again on the same port; `hold()` accepts connections and never
answers them (a server that hangs, or a network that drops everything)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Self


class TcpProxy:
    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._holding = False
        self.port = 0
        self.accepted = asyncio.Event()
        """Set as a connection is accepted (clear it to wait for the next one)."""

    async def __aenter__(self) -> Self:
        await self.restore()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.cut()

    async def restore(self) -> None:
        """Forward again (on the port of the first start)."""
        self._holding = False
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
            self.port = self._server.sockets[0].getsockname()[1]

    def hold(self) -> None:
        """From now on, accept new connections but never forward a byte of them."""
        self._holding = True

    async def cut(self) -> None:
        """Stop listening and close every connection, as a server that went away."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted.set()
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        ends = [writer]
        self._writers.add(writer)
        try:
            if self._holding:
                await reader.read()  # until the client gives up
                return
            up_reader, up_writer = await asyncio.open_connection(*self._target)
            ends.append(up_writer)
            self._writers.add(up_writer)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except OSError:
            pass
        finally:
            self._tasks.discard(task)
            for end in ends:
                self._writers.discard(end)
                end.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()  # one side ended: end the other, as the proxy's peer would see
