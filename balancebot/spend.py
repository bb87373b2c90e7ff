"""Spend and runway from balance history.

Spend is what left the account between consecutive snapshots: drops in granted (bonus)
credit plus drops in topped-up credit. A rise in topped-up credit is a top-up, not
negative spend. Granted credit can also expire, which counts as spend here: the API does
not say which it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from .models import BalanceSnapshot, Currency

ZERO = Decimal(0)


def spent(history: Sequence[BalanceSnapshot], currency: Currency, since: datetime) -> Decimal:
    points = [
        s.balances[currency] for s in history if s.taken_at >= since and currency in s.balances
    ]
    return sum(
        (
            max(ZERO, before.granted - after.granted)
            + max(ZERO, before.topped_up - after.topped_up)
            for before, after in pairwise(points)
        ),
        ZERO,
    )


def days_left(
    history: Sequence[BalanceSnapshot], currency: Currency, now: datetime, window: timedelta
) -> Decimal | None:
    """Days until the balance reaches zero at the spend rate seen over `window`; None
    when nothing was spent (or there is too little history to tell)."""
    points = [s for s in history if s.taken_at >= now - window and currency in s.balances]
    if len(points) < 2:
        return None
    covered_days = Decimal((points[-1].taken_at - points[0].taken_at).total_seconds()) / 86400
    used = spent(points, currency, now - window)
    if used <= 0 or covered_days <= 0:
        return None
    return max(ZERO, points[-1].balances[currency].total) / (used / covered_days)
