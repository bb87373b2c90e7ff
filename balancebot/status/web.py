"""The status page's routes on the `[http]` server: `/` (HTML) and `/api/v1/status` (JSON).

Read-only: GET only, nothing a request says changes anything. Every answer is `no-store`
and sends no referrer (a `?token=` link must not leak through one), and the page runs no
script at all (its Content-Security-Policy says so).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from aiohttp import web

from ..clock import Clock
from ..config import Config
from ..memory import Checker
from ..models import BalanceSnapshot, Silence
from ..providers.contract import provider_title
from ..store import Store
from .auth import StatusAuth
from .chart import ChartData
from .document import ReadModel, StatusDocument, as_json, load_status
from .page import CHART_DAYS, PageContext, render_page

log = logging.getLogger(__name__)

CHART_POINTS = 400  # about the chart's width: more would not show
STORE_WAIT = 5.0  # seconds a page waits for the store before showing what memory holds
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


class _TolerantHistory:
    """The store's history, or none when the store does not answer in time: the page is
    most wanted when something is wrong, so it shows what the checks remember."""

    def __init__(self, store: Store, problems: list[str]) -> None:
        self._store = store
        self.problems = problems

    async def history(self, account: str, since: datetime) -> list[BalanceSnapshot]:
        if self.problems:  # one failed read: the rest would wait as long
            return []
        try:
            async with asyncio.timeout(STORE_WAIT):
                return await self._store.history(account, since)
        except Exception as exc:  # any failure: show the page without older history
            self.problems.append(f"store: {type(exc).__name__}")
            return []


class StatusRoutes:
    def __init__(self, config: Config, model: ReadModel, store: Store, clock: Clock) -> None:
        self._config = config
        self._model = model
        self._store = store
        self._clock = clock
        self.auth = StatusAuth(config.http)
        self.checker: Checker | None = None  # with replicas: re-reads what others checked

    def reconfigure(self, config: Config) -> None:
        """A reloaded configuration's accounts (`[http]`, and so the login, stay)."""
        self._config = config

    def add_to(self, app: web.Application) -> None:
        app.router.add_get("/", self._page)
        app.router.add_get("/api/v1/status", self._json)

    async def document(self) -> tuple[StatusDocument, list[str]]:
        """The status now, and what could not be read (the store down: no silences)."""
        problems: list[str] = []
        if self._store.shared and self.checker is not None:  # another replica may have checked
            try:
                async with asyncio.timeout(STORE_WAIT):
                    await self.checker.refresh(*(a.name for a in self._config.accounts))
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
        source = _TolerantHistory(self._store, problems)
        document = await load_status(self._config, self._model, source, silences, now)
        return document, problems

    async def _page(self, request: web.Request) -> web.Response:
        if not await self.auth.allows(request):
            return self.auth.refusal()
        document, problems = await self.document()
        start = document.generated_at - timedelta(days=CHART_DAYS)
        charts = await self._charts(start, document.generated_at, problems)
        providers: dict[str, str] = {
            a.name: provider_title(self._config, a.name) for a in self._config.accounts
        }
        context = PageContext(
            self._config.zone, providers, charts, start, self.auth.token_from(request)
        )
        return web.Response(
            text=render_page(document, problems, context),
            content_type="text/html",
            charset="utf-8",
            headers={**HEADERS, "Content-Security-Policy": PAGE_POLICY},
        )

    async def _charts(
        self, start: datetime, end: datetime, problems: list[str]
    ) -> dict[str, ChartData]:
        """Each account's last 30 days, thinned by the store to what a chart can show;
        none when the store does not answer (the page says so)."""
        charts: dict[str, ChartData] = {}
        if problems:
            return charts
        try:
            async with asyncio.timeout(STORE_WAIT):
                for account in self._config.accounts:
                    name = account.name
                    history = await self._store.history(name, start, CHART_POINTS, until=end)
                    failed = await self._store.failed_checks(name, start, end, CHART_POINTS)
                    charts[name] = ChartData(history, failed, self._config.thresholds_for(name))
        except Exception as exc:  # the store's trouble is shown on the page, not raised
            problems.append(f"store: {type(exc).__name__}")
        return charts

    async def _json(self, request: web.Request) -> web.Response:
        if not await self.auth.allows(request):
            return self.auth.refusal()
        document, problems = await self.document()
        body = as_json(document)
        body["problems"] = problems
        return web.json_response(body, headers=HEADERS)
