"""`balancebot history`: what the store remembers, as a table or a chart."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import PurePath

from ..charts import CHART_POINTS, Failed, plot_history
from ..config import Config
from ..models import BalanceSnapshot, Currency
from ..providers.contract import provider_title
from ..spend import money
from ..store import Store


async def load_history(
    config: Config, account: str, days: int, max_points: int | None = None
) -> tuple[list[BalanceSnapshot], list[Failed]]:
    """The successful snapshots and, for a chart (`max_points`), when checks failed."""
    store = await Store.open(config.store.database_url, migrate=False)  # never creates
    try:
        until = datetime.now(UTC)
        since = until - timedelta(days=days)
        history = await store.history(account, since, max_points=max_points, until=until)
        failed = (
            []
            if max_points is None
            else await store.failed_checks(account, since, until, max_points)
        )
        return history, failed
    finally:
        await store.close()


@dataclass(frozen=True)
class Hour:
    """One row of the table: an hour's last snapshot of a currency, and its low and high
    (an hour that went 100 → 8 → 200 is not just "200.00")."""

    start: datetime
    last: BalanceSnapshot
    currency: Currency
    low: Decimal
    high: Decimal


def hourly(history: list[BalanceSnapshot]) -> list[Hour]:
    """Per hour and currency: the low, the high and the last snapshot, oldest first."""
    hours: dict[tuple[datetime, Currency], Hour] = {}
    for snapshot in history:
        start = snapshot.taken_at.replace(minute=0, second=0, microsecond=0)
        for currency, balance in snapshot.balances.items():
            seen = hours.get((start, currency))
            low = balance.total if seen is None else min(seen.low, balance.total)
            high = balance.total if seen is None else max(seen.high, balance.total)
            hours[(start, currency)] = Hour(start, snapshot, currency, low, high)
    return list(hours.values())


async def history_table(config: Config, account: str, days: int) -> str:
    zone = config.zone
    rows = [("TIME", "CURRENCY", "LOW", "HIGH", "LAST", "GRANTED", "TOPPED-UP", "AVAILABLE")]
    for hour in hourly((await load_history(config, account, days))[0]):
        b = hour.last.balances[hour.currency]
        rows.append(
            (
                hour.start.astimezone(zone).strftime("%Y-%m-%d %H:00 %Z"),
                hour.currency,
                money(hour.low),
                money(hour.high),
                money(b.total),
                money(b.granted),
                money(b.topped_up),
                "yes" if hour.last.is_available else "NO",
            )
        )
    if len(rows) == 1:
        return f"no balance history for {account} in the last {days} day{'s' * (days != 1)}"
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


PLOT_FORMATS = ("png", "svg", "pdf")
"""What `--plot` writes, chosen by the file's suffix: matplotlib writes these without extras."""


def plot_format(path: str) -> str:
    """The image format `path`'s suffix names, or a ValueError saying which to use: a PNG
    written into `chart.svg` opened as a broken SVG."""
    suffix = PurePath(path).suffix.lower().removeprefix(".")
    if suffix not in PLOT_FORMATS:
        raise ValueError(
            f"--plot {path}: name a .png, .svg or .pdf file (its suffix chooses the format)"
        )
    return suffix


async def history_chart(config: Config, account: str, days: int, image_format: str) -> bytes:
    """The chart of `account`'s last `days`, as `image_format` (one of PLOT_FORMATS)."""
    history, failed = await load_history(config, account, days, max_points=CHART_POINTS)
    zone = config.zone
    provider = provider_title(config, account)
    return await asyncio.to_thread(
        plot_history,
        history,
        account,
        provider,
        days,
        zone,
        config.thresholds_for(account),
        failed,
        image_format,
    )
