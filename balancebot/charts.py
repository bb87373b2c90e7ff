"""Charts of balance history: PNG, or SVG/PDF for `history --plot` (matplotlib, Agg backend;
the optional `charts` extra)."""

from __future__ import annotations

import bisect
import io
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, tzinfo
from itertools import pairwise
from typing import Any

from .config import ThresholdLimits
from .errors import BalanceBotError
from .i18n import N_, _, language, ngettext
from .models import BalanceSnapshot, Currency
from .phrases import rough_span
from .spend import Runway, movement, runway

INSTALL_HINT = "pip install 'balancebot[charts]'"
CHART_POINTS = 1500  # more than a chart's width in pixels needs; the store thins to this
CJK_FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "SimHei"]


class ChartsUnavailable(BalanceBotError):
    """No chart can be drawn: matplotlib is not installed (or, as NoHistory, no data)."""


class NoHistory(ChartsUnavailable):
    """Nothing to draw: a chart of no data would only show an empty axis (at 1970)."""


Failed = tuple[datetime, datetime]
"""A run of failed checks: the first one's time and the last one's."""
BAND_SHARE = 200  # a lone failure's band: 1/200 of the axis, visible at any span
COVERED = 0.9  # data over this share of the days asked for: the title says the days

SHORTEST_SPAN = timedelta(minutes=2)  # one point, or a few seconds, still gets a readable axis
MARKERS_UP_TO = 60  # few points: mark each check, so a lone point is visible


def plot_history(
    history: Sequence[BalanceSnapshot],
    account: str,
    provider: str,
    days: int,
    zone: tzinfo,
    thresholds: dict[Currency, ThresholdLimits],
    failures: Sequence[Failed] = (),
    image_format: str = "png",
) -> bytes:
    """One panel per currency: total and granted balance as steps (a balance changes in
    steps, between checks), the thresholds as labelled lines, failed checks as shaded
    spans (`failures`: first and last failure of each run, see `Store.failed_checks`). The
    x axis spans the data, at least SHORTEST_SPAN; raises NoHistory when there is nothing
    to draw. `provider`: the account's provider as people know it (its `display_name`),
    named in the title, which is also the image's Title; the title names the span the data
    covers when that is shorter than the `days` asked for. `image_format`: png (chat
    platforms show it), or svg or pdf for `history --plot`."""
    try:
        from matplotlib import font_manager, rcParams
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
        from matplotlib.figure import Figure
    except ImportError:
        raise ChartsUnavailable(
            _("Charts need the optional extra: {hint}").format(hint=INSTALL_HINT)
        ) from None

    currencies = sorted({c for s in history for c in s.balances})
    if not currencies:
        raise NoHistory(
            ngettext(
                "no data yet: no balance of {account} in the last {days} day",
                "no data yet: no balance of {account} in the last {days} days",
                days,
            ).format(account=account, days=days)
        )
    text: Callable[[str], str] = _
    if language() == "zh":
        try:
            font_manager.findfont(
                font_manager.FontProperties(family=CJK_FONTS), fallback_to_default=False
            )
            rcParams["font.sans-serif"] = [*CJK_FONTS, *rcParams["font.sans-serif"]]
        except ValueError:  # no Chinese font installed: English beats empty boxes
            text = N_  # returns the English message as it is

    figure = Figure(figsize=(9, 1.2 + 2.8 * len(currencies)), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(currencies), 1, sharex=True, squeeze=False)[:, 0]
    ends: list[datetime] = []  # where forecasts reach zero: the axis stretches to them
    first, last = _span(history, failures)
    band = (last - first) / BAND_SHARE
    times_ok = sorted(s.taken_at for s in history)
    for ax, currency in zip(axes, currencies, strict=True):
        points = [s for s in history if currency in s.balances]
        times = [s.taken_at.astimezone(zone) for s in points]
        marker = "o" if len(points) <= MARKERS_UP_TO else None
        for label, field, colour, width, linestyle in (
            (N_("total"), "total", "tab:blue", 1.8, "-"),
            (N_("granted"), "granted", "tab:green", 1.0, "--"),
        ):
            ax.plot(
                times,
                [float(getattr(s.balances[currency], field)) for s in points],
                drawstyle="steps-post",
                marker=marker,
                markersize=3,
                linestyle=linestyle,
                color=colour,
                linewidth=width,
                label=text(label),
            )
        _draw_top_ups(ax, points, currency, zone, text)
        forecast_end = _draw_forecast(ax, history, currency, zone, text)
        if forecast_end is not None:
            ends.append(forecast_end)
        _draw_thresholds(ax, thresholds.get(currency), text)
        _draw_failures(ax, failure_runs(failures, times_ok), zone, text, band)
        ax.set_ylabel(f"{text(N_('balance'))} ({currency})")
        ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    last = max([last, *ends])
    axes[-1].set_xlim(first.astimezone(zone), last.astimezone(zone))
    locator = AutoDateLocator(tz=zone)  # type: ignore[no-untyped-call]
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(
        ConciseDateFormatter(locator, tz=zone)  # type: ignore[no-untyped-call]
    )
    axes[-1].set_xlabel(str(zone))
    title = _title(history, account, provider, days, text)
    figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format=image_format, metadata={"Title": title})
    return buffer.getvalue()


def _title(
    history: Sequence[BalanceSnapshot],
    account: str,
    provider: str,
    days: int,
    text: Callable[[str], str],
) -> str:
    """ "last 30 days" only over (nearly) 30 days of data: a minute of it says "last 1 min"."""
    covered = max(s.taken_at for s in history) - min(s.taken_at for s in history)
    if covered >= timedelta(days=days) * COVERED:
        return ngettext(
            "{account}: {provider} balance, last {days} day",
            "{account}: {provider} balance, last {days} days",
            days,
            translate=text is _,
        ).format(account=account, provider=provider, days=days)
    return text(N_("{account}: {provider} balance, last {span}")).format(
        account=account, provider=provider, span=rough_span(covered, text)
    )


def _span(
    history: Sequence[BalanceSnapshot], failures: Sequence[Failed] = ()
) -> tuple[datetime, datetime]:
    """The data's own time range (failed checks included), padded by 2% (or widened to
    SHORTEST_SPAN, centred)."""
    first = min([s.taken_at for s in history] + [f for f, _ in failures])
    last = max([s.taken_at for s in history] + [t for _, t in failures])
    if last - first < SHORTEST_SPAN:
        middle = first + (last - first) / 2
        return middle - SHORTEST_SPAN / 2, middle + SHORTEST_SPAN / 2
    pad = (last - first) / 50
    return first - pad, last + pad


def _draw_thresholds(ax: Any, limits: ThresholdLimits | None, text: Callable[[str], str]) -> None:
    """Dotted lines, each labelled on the chart at its right end (no legend lookup)."""
    for value, colour, name in (
        (limits.warning_below if limits else None, "tab:orange", text(N_("warning below"))),
        (limits.critical_below if limits else None, "tab:red", text(N_("critical below"))),
    ):
        if value is None:
            continue
        ax.axhline(float(value), color=colour, linestyle=":", linewidth=1.2)
        ax.text(
            0.995,
            float(value),
            f"{name} {value:.2f}",
            transform=ax.get_yaxis_transform(),  # x in axes fractions, y in data
            ha="right",
            va="bottom",
            color=colour,
            fontsize="small",
        )


def failure_runs(failures: Sequence[Failed], successes: Sequence[datetime]) -> list[Failed]:
    """Failures with no success between them as one run, each lasting until the next
    success (the balance was unknown until then). `successes`: sorted."""
    runs: list[Failed] = []
    for first, last in sorted(failures):
        after = bisect.bisect_right(successes, last)
        end = successes[after] if after < len(successes) else last
        if runs and bisect.bisect_right(successes, runs[-1][0]) == after:
            runs[-1] = (runs[-1][0], end)  # no success since the run began: the same run
        else:
            runs.append((first, end))
    return runs


def _draw_failures(
    ax: Any,
    failures: Sequence[Failed],
    zone: tzinfo,
    text: Callable[[str], str],
    band: timedelta,
) -> None:
    """A red band over each run of failed checks: a gap in the line is not a flat balance."""
    for i, (first, last) in enumerate(failures):
        ax.axvspan(
            first.astimezone(zone),
            max(last, first + band).astimezone(zone),
            color="tab:red",
            alpha=0.15,
            linewidth=0,
            label=text(N_("checks failed")) if i == 0 else None,
        )


def _draw_top_ups(
    ax: Any,
    points: Sequence[BalanceSnapshot],
    currency: Currency,
    zone: tzinfo,
    text: Callable[[str], str],
) -> None:
    """A marker where the paid balance rose between two checks (`spend.movement`)."""
    ups = [
        (b.taken_at.astimezone(zone), float(b.balances[currency].total))
        for a, b in pairwise(points)
        if movement(a.balances[currency], b.balances[currency])[1] > 0
    ]
    if ups:
        times, values = zip(*ups, strict=True)
        ax.plot(times, values, "^", color="tab:green", markersize=8, label=text(N_("top-up")))


def _draw_forecast(
    ax: Any,
    history: Sequence[BalanceSnapshot],
    currency: Currency,
    zone: tzinfo,
    text: Callable[[str], str],
) -> datetime | None:
    """The balance at the recent burn rate (`spend.runway`, the rule's own computation)
    down to zero, when it runs out within half the chart's span again; the axis then
    stretches to show the end."""
    now = max(s.taken_at for s in history)
    outlook = runway(history, currency, now)
    if not isinstance(outlook, Runway) or outlook.runs_out_at is None:
        return None
    span = now - min(s.taken_at for s in history)
    end = outlook.runs_out_at
    if end - outlook.as_of > max(span / 2, SHORTEST_SPAN):
        return None  # far beyond the chart: a flat slope would say nothing
    ax.plot(
        [outlook.as_of.astimezone(zone), end.astimezone(zone)],
        [float(outlook.balance), 0.0],
        linestyle="--",
        color="tab:red",
        linewidth=1.2,
        label=text(N_("forecast at the recent spend rate")),
    )
    return end + (end - outlook.as_of) / 20
