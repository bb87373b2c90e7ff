"""A span of history summed up for the `history` tool, in the status document's wire form
(amounts as exact decimal strings, times RFC 3339 UTC): what an assistant needs to say how
spending went, without the rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from itertools import pairwise
from typing import Any

from ..models import BalanceSnapshot, CurrencyBalance
from ..spend import movement, period_spends, plain
from ..status.document import moment

Json = dict[str, Any]


def history_json(
    history: Sequence[BalanceSnapshot],
    failed: int,
    since: datetime,
    now: datetime,
    zone: tzinfo,
) -> Json:
    """Per currency: first, last, low and high readings, what was spent and topped up, and
    the spend of each local day (null: no readings reached into it)."""
    days = max(1, round((now - since) / timedelta(days=1)))
    today = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow = today + timedelta(days=1)
    currencies: Json = {}
    for currency in dict.fromkeys(c for s in history for c in s.balances):
        readings = [(s.taken_at, s.balances[currency]) for s in history if currency in s.balances]
        moves = [movement(a, b) for (_, a), (_, b) in pairwise(readings)]
        daily = period_spends(history, currency, tomorrow, timedelta(days=1), days)
        currencies[currency] = {
            "first": _reading(readings[0]),
            "last": _reading(readings[-1]),
            "low": _reading(min(readings, key=lambda r: r[1].total)),
            "high": _reading(max(readings, key=lambda r: r[1].total)),
            "spent": plain(sum((used for used, _ in moves), Decimal(0))),
            "topped_up": plain(sum((added for _, added in moves), Decimal(0))),
            "spent_per_day": [
                {
                    "date": (tomorrow - timedelta(days=days - i)).date().isoformat(),
                    "spent": None if amount is None else plain(amount),
                }
                for i, amount in enumerate(daily)
            ],
        }
    return {
        "since": moment(since),
        "until": moment(now),
        "snapshots": len(history),
        "failed_checks": failed,
        "currencies": currencies,
    }


def _reading(reading: tuple[datetime, CurrencyBalance]) -> Json:
    return {"at": moment(reading[0]), "total": plain(reading[1].total)}
