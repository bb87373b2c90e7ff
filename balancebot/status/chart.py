"""A small SVG chart of one currency's balance over the last days, for the status page:
drawn here as text, without matplotlib (an optional extra) and without any script.

The balance is drawn as steps (it changes between checks), the warning and critical
thresholds as dotted lines labelled at their right end, each top-up as a triangle and each
run of failed checks as a band (the balance was unknown there, not flat). Colours come from
the page's stylesheet (classes), so the chart follows its dark mode.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from html import escape
from itertools import pairwise

from ..charts import Failed, failure_runs
from ..config import ThresholdLimits
from ..i18n import _
from ..models import BalanceSnapshot, Currency
from ..spend import money, movement

WIDTH, HEIGHT = 360, 160
LEFT, RIGHT, TOP, BOTTOM = 42, 6, 10, 20
LABEL_GAP = 11  # a threshold label closer than this to the one above goes to the left
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
BAND_SHARE = 200  # a lone failed check's band: 1/200 of the width, still visible
X_TICKS = 5

XScale = Callable[[datetime], float]
YScale = Callable[[float], float]


@dataclass(frozen=True, slots=True)
class ChartData:
    """What one account's charts are drawn from."""

    history: Sequence[BalanceSnapshot]  # oldest first
    failures: Sequence[Failed]  # first and last failure of each stretch (Store.failed_checks)
    thresholds: dict[Currency, ThresholdLimits]


def balance_chart(
    data: ChartData,
    currency: Currency,
    start: datetime,
    end: datetime,
    zone: tzinfo,
    label: str,
) -> str:
    """The `<svg>` element, sized by the page (its width, the height following)."""
    points = [s for s in data.history if currency in s.balances]
    limits = data.thresholds.get(currency)
    lines = [
        (value, css, label)
        for value, css, label in (
            (limits.warning_below if limits else None, "warn", _("warning below")),
            (limits.critical_below if limits else None, "crit", _("critical below")),
        )
        if value is not None
    ]
    values = [float(s.balances[currency].total) for s in points] + [float(v) for v, *_ in lines]
    low = min([0.0, *values])
    high = max([*values, low + 1.0]) * 1.08 if max(values, default=0.0) > 0 else low + 1.0
    span = (end - start).total_seconds()

    def x(moment: datetime) -> float:
        return LEFT + max(0.0, min(1.0, (moment - start).total_seconds() / span)) * PLOT_W

    def y(value: float) -> float:
        return TOP + (high - value) / (high - low) * PLOT_H

    title = escape(label)
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{title}" xmlns="http://www.w3.org/2000/svg" font-size="11">',
        f"<title>{title}</title>",
    ]
    parts += _grid(low, high, y)
    parts += _time_axis(start, end, zone, x)
    successes = [s.taken_at for s in data.history]
    band = timedelta(seconds=span / BAND_SHARE)
    for first, last in failure_runs(data.failures, successes):
        left, right = x(first), x(max(last, first + band))
        when = _("checks failed") + f": {_short(first, zone)} → {_short(last, zone)}"
        parts.append(
            f'<rect class="failed" x="{left:.1f}" y="{TOP}" width="{max(right - left, 1.5):.1f}" '
            f'height="{PLOT_H}"><title>{escape(when)}</title></rect>'
        )
    above: float | None = None  # the previous label's baseline
    for value, css, label in sorted(lines, key=lambda line: -line[0]):
        at = y(float(value))
        parts.append(
            f'<line class="{css}" x1="{LEFT}" x2="{LEFT + PLOT_W}" y1="{at:.1f}" y2="{at:.1f}"/>'
        )
        # at the right end, or at the left one when the label above is too close
        crowded = above is not None and at - above < LABEL_GAP
        x_at, anchor = (LEFT + 2, "start") if crowded else (LEFT + PLOT_W - 2, "end")
        above = None if crowded else at
        parts.append(
            f'<text class="{css}-text" x="{x_at}" y="{at - 3:.1f}" '
            f'text-anchor="{anchor}">{escape(label)} {escape(money(value))}</text>'
        )
    if points:
        parts.append(f'<path class="line" d="{_steps(points, currency, x, y)}"/>')
        parts += _top_ups(points, currency, zone, x, y)
        newest = points[-1]
        parts.append(
            f'<circle class="now" cx="{x(newest.taken_at):.1f}" '
            f'cy="{y(float(newest.balances[currency].total)):.1f}" r="2.5"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _steps(points: Sequence[BalanceSnapshot], currency: Currency, x: XScale, y: YScale) -> str:
    first = points[0]
    path = [f"M{x(first.taken_at):.1f},{y(float(first.balances[currency].total)):.1f}"]
    for snapshot in points[1:]:
        path.append(
            f"H{x(snapshot.taken_at):.1f}V{y(float(snapshot.balances[currency].total)):.1f}"
        )
    return "".join(path)


def _top_ups(
    points: Sequence[BalanceSnapshot], currency: Currency, zone: tzinfo, x: XScale, y: YScale
) -> list[str]:
    marks = []
    for before, after in pairwise(points):
        amount = movement(before.balances[currency], after.balances[currency])[1]
        if amount <= 0:
            continue
        cx, cy = x(after.taken_at), y(float(after.balances[currency].total))
        label = _("top-up") + f" +{money(amount)} {currency}, {_short(after.taken_at, zone)}"
        marks.append(
            f'<path class="topup" d="M{cx:.1f},{cy - 7:.1f}l5,8h-10z">'
            f"<title>{escape(label)}</title></path>"
        )
    return marks


def _grid(low: float, high: float, y: YScale) -> list[str]:
    step = _nice_step((high - low) / 4)
    parts = []
    value = math.ceil(low / step) * step
    while value <= high:
        at = y(value)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{LEFT + PLOT_W}" y1="{at:.1f}" y2="{at:.1f}"/>'
        )
        parts.append(
            f'<text class="axis" x="{LEFT - 4}" y="{at + 3:.1f}" text-anchor="end">'
            f"{_tick_label(value, step)}</text>"
        )
        value += step
    return parts


def _time_axis(start: datetime, end: datetime, zone: tzinfo, x: XScale) -> list[str]:
    parts = [
        f'<line class="axisline" x1="{LEFT}" x2="{LEFT + PLOT_W}" '
        f'y1="{TOP + PLOT_H}" y2="{TOP + PLOT_H}"/>'
    ]
    for i in range(X_TICKS):
        moment = start + (end - start) * i / (X_TICKS - 1)
        anchor = "start" if i == 0 else "end" if i == X_TICKS - 1 else "middle"
        parts.append(
            f'<text class="axis" x="{x(moment):.1f}" y="{HEIGHT - 5}" text-anchor="{anchor}">'
            f"{moment.astimezone(zone):%m-%d}</text>"
        )
    return parts


def _nice_step(raw: float) -> float:
    """1, 2, 2.5 or 5 times a power of ten, at least `raw`."""
    if raw <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    return next(float(m * power) for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def _tick_label(value: float, step: float) -> str:
    """`15k`, `2.5M`, `250`, `0.25`: short enough for the left margin."""
    for size, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= 10 * size or (size > 1e3 and abs(value) >= size):
            return f"{value / size:.3g}{suffix}" if abs(value) < 1000 * size else f"{value:.0e}"
    places = min(4, len(f"{step:g}".partition(".")[2]))  # as many as the step has
    text = f"{value:.{places}f}"
    return "0" if float(text) == 0 else text


def _short(moment: datetime, zone: tzinfo) -> str:
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M}"
