"""Balances, runways and history spans as JSON-ready dicts: amounts as exact decimal
strings (`spend.plain`), times as ISO 8601 in UTC, so an assistant reads what the store
holds, not a rounding of it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from itertools import pairwise
from typing import Any

from ..commands.operations import utc_iso as iso
from ..config import RuleConfig
from ..models import BalanceSnapshot, CheckResult, Currency
from ..spend import (
    NotEnoughHistory,
    balances_json,
    movement,
    period_spends,
    plain,
    runway,
    spent,
)
from ..trends import runway_settings

Json = dict[str, Any]


def midnight(now: datetime, zone: tzinfo) -> datetime:
    """Local midnight of `now`'s day in `zone` (what "today" means in messages)."""
    return now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)


def result_json(result: CheckResult | None) -> Json:
    """The latest check of an account: its state, when, and its balances or its error."""
    if result is None:
        return {"state": "unchecked"}
    found: Json = {"checked_at": iso(result.taken_at)}
    if isinstance(result, BalanceSnapshot):
        found["state"] = "ok"
        found["is_available"] = result.is_available
        found["balances"] = balances_json(result.balances)
    else:
        found["state"] = "failed"
        found["error"] = {"kind": result.kind.value, "message": result.message}
    return found


def outlook_json(
    rules: Sequence[RuleConfig],
    history: Sequence[BalanceSnapshot],
    currency: Currency,
    now: datetime,
    zone: tzinfo,
) -> Json:
    """One currency's runway (as the runway rule and /balance work it out) and today's
    spend, in the configured time zone's day."""
    window, least = runway_settings(rules)
    found = runway(history, currency, now, window, least)
    today = plain(spent(history, currency, midnight(now, zone)))
    if isinstance(found, NotEnoughHistory):
        waiting = {
            "not_enough_history": {
                "covered_seconds": int(found.covered.total_seconds()),
                "needed_seconds": int(found.needed.total_seconds()),
            }
        }
        return {"runway": waiting, "spent_today": today}
    days = found.days
    return {
        "runway": {
            "spend_per_day": plain(found.per_day.quantize(Decimal("0.0001"))),
            "days_left": None if days is None else plain(days.quantize(Decimal("0.01"))),
            "runs_out_at": iso(found.runs_out_at),
            "based_on_seconds": int(found.basis.total_seconds()),
        },
        "spent_today": today,
    }


def history_json(
    history: Sequence[BalanceSnapshot],
    failed: int,
    since: datetime,
    now: datetime,
    zone: tzinfo,
) -> Json:
    """A span of history summed up per currency: first, last, low and high readings, what
    was spent and topped up, and the spend of each local day (null: no readings then)."""
    days = max(1, round((now - since) / timedelta(days=1)))
    tomorrow = midnight(now, zone) + timedelta(days=1)
    currencies: Json = {}
    for currency in dict.fromkeys(c for s in history for c in s.balances):
        readings = [(s.taken_at, s.balances[currency]) for s in history if currency in s.balances]
        moves = [movement(a, b) for (_, a), (_, b) in pairwise(readings)]
        low = min(readings, key=lambda r: r[1].total)
        high = max(readings, key=lambda r: r[1].total)
        daily = period_spends(history, currency, tomorrow, timedelta(days=1), days)
        currencies[currency] = {
            "first": _reading(readings[0]),
            "last": _reading(readings[-1]),
            "low": _reading(low),
            "high": _reading(high),
            "spent": plain(sum((m[0] for m in moves), Decimal(0))),
            "topped_up": plain(sum((m[1] for m in moves), Decimal(0))),
            "spent_per_day": [
                {
                    "date": (tomorrow - timedelta(days=days - i)).date().isoformat(),
                    "spent": None if amount is None else plain(amount),
                }
                for i, amount in enumerate(daily)
            ],
        }
    return {
        "since": iso(since),
        "until": iso(now),
        "snapshots": len(history),
        "failed_checks": failed,
        "currencies": currencies,
    }


def _reading(reading: tuple[datetime, Any]) -> Json:
    return {"at": iso(reading[0]), "total": plain(reading[1].total)}
