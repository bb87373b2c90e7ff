"""The daemon's one small HTTP server: /metrics, /healthz, /readyz (and, when enabled,
Slack's slash-command route). Off by default; bound to 127.0.0.1 unless configured."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Callable, Mapping
from datetime import datetime

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .clock import Clock
from .config import AccountConfig, Config
from .config.values import parse_listen
from .errors import StartError
from .httpserver import LoopbackServer, ServerLimits
from .i18n import N_
from .memory import AccountMemory
from .metrics import Metrics
from .models import FrontEndStatus
from .phrases import rough_span
from .status.web import StatusRoutes
from .store import Store

log = logging.getLogger(__name__)

READY_AFTER_INTERVALS = 3


def cannot_listen(exc: OSError, host: str) -> str:
    """Why a listening socket could not be opened, and what to do."""
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve {host!r} ({exc.strerror}): use an address or a known name"
    if exc.errno == errno.EADDRINUSE:
        return "the port is already in use (another balancebot?): stop it or choose another port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this host: use one of its addresses or 0.0.0.0"
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges): choose a port above 1023"
    return f"{exc.strerror or exc}: fix [http] listen"


class OpsServer(LoopbackServer):
    def __init__(
        self, config: Config, metrics: Metrics, store: Store, memory: AccountMemory, clock: Clock
    ) -> None:
        super().__init__(ServerLimits())
        self._config = config
        self._metrics = metrics
        self._store = store
        self._memory = memory
        self._clock = clock
        self.front_ends: Callable[[], Mapping[str, FrontEndStatus]] = dict
        self.app.router.add_get("/metrics", self._scrape)
        self.app.router.add_get("/healthz", self._healthz)
        self.app.router.add_get("/readyz", self._readyz)
        self.status: StatusRoutes | None = None
        if config.http.status_page:
            self.status = StatusRoutes(config, memory, store, clock)
            self.status.add_to(self.app)

    def reconfigure(self, config: Config) -> None:
        """The accounts a reload left (`[http]` itself changes only with a restart)."""
        self._config = config
        if self.status is not None:
            self.status.reconfigure(config)

    async def serve(self) -> str:
        listen = self._config.http.listen
        host, port = parse_listen(listen)
        try:
            url = await self.start(host, port)
        except OSError as exc:
            raise StartError(f"[http] listen = {listen!r}: {cannot_listen(exc, host)}") from None
        page = " and the status page at /" if self._config.http.status_page else ""
        log.info("http: serving /metrics, /healthz, /readyz%s on %s", page, url)
        return url

    async def _scrape(self, _: web.Request) -> web.Response:
        body = generate_latest(self._metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.Response(text="ok\n")  # answering at all means the loop turns

    def _unchecked(self, account: AccountConfig, now: datetime) -> str | None:
        """Why `account` counts as unchecked for readiness, or None."""
        last = self._memory.last_success(account.name)
        if last is None:
            return f"{account.name}: no successful check yet"
        if now - last > account.check_interval * READY_AFTER_INTERVALS:
            return f"{account.name}: no successful check for {rough_span(now - last, N_)}"
        return None

    async def _learn_others_checks(self, now: datetime) -> None:
        """With replicas, another may have checked an account this one has not for a while:
        read those accounts' last successes from the store before calling them stale (each
        of three replicas sees an account's check a third of the time)."""
        if not self._store.shared:
            return
        stale = [a.name for a in self._config.accounts if self._unchecked(a, now)]
        if stale:
            with contextlib.suppress(Exception):  # the store's trouble is reported above
                found = await asyncio.wait_for(self._store.last_successes(stale), timeout=2)
                self._memory.learn_successes(found)

    async def _readyz(self, _: web.Request) -> web.Response:
        problems = []
        try:
            await asyncio.wait_for(self._store.ping(), timeout=2)
        except Exception as exc:  # any failure to reach the store means not ready
            problems.append(f"store unreachable: {type(exc).__name__}")
        problems += [p.message for p in self._store.health.problems().values()]
        now = self._clock.now()
        await self._learn_others_checks(now)
        problems += filter(None, (self._unchecked(a, now) for a in self._config.accounts))
        # a chat front-end down is shown, not fatal: checks and alerts go on without it
        chat = [f"chat {name}: {s.describe()}" for name, s in self.front_ends().items()]
        if problems:
            body = "not ready\n" + "\n".join(problems + chat) + "\n"
            return web.Response(status=503, text=body)
        return web.Response(text="ready\n" + "".join(line + "\n" for line in chat))
