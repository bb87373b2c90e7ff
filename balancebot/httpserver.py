"""A small aiohttp server on a loopback port: the demo's simulator and the tests' fakes."""

from __future__ import annotations

import ssl
from typing import Self

from aiohttp import web


class LoopbackServer:
    def __init__(self) -> None:
        self.app = web.Application()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None
    ) -> str:
        """Serve on a free port (HTTPS with `tls`, a server-side context); returns the URL."""
        # handler_cancellation: a handler whose client went away stops, as on real servers
        self._runner = web.AppRunner(
            self.app, access_log=None, shutdown_timeout=0.1, handler_cancellation=True
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port, ssl_context=tls).start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self.url = f"{'https' if tls else 'http'}://{bound_host}:{bound_port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
