"""Spend, top-ups and runway from balance history: one place the rules, the digest,
`/balance` and the chart all read.

Spend is what left the account between consecutive snapshots: drops in granted (bonus)
credit plus drops in topped-up credit. A rise in topped-up credit is a top-up, not
negative spend. Granted credit can also expire, which counts as spend here: the API does
not say which it was. A provider that does not split its balance (granted + topped-up is
not the total) is read by its total: a drop is spend, a rise a top-up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from itertools import pairwise

from .models import BalanceSnapshot, Currency, CurrencyBalance

ZERO = Decimal(0)
DAY = timedelta(days=1)
RUNWAY_WINDOW = DAY
MIN_HISTORY = timedelta(hours=6)


MAX_FRACTION_DIGITS = 18  # a plain amount's decimals at most (providers keep 8)
MAX_SHOWN_DIGITS = 21  # integer digits shown at most: sums and differences of amounts
# providers accept (under 10^15) stay in range; `1e99999999` would cost gigabytes


def money(amount: Decimal) -> str:
    """Every amount a person reads has two decimals, and no minus sign on a zero
    (`-0.0`, `-0.001`). Providers refuse a balance from 10^15 (providers/strict.py), but a top-up
    from -10^15 to 10^15 or a digest's sum over accounts is larger, and is still shown."""
    if not amount.is_finite() or amount.adjusted() >= MAX_SHOWN_DIGITS:  # no arithmetic on it
        return _out_of_range(amount)
    text = f"{amount:.2f}"
    return text[1:] if text == "-0.00" else text


def plain(amount: Decimal) -> str:
    """An amount for programs (`check --format json`): its exact value as a plain decimal
    string, never an exponent (`1E+14`, `0E-8`) nor a negative zero; past 18 decimals
    rounded half-even. Out of range as `money` says it."""
    if not amount.is_finite() or amount.adjusted() >= MAX_SHOWN_DIGITS:
        return _out_of_range(amount)
    if amount.as_tuple().exponent < -MAX_FRACTION_DIGITS:  # type: ignore[operator]
        with localcontext(prec=MAX_SHOWN_DIGITS + MAX_FRACTION_DIGITS):
            amount = amount.quantize(Decimal(1).scaleb(-MAX_FRACTION_DIGITS), ROUND_HALF_EVEN)
    if amount.is_zero():
        amount = amount.copy_abs()
    return f"{amount:f}"


def balances_json(balances: Mapping[Currency, CurrencyBalance]) -> dict[str, dict[str, str]]:
    """A snapshot's balances for programs (`check --format json`, the MCP tools)."""
    return {
        currency: {
            "total": plain(b.total),
            "granted": plain(b.granted),
            "topped_up": plain(b.topped_up),
        }
        for currency, b in balances.items()
    }


def _out_of_range(amount: Decimal) -> str:
    if amount.is_infinite():
        return "-∞" if amount < 0 else "∞"
    return "(out of range)"


def movement(before: CurrencyBalance, after: CurrencyBalance) -> tuple[Decimal, Decimal]:
    """(spent, topped up) between two readings of one currency."""
    if _split(before) and _split(after):
        used = max(ZERO, before.granted - after.granted)
        used += max(ZERO, before.topped_up - after.topped_up)
        return used, max(ZERO, after.topped_up - before.topped_up)
    rise = after.total - before.total
    return max(ZERO, -rise), max(ZERO, rise)


def _split(balance: CurrencyBalance) -> bool:
    return balance.granted + balance.topped_up == balance.total


def _readings(
    history: Sequence[BalanceSnapshot], currency: Currency, since: datetime
) -> list[tuple[datetime, CurrencyBalance]]:
    return [
        (s.taken_at, s.balances[currency])
        for s in history
        if s.taken_at >= since and currency in s.balances
    ]


def spent(history: Sequence[BalanceSnapshot], currency: Currency, since: datetime) -> Decimal:
    readings = _readings(history, currency, since)
    return sum((movement(a, b)[0] for (_, a), (_, b) in pairwise(readings)), ZERO)


def last_top_up(history: Sequence[BalanceSnapshot], currency: Currency) -> Decimal:
    """How much the latest snapshot's balance was topped up since the one before it."""
    readings = [s.balances[currency] for s in history[-2:] if currency in s.balances]
    if len(readings) < 2 or history[-1].balances.get(currency) is None:
        return ZERO
    return movement(readings[0], readings[1])[1]


def topped_up(before: BalanceSnapshot, after: BalanceSnapshot) -> bool:
    """Whether money arrived in any currency between two snapshots."""
    return any(
        movement(was, after.balances[code])[1] > ZERO
        for code, was in before.balances.items()
        if code in after.balances
    )


def balance_after_top_up(
    history: Sequence[BalanceSnapshot], currency: Currency, since: datetime, least: Decimal
) -> Decimal | None:
    """The balance right after the latest top-up (a rise in paid credit of at least
    `least`) seen since `since` that left the account above zero; None when there was
    none. What `*_below_percent` thresholds are a percentage of."""
    readings = _readings(history, currency, since)
    for i in range(len(readings) - 1, 0, -1):
        after = readings[i][1]
        if movement(readings[i - 1][1], after)[1] >= least and after.total > ZERO:
            return after.total
    return None


@dataclass(frozen=True, slots=True)
class Runway:
    """How long the balance lasts at the spend rate seen over `window`."""

    currency: Currency
    balance: Decimal
    per_day: Decimal  # the burn rate
    window: timedelta
    as_of: datetime  # when the balance was read
    covered: timedelta  # how much of the window the snapshots span

    @property
    def basis(self) -> timedelta:
        """The span to name beside the rate: the window once it is (nearly) full, else
        the history it has, rounded to the hour, minute or second."""
        if self.covered >= self.window * 0.9:
            return self.window
        unit = next(
            u
            for u in (timedelta(hours=1), timedelta(minutes=1), timedelta(seconds=1))
            if self.covered >= u or u == timedelta(seconds=1)
        )
        return max(unit, unit * round(self.covered / unit))

    @property
    def days(self) -> Decimal | None:
        """None when nothing is being spent: no end in sight."""
        if self.per_day <= 0:
            return None
        return max(ZERO, self.balance) / self.per_day

    @property
    def runs_out_at(self) -> datetime | None:
        days = self.days
        if days is None or days > 3650:
            return None
        return self.as_of + timedelta(days=float(days))

    def covering(self, days: Decimal) -> Decimal:
        """What `days` of spend at this rate costs."""
        return self.per_day * days


@dataclass(frozen=True, slots=True)
class NotEnoughHistory:
    """The window does not yet span enough time to tell a rate (a minute of history
    after a big request is no basis for "0.0 days left")."""

    currency: Currency
    covered: timedelta
    needed: timedelta


def runway(
    history: Sequence[BalanceSnapshot],
    currency: Currency,
    now: datetime,
    window: timedelta = RUNWAY_WINDOW,
    min_history: timedelta = MIN_HISTORY,
) -> Runway | NotEnoughHistory:
    """The one runway computation: spend over the snapshots of the last `window`
    (top-ups excluded, expired grants counted) divided by the time they span."""
    readings = _readings(history, currency, now - window)
    covered = readings[-1][0] - readings[0][0] if readings else timedelta(0)
    if covered < min(min_history, window) or covered <= timedelta(0):
        return NotEnoughHistory(currency, covered, min(min_history, window))
    used = sum((movement(a, b)[0] for (_, a), (_, b) in pairwise(readings)), ZERO)
    per_day = used / Decimal(covered.total_seconds()) * 86400
    return Runway(currency, readings[-1][1].total, per_day, window, readings[-1][0], covered)


def period_spends(
    history: Sequence[BalanceSnapshot],
    currency: Currency,
    end: datetime,
    period: timedelta,
    count: int,
) -> list[Decimal | None]:
    """Spend in each of `count` consecutive periods ending at `end`, oldest first; None
    for a period no snapshot pair reached into (the monitor was not watching: unknown,
    not zero). A pair's spend counts in the period its later snapshot falls in."""
    start = end - period * count
    spends: list[Decimal | None] = [None] * count
    readings = _readings(history, currency, start - period)
    for (before_at, before), (after_at, after) in pairwise(readings):
        if not start < after_at <= end or before_at < start - period:
            continue
        slot = min(count - 1, int((after_at - start - timedelta.resolution) / period))
        spends[slot] = (spends[slot] or ZERO) + movement(before, after)[0]
    return spends


def median(values: Sequence[Decimal]) -> Decimal:
    import statistics  # here: not on `check`'s start-up path (it brings fractions)

    return Decimal(statistics.median(values))
