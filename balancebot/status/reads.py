"""What the status page reads from the store, kept per account until its next check.

An account's history and chart change only when it is checked again, while the page
reloads every minute: each is read once per check, not once per reload (a hundred
accounts are 300 reads, several seconds on a busy SQLite file). Each request has one
deadline for the store: past it, the page shows what the checks remember and the charts
already read, says so, and the next reload reads on from there.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from ..config import Config
from ..models import BalanceSnapshot
from ..store import Store
from .chart import ChartData
from .document import ReadModel

CHART_POINTS = 400  # about the chart's width: more would not show
REDRAW_AFTER = timedelta(hours=1)  # an unchecked account's chart still moves with the days


class StoreReads:
    def __init__(self, config: Config, model: ReadModel, store: Store) -> None:
        self._config = config
        self._model = model
        self._store = store
        # account → (its latest check's time, read since, history)
        self._histories: dict[str, tuple[datetime | None, datetime, list[BalanceSnapshot]]] = {}
        # account → (its latest check's time, read at, chart data)
        self._charts: dict[str, tuple[datetime | None, datetime, ChartData]] = {}

    def _checked(self, account: str) -> datetime | None:
        latest = self._model.latest(account)
        return latest.taken_at if latest is not None else None

    async def history(self, account: str, since: datetime) -> list[BalanceSnapshot]:
        checked = self._checked(account)
        kept = self._histories.get(account)
        if kept is not None and kept[0] == checked and kept[1] <= since:
            return list(kept[2])
        found = await self._store.history(account, since)
        self._histories[account] = (checked, since, found)
        return list(found)

    def chart(self, account: str, now: datetime) -> ChartData | None:
        """The account's chart data as last read, while it is still current."""
        kept = self._charts.get(account)
        if kept is None or kept[0] != self._checked(account) or now - kept[1] > REDRAW_AFTER:
            return None
        return kept[2]

    async def read_chart(self, account: str, start: datetime, end: datetime) -> ChartData:
        checked = self._checked(account)
        history = await self._store.history(account, start, CHART_POINTS, until=end)
        failed = await self._store.failed_checks(account, start, end, CHART_POINTS)
        data = ChartData(history, failed, self._config.thresholds_for(account))
        self._charts[account] = (checked, end, data)
        return data

    def forget(self, accounts: set[str]) -> None:
        """Drop what is kept of accounts no longer configured."""
        for kept in (self._histories, self._charts):
            for gone in set(kept) - accounts:
                del kept[gone]


class Reading:
    """One request's reads: by one deadline, noting what could not be read."""

    def __init__(self, reads: StoreReads, deadline: float) -> None:
        self._reads = reads
        self._deadline = deadline
        self.problems: list[str] = []  # the store failed: silences and history are missing
        self.charts_missing = 0  # accounts whose chart was not read by the deadline

    async def history(self, account: str, since: datetime) -> list[BalanceSnapshot]:
        if self.problems:  # one failed read: the rest would wait as long
            return []
        try:
            async with asyncio.timeout_at(self._deadline):
                return await self._reads.history(account, since)
        except Exception as exc:  # any failure: show the page without older history
            self.problems.append(f"store: {type(exc).__name__}")
            return []

    async def charts(
        self, accounts: list[str], start: datetime, end: datetime
    ) -> dict[str, ChartData]:
        charts: dict[str, ChartData] = {}
        for account in accounts:
            kept = self._reads.chart(account, end)
            if kept is not None:
                charts[account] = kept
                continue
            if self.problems:
                self.charts_missing += 1
                continue
            try:
                async with asyncio.timeout_at(self._deadline):
                    charts[account] = await self._reads.read_chart(account, start, end)
            except TimeoutError:  # the next reload reads on from here
                self.charts_missing += 1
            except Exception as exc:  # the store's trouble is shown on the page
                self.problems.append(f"store: {type(exc).__name__}")
                self.charts_missing += 1
        return charts
