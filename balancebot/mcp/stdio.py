"""`balancebot mcp`: the tools over stdin/stdout, for an assistant's client that starts it.

No daemon runs in this process: it reads the store the daemon writes (SQLite beside a
running daemon, whose lock only keeps a second daemon off, or PostgreSQL), afresh before
each call, so its answers are the daemon's latest. It never creates or upgrades a store.
A mute it sets is a row in the store's silences, which the daemon applies as it applies a
CLI `silences add`: at once for new alerts, and an unmute's held-back alerts within 30 s.

stdout carries the protocol only: logs go to stderr, which clients keep in their logs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from ..clock import SystemClock
from ..config import Config
from ..models import AlertKey, AlertState, CheckResult
from ..store import Store
from .server import build_server
from .tools import McpTools


class StoreModel:
    """The read model as the store has it: each account's latest result, the alert states
    and the last successes, read in three queries before each tool call."""

    def __init__(self, store: Store, accounts: Sequence[str]) -> None:
        self._store = store
        self._accounts = list(accounts)
        self._latest: dict[str, CheckResult] = {}
        self._states: dict[AlertKey, AlertState] = {}
        self._successes: dict[str, datetime] = {}

    async def read(self) -> None:
        views = await self._store.account_views(dict.fromkeys(self._accounts, 1))
        self._latest = {a: view.recent[-1] for a, view in views.items() if view.recent}
        self._states = {key: s for view in views.values() for key, s in view.states.items()}
        self._successes = await self._store.last_successes(self._accounts)

    def latest(self, account: str) -> CheckResult | None:
        return self._latest.get(account)

    def recent(self, account: str) -> list[CheckResult]:
        latest = self._latest.get(account)
        return [] if latest is None else [latest]

    def states(self) -> Mapping[AlertKey, AlertState]:
        return self._states

    def last_success(self, account: str) -> datetime | None:
        return self._successes.get(account)


async def serve_stdio(config: Config, store_url: str) -> None:
    """Until the client closes stdin. `store_url` must exist (`existing_store`)."""
    store = await Store.open(store_url, migrate=False)
    try:
        clock = SystemClock()
        accounts = [a.name for a in config.accounts]
        model = StoreModel(store, accounts)
        tools = McpTools(config, store, model, clock, refresh=model.read)
        await build_server(tools).run_stdio_async()
    finally:
        await store.close()
