"""The status page's routes on the `[http]` server: `/` (HTML) and `/api/v1/status` (JSON).

Read-only: GET only, nothing a request says changes anything. Every answer is `no-store`
and sends no referrer (a `?token=` link must not leak through one), and the page runs no
script at all (its Content-Security-Policy says so).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta

from aiohttp import web

from ..clock import Clock
from ..config import Config
from ..memory import Checker
from ..models import Silence
from ..providers.contract import provider_title
from ..store import Store
from .auth import StatusAuth
from .document import ReadModel, StatusDocument, as_json, load_status
from .page import CHART_DAYS, PageContext, render_page
from .reads import Reading, StoreReads

log = logging.getLogger(__name__)

STORE_WAIT = 5.0  # seconds a request waits for the store before showing what memory holds
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class StatusRoutes:
    def __init__(self, config: Config, model: ReadModel, store: Store, clock: Clock) -> None:
        self._config = config
        self._model = model
        self._store = store
        self._clock = clock
        self.auth = StatusAuth(config.http)
        self._reads = StoreReads(config, model, store)
        self.checker: Checker | None = None  # with replicas: re-reads what others checked

    def reconfigure(self, config: Config) -> None:
        """A reloaded configuration's accounts (`[http]`, and so the login, stay)."""
        self._config = config

    def add_to(self, app: web.Application) -> None:
        app.router.add_get("/", self._page)
        app.router.add_get("/api/v1/status", self._json)

    async def document(self) -> tuple[StatusDocument, Reading]:
        """The status now, and what could not be read (the store down: no silences)."""
        reading = Reading(self._reads, asyncio.get_running_loop().time() + STORE_WAIT)
        problems = reading.problems
        names = [a.name for a in self._config.accounts]
        self._reads.forget(set(names))
        if self._store.shared and self.checker is not None:  # another replica may have checked
            try:
                async with asyncio.timeout(STORE_WAIT):
                    await self.checker.refresh(*names)
            except Exception as exc:  # shown on the page: what this replica knows stands
                problems.append(f"store: {type(exc).__name__}")
        now = self._clock.now()
        silences: Sequence[Silence] = []
        if not problems:
            try:
                async with asyncio.timeout(STORE_WAIT):
                    silences = await self._store.active_silences(now)
            except Exception as exc:  # the store's trouble is shown on the page, not raised
                problems.append(f"store: {type(exc).__name__}")
        document = await load_status(self._config, self._model, reading, silences, now)
        return document, reading

    async def _page(self, request: web.Request) -> web.Response:
        if not await self.auth.allows(request):
            return self.auth.refusal()
        document, reading = await self.document()
        end = document.generated_at
        start = end - timedelta(days=CHART_DAYS)
        with_balances = [a.name for a in document.accounts if a.balances]
        charts = await reading.charts(with_balances, start, end)
        providers: dict[str, str] = {
            a.name: provider_title(self._config, a.name) for a in self._config.accounts
        }
        context = PageContext(
            self._config.zone,
            providers,
            charts,
            start,
            self.auth.token_from(request),
            reading.charts_missing,
        )
        # a few hundred charts are CPU work: off the loop that runs the checks
        page = await asyncio.to_thread(render_page, document, reading.problems, context)
        return web.Response(
            text=page,
            content_type="text/html",
            charset="utf-8",
            headers={**HEADERS, "Content-Security-Policy": PAGE_POLICY},
        )

    async def _json(self, request: web.Request) -> web.Response:
        if not await self.auth.allows(request):
            return self.auth.refusal()
        document, reading = await self.document()
        body = as_json(document)
        body["problems"] = reading.problems
        return web.json_response(body, headers=HEADERS)
