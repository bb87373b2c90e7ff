"""`balancebot history`: what the store remembers, as a table or a chart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from ..charts import CHART_POINTS, plot_history
from ..config import Config
from ..models import BalanceSnapshot
from ..plugins import provider_title
from ..rules import money
from ..store import Store


async def load_history(
    config: Config, account: str, days: int, max_points: int | None = None
) -> list[BalanceSnapshot]:
    store = await Store.open(config.store.database_url, migrate=False)  # never creates
    try:
        since = datetime.now(UTC) - timedelta(days=days)
        return await store.history(account, since, max_points=max_points)
    finally:
        await store.close()


def hourly(history: list[BalanceSnapshot]) -> list[BalanceSnapshot]:
    """The last snapshot of each hour: a readable table from minute-by-minute history."""
    by_hour: dict[datetime, BalanceSnapshot] = {}
    for snapshot in history:
        by_hour[snapshot.taken_at.replace(minute=0, second=0, microsecond=0)] = snapshot
    return list(by_hour.values())


async def history_table(config: Config, account: str, days: int) -> str:
    zone = config.zone
    rows = [("TIME", "CURRENCY", "TOTAL", "GRANTED", "TOPPED-UP", "AVAILABLE")]
    for snapshot in hourly(await load_history(config, account, days)):
        when = snapshot.taken_at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
        for currency, b in snapshot.balances.items():
            rows.append(
                (
                    when,
                    currency,
                    money(b.total),
                    money(b.granted),
                    money(b.topped_up),
                    "yes" if snapshot.is_available else "NO",
                )
            )
    if len(rows) == 1:
        return f"no balance history for {account} in the last {days} day{'s' * (days != 1)}"
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


async def history_png(config: Config, account: str, days: int) -> bytes:
    history = await load_history(config, account, days, max_points=CHART_POINTS)
    zone = config.zone
    provider = provider_title(config, account)
    return await asyncio.to_thread(
        plot_history, history, account, provider, days, zone, config.thresholds_for(account)
    )
