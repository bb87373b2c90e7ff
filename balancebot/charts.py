"""PNG charts of balance history (matplotlib, Agg backend; the optional `charts` extra)."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import tzinfo

from .config import ThresholdLimits
from .errors import BalanceBotError
from .i18n import N_, _, language
from .models import BalanceSnapshot, Currency

INSTALL_HINT = "pip install 'balancebot[charts]'"
CHART_POINTS = 1500  # more than a chart's width in pixels needs; the store thins to this
CJK_FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "SimHei"]


class ChartsUnavailable(BalanceBotError):
    """matplotlib is not installed."""


def plot_history(
    history: Sequence[BalanceSnapshot],
    account: str,
    days: int,
    zone: tzinfo,
    thresholds: dict[Currency, ThresholdLimits],
) -> bytes:
    """One panel per currency: total and granted balance over time, threshold lines."""
    try:
        from matplotlib import font_manager, rcParams
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
        from matplotlib.figure import Figure
    except ImportError:
        raise ChartsUnavailable(
            _("Charts need the optional extra: {hint}").format(hint=INSTALL_HINT)
        ) from None

    text: Callable[[str], str] = _
    if language() == "zh":
        try:
            font_manager.findfont(
                font_manager.FontProperties(family=CJK_FONTS), fallback_to_default=False
            )
            rcParams["font.sans-serif"] = [*CJK_FONTS, *rcParams["font.sans-serif"]]
        except ValueError:  # no Chinese font installed: English beats empty boxes
            text = N_  # returns the English message as it is

    currencies = sorted({c for s in history for c in s.balances})
    figure = Figure(figsize=(9, 1.2 + 2.8 * max(1, len(currencies))), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(max(1, len(currencies)), 1, sharex=True, squeeze=False)[:, 0]
    for ax, currency in zip(axes, currencies, strict=False):
        points = [s for s in history if currency in s.balances]
        times = [s.taken_at.astimezone(zone) for s in points]
        ax.plot(
            times,
            [float(s.balances[currency].total) for s in points],
            color="tab:blue",
            linewidth=1.8,
            label=text(N_("total")),
        )
        ax.plot(
            times,
            [float(s.balances[currency].granted) for s in points],
            color="tab:green",
            linewidth=1,
            linestyle="--",
            label=text(N_("granted")),
        )
        limits = thresholds.get(currency)
        for value, colour, name in (
            (limits.warning_below if limits else None, "tab:orange", text(N_("warning below"))),
            (limits.critical_below if limits else None, "tab:red", text(N_("critical below"))),
        ):
            if value is not None:
                ax.axhline(
                    float(value),
                    color=colour,
                    linestyle=":",
                    linewidth=1.2,
                    label=f"{name} {value:.2f}",
                )
        ax.set_ylabel(f"{text(N_('balance'))} ({currency})")
        ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    if not currencies:
        axes[0].text(
            0.5,
            0.5,
            text(N_("No balance history in this period")),
            ha="center",
            va="center",
            transform=axes[0].transAxes,
        )
    locator = AutoDateLocator(tz=zone)  # type: ignore[no-untyped-call]
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(
        ConciseDateFormatter(locator, tz=zone)  # type: ignore[no-untyped-call]
    )
    axes[-1].set_xlabel(str(zone))
    figure.suptitle(
        text(N_("{account}: DeepSeek balance, last {days} days")).format(account=account, days=days)
    )
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
