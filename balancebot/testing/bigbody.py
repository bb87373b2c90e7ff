"""A loopback HTTP/1.1 server whose every answer has an oversized body: `size` bytes made
as they are sent (a 300 MiB error page), or fixed bytes (a gzip bomb). It counts the
bytes the client let it send, so a test can tell how much of a body a client read.

    async with BigBody(status=500, size=300 << 20) as server:   # then call server.url
        ...
    server.sent   # body bytes written before the client hung up (kernel buffers included)
"""

from __future__ import annotations

import asyncio
import zlib
from typing import Self

CHUNK = 64 * 1024


def gzip_bomb(inflated: int) -> bytes:
    """gzip of `inflated` zero bytes (about 1,000 to 1 on the wire), made cheaply."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    parts = [packer.compress(zeros) for _ in range(inflated >> 20)]
    parts.append(packer.compress(bytes(inflated & ((1 << 20) - 1))))
    parts.append(packer.flush())
    return b"".join(parts)


class BigBody:
    def __init__(
        self,
        status: int = 500,
        size: int = 0,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.status = status
        self.size = size or len(body)
        self.body = body
        self.headers = headers or {}
        self.sent = 0
        self.requests = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.url = ""

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._answer, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:  # a client still reading: its answer ends here
            writer.transport.abort()
        await asyncio.gather(*self._tasks)  # each ends on its next write

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            await reader.readexactly(length)
            self.requests += 1
            fields = {"Content-Length": str(self.size), "Connection": "close", **self.headers}
            lines = [f"HTTP/1.1 {self.status} Whatever"] + [f"{k}: {v}" for k, v in fields.items()]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            await self._body(writer)
        except (OSError, asyncio.IncompleteReadError):
            pass  # the client hung up: what it read is counted
        finally:
            writer.close()
            self._writers.discard(writer)
            self._tasks.discard(task)

    async def _body(self, writer: asyncio.StreamWriter) -> None:
        filler = b"x" * CHUNK
        while self.sent < self.size:
            end = min(self.size, self.sent + CHUNK)
            chunk = self.body[self.sent : end] if self.body else filler[: end - self.sent]
            writer.write(chunk)
            await writer.drain()
            self.sent = end
