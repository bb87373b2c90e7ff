"""`balancebot mcp`: the tools over stdin/stdout, for an assistant's client that starts it.

No daemon runs in this process: it reads the store the daemon writes (SQLite beside a
running daemon, whose lock only keeps a second daemon off, or PostgreSQL), afresh before
each call, so its answers are the daemon's latest. It never creates or upgrades a store.
A mute it sets is a row in the store's silences, which the daemon applies as it applies a
CLI `silences add`: at once for new alerts, and an unmute's held-back alerts within 30 s.

stdout carries the protocol only: logs go to stderr, which clients keep in their logs.
"""

from __future__ import annotations

from ..clock import SystemClock
from ..config import Config
from ..memory import AccountMemory
from ..store import Store
from .server import build_server
from .tools import McpTools


async def serve_stdio(config: Config, store_url: str) -> None:
    """Until the client closes stdin. `store_url` must exist (`existing_store`)."""
    store = await Store.open(store_url, migrate=False)
    try:
        clock = SystemClock()
        memory = AccountMemory(config)  # read before each call: what the daemon holds now

        async def refresh() -> None:
            await memory.read(store, clock)

        tools = McpTools(config, store, memory, clock, refresh=refresh)
        await build_server(tools).run_stdio_async()
    finally:
        await store.close()
