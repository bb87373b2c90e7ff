"""An optional heartbeat to a push monitor (healthchecks.io, Uptime Kuma): after every
round in which each account was checked successfully, GET or POST a URL, so that someone
is told when balancebot itself stops (or stops succeeding).

The request runs beside the checks, bounded by its timeout, and never delays them; a beat
still in flight when the next round completes is not doubled; at most 16 KiB of an
answer is read (`httpcap`). Failures are logged once
when they start and once when they end. The URL holds the monitor's token: never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

import httpx

from .config import HeartbeatConfig
from .httpcap import ERROR_BODY_BYTES, event_hooks
from .models import BalanceSnapshot, CheckResult

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(
        self,
        config: HeartbeatConfig,
        accounts: Iterable[str],
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._config = config
        self._accounts = frozenset(accounts)
        self._waiting = set(self._accounts)  # accounts still to succeed in this round
        self._http = http or httpx.AsyncClient(
            follow_redirects=True, event_hooks=event_hooks(ERROR_BODY_BYTES)
        )
        self._task: asyncio.Task[None] | None = None
        self._failing: str | None = None  # why the last beat failed, if it did
        self.sent = 0
        self.failed = 0
        self.beats = asyncio.Event()  # set after each attempt (for tests and probes)

    def observe(self, result: CheckResult) -> None:
        """Called after every check; a completed round starts a beat in the background."""
        if not isinstance(result, BalanceSnapshot):
            return
        self._waiting.discard(result.account)
        if self._waiting:
            return
        self._waiting = set(self._accounts)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._beat(), name="heartbeat")

    async def _beat(self) -> None:
        try:
            response = await self._http.request(
                self._config.method,
                self._config.url.get_secret_value(),
                timeout=self._config.timeout.total_seconds(),
            )
            problem = f"HTTP {response.status_code}" if response.status_code >= 400 else None
        except httpx.HTTPError as exc:  # the URL is in some messages: name the class only
            problem = type(exc).__name__
        if problem is None:
            self.sent += 1
            if self._failing is not None:
                log.info("heartbeat: delivered again")
        else:
            self.failed += 1
            if self._failing != problem:
                log.warning("heartbeat: the push monitor was not told: %s", problem)
        self._failing = problem
        self.beats.set()
        self.beats = asyncio.Event()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._http.aclose()
