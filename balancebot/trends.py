"""Rules that look at the trend: runway, spend spikes, top-ups, and threshold limits that
grow with spend. Pure functions of the account's recent history, like the threshold rule;
every number comes from `spend.py`, the one place spend and runway are computed.

A rule whose window does not yet hold enough history returns no finding for that key:
no verdict, so the alert state stays as it was (`history_state` says so for `/status`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal

from .config import (
    RuleConfig,
    RunwayRuleConfig,
    SpendSpikeRuleConfig,
    ThresholdLimits,
    ThresholdRuleConfig,
    TopUpRuleConfig,
    TrendRuleConfig,
)
from .i18n import N_, _
from .models import AlertKey, BalanceSnapshot, CheckResult, Currency, Finding, Severity
from .spend import (
    DAY,
    MIN_HISTORY,
    RUNWAY_WINDOW,
    ZERO,
    NotEnoughHistory,
    Runway,
    last_top_up,
    median,
    money,
    period_spends,
    runway,
    spent,
)

WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


def evaluate_trend(
    rule: TrendRuleConfig, result: CheckResult, recent: Sequence[CheckResult], zone: tzinfo
) -> list[Finding]:
    if not isinstance(result, BalanceSnapshot):
        return []
    history = snapshots(recent, result)
    match rule:
        case RunwayRuleConfig():
            return _runway(rule, result, history, zone)
        case SpendSpikeRuleConfig():
            return _spend_spike(rule, result, history)
        case TopUpRuleConfig():
            return _top_up(rule, result, history)


def snapshots(recent: Sequence[CheckResult], result: BalanceSnapshot) -> list[BalanceSnapshot]:
    """The successful checks of `recent`, ending with `result`."""
    found = [r for r in recent if isinstance(r, BalanceSnapshot)]
    return found if found and found[-1] is result else [*found, result]


def runway_settings(rules: Iterable[RuleConfig]) -> tuple[timedelta, timedelta]:
    """The window and minimum history runway figures use for an account: its first
    `runway` rule's, else the defaults, so the digest and `/balance` agree with the alert."""
    for rule in rules:
        if isinstance(rule, RunwayRuleConfig):
            return rule.window, rule.min_history
    return RUNWAY_WINDOW, MIN_HISTORY


@dataclass(frozen=True, slots=True)
class HistoryState:
    """Why a trend rule has no verdict yet, for `/status`."""

    rule: str
    currency: Currency
    waiting: NotEnoughHistory


def history_state(rules: Iterable[RuleConfig], recent: Sequence[CheckResult]) -> list[HistoryState]:
    """The runway rules still waiting for enough history, per currency."""
    latest = next((r for r in reversed(recent) if isinstance(r, BalanceSnapshot)), None)
    if latest is None:
        return []
    history = snapshots(recent, latest)
    waiting = []
    for rule in rules:
        if not isinstance(rule, RunwayRuleConfig):
            continue
        for currency in _currencies(rule.currencies, latest):
            found = runway(history, currency, latest.taken_at, rule.window, rule.min_history)
            if isinstance(found, NotEnoughHistory):
                waiting.append(HistoryState(rule.name, currency, found))
    return waiting


def below(
    value: Decimal | None, warning: Decimal | None, critical: Decimal | None, margin: Decimal
) -> Severity | None:
    """The severity of a value under lower limits; None stands for "no end in sight"."""
    if value is None:
        return None
    if critical is not None and value < critical + margin:
        return Severity.CRITICAL
    if warning is not None and value < warning + margin:
        return Severity.WARNING
    return None


def _currencies(wanted: list[Currency] | None, result: BalanceSnapshot) -> list[Currency]:
    return [c for c in result.balances if wanted is None or c in wanted]


def _runway(
    rule: RunwayRuleConfig, result: BalanceSnapshot, history: list[BalanceSnapshot], zone: tzinfo
) -> list[Finding]:
    findings = []
    for currency in _currencies(rule.currencies, result):
        found = runway(history, currency, result.taken_at, rule.window, rule.min_history)
        if isinstance(found, NotEnoughHistory):
            continue  # no verdict: the alert stays as it was
        days = found.days
        severity = below(days, rule.warning_days, rule.critical_days, ZERO)
        if severity is not None:
            description = runway_text(found, zone)
        else:
            description = lasts_text(found) + top_up_note(history, currency)
        findings.append(
            Finding(
                key=AlertKey(result.account, rule.name, currency),
                severity=severity,
                sticky_severity=below(days, rule.warning_days, rule.critical_days, rule.hysteresis),
                description=description,
                observed=days,
            )
        )
    return findings


def runway_text(found: Runway, zone: tzinfo) -> str:
    """ "at 42.10 CNY/day (last 24 h) runs out in about 2.3 days, around Fri 14:00"."""
    when = found.runs_out_at
    days = found.days
    if when is None or days is None:
        return lasts_text(found)
    return _(
        "at {rate} {currency}/day (last {window}) runs out in about {left}, around {when}"
    ).format(
        rate=money(found.per_day),
        currency=found.currency,
        window=span_text(found.basis),
        left=left_text(days),
        when=moment_text(when, found.as_of, zone),
    )


def lasts_text(found: Runway) -> str:
    """The same facts when nothing is wrong (digest, /balance, a resolved notice)."""
    days = found.days
    if days is None:
        return _("no spend in the last {window}, no end in sight").format(
            window=span_text(found.basis)
        )
    return _("at {rate} {currency}/day (last {window}) lasts about {left}").format(
        rate=money(found.per_day),
        currency=found.currency,
        window=span_text(found.basis),
        left=left_text(days),
    )


def left_text(days: Decimal) -> str:
    """`2.3 days`, `5 h`, `17 min`: a runway in the unit a person would use."""
    if days >= 1:
        return _("{count} days").format(count=f"{days:.1f}")
    if days * 24 >= 1:
        return _("{count} h").format(count=f"{days * 24:.0f}")
    return _("{count} min").format(count=max(1, round(days * 1440)))


def waiting_text(waiting: NotEnoughHistory) -> str:
    if waiting.covered < timedelta(minutes=1):
        return _("not enough history yet (needs {needed})").format(needed=span_text(waiting.needed))
    return _("not enough history yet ({covered} of {needed})").format(
        covered=span_text(waiting.covered), needed=span_text(waiting.needed)
    )


def outlook_since(rules: Iterable[RuleConfig], now: datetime, zone: tzinfo) -> datetime:
    """How far back `outlook` reads: the runway window or local midnight, the earlier."""
    window, _least = runway_settings(rules)
    return min(now - window, _midnight(now, zone))


def outlook(
    rules: Iterable[RuleConfig],
    history: Sequence[BalanceSnapshot],
    currency: Currency,
    now: datetime,
    zone: tzinfo,
) -> str:
    """One currency's runway and today's spend, as `/balance` and `check` show them."""
    window, least = runway_settings(rules)
    found = runway(history, currency, now, window, least)
    left = waiting_text(found) if isinstance(found, NotEnoughHistory) else runway_text(found, zone)
    today = spent(history, currency, _midnight(now, zone))
    return _("{currency}: {runway}; spent today {today}").format(
        currency=currency, runway=left, today=money(today)
    )


def _midnight(now: datetime, zone: tzinfo) -> datetime:
    return now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)


def span_text(span: timedelta) -> str:
    """`24 h`, `3 days`, `90 min`, `20 s`: how a person names a window."""
    minutes = int(span.total_seconds() // 60)
    if minutes >= 2880 and minutes % 1440 == 0:
        return _("{count} days").format(count=minutes // 1440)
    if minutes >= 60 and minutes % 60 == 0:
        return _("{count} h").format(count=minutes // 60)
    if minutes:
        return _("{count} min").format(count=minutes)
    return _("{count} s").format(count=int(span.total_seconds()))


def rough_span(span: timedelta, text: Callable[[str], str] = _) -> str:
    """`95 s`, `12 min`, `5 h`, `7 days`, to the nearest unit: how long, where exactness
    would be noise (`/readyz`, a chart's title). `text`: `N_` for English always."""
    seconds = max(0, round(span.total_seconds()))
    for message, size in ((N_("{count} days"), 86400), (N_("{count} h"), 3600)):
        if seconds >= 2 * size:
            return text(message).format(count=(seconds + size // 2) // size)
    if seconds >= 120:
        return text(N_("{count} min")).format(count=(seconds + 30) // 60)
    return text(N_("{count} s")).format(count=seconds)


def moment_text(moment: datetime, now: datetime, zone: tzinfo) -> str:
    """A weekday and time within the coming week, a date beyond it."""
    local = moment.astimezone(zone)
    if moment - now < timedelta(days=6):
        return f"{_(WEEKDAYS[local.weekday()])} {local:%H:%M}"
    return f"{local:%Y-%m-%d}"


def top_up_note(history: Sequence[BalanceSnapshot], currency: Currency) -> str:
    """Said when an alert resolves at the check that saw money arrive."""
    amount = last_top_up(history, currency)
    if amount < Decimal("0.01"):
        return ""
    return " " + _("(topped up +{amount} {currency})").format(
        amount=money(amount), currency=currency
    )


def _spend_spike(
    rule: SpendSpikeRuleConfig, result: BalanceSnapshot, history: list[BalanceSnapshot]
) -> list[Finding]:
    findings = []
    past_count = int(DAY * rule.days / rule.period)
    for currency in _currencies(rule.currencies, result):
        spends = period_spends(history, currency, result.taken_at, rule.period, past_count + 1)
        current, past = spends[-1], [s for s in spends[:-1] if s is not None]
        if current is None or rule.period * len(past) < rule.min_history:
            continue  # no verdict until the past periods say what is usual
        usual = median(past)
        limit = max(rule.factor * usual, rule.min_spend)
        severity = Severity.WARNING if current > limit else None
        findings.append(
            Finding(
                key=AlertKey(result.account, rule.name, currency),
                severity=severity,
                sticky_severity=severity,
                description=_(
                    "spent {spent} {currency} in the last {period}; usually {usual} "
                    "(median over {days} days)"
                ).format(
                    spent=money(current),
                    currency=currency,
                    period=span_text(rule.period),
                    usual=money(usual),
                    days=rule.days,
                ),
                observed=current,
            )
        )
    return findings


def _top_up(
    rule: TopUpRuleConfig, result: BalanceSnapshot, history: list[BalanceSnapshot]
) -> list[Finding]:
    findings = []
    for currency, balance in result.balances.items():
        amount = last_top_up(history, currency)
        severity = Severity.INFO if amount >= rule.min_amount else None
        findings.append(
            Finding(
                key=AlertKey(result.account, rule.name, currency),
                severity=severity,
                sticky_severity=None,
                description=_("topped up +{amount} {currency}, now {total}").format(
                    amount=money(amount), currency=currency, total=money(balance.total)
                ),
                observed=amount,
            )
        )
    return findings


def runway_limits(
    rule: ThresholdRuleConfig,
    fixed: ThresholdLimits,
    currency: Currency,
    history: Sequence[BalanceSnapshot],
) -> tuple[ThresholdLimits, dict[Decimal, str]]:
    """A threshold's limits grown to `warning_runway` / `critical_runway` of spend at the
    current rate, and for each grown limit the note that explains it. Without enough
    history the fixed limits stand."""
    if (rule.warning_runway is None and rule.critical_runway is None) or not history:
        return fixed, {}
    found = runway(history, currency, history[-1].taken_at, rule.window, rule.min_history)
    if not isinstance(found, Runway):
        return fixed, {}
    notes: dict[Decimal, str] = {}

    def grown(limit: Decimal | None, span: timedelta | None) -> Decimal | None:
        if span is None:
            return limit
        days = Decimal(span.total_seconds()) / 86400
        need = found.covering(days)
        if limit is not None and need <= limit:
            return limit
        notes[need] = " " + _("({days} days at {rate}/day)").format(
            days=f"{days:.1f}".removesuffix(".0"), rate=money(found.per_day)
        )
        return need

    critical = grown(fixed.critical_below, rule.critical_runway)
    warning = grown(fixed.warning_below, rule.warning_runway)
    if warning is not None and critical is not None:
        warning = max(warning, critical)
    return ThresholdLimits(warning_below=warning, critical_below=critical), notes
