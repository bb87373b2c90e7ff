"""Rules that look at the trend: runway, spend spikes, top-ups, and threshold limits that
grow with spend. Pure functions of the account's recent history, like the threshold rule;
every number comes from `spend.py`, the one place spend and runway are computed.

A rule whose window does not yet hold enough history returns no finding for that key:
no verdict, so the alert state stays as it was (`history_state` says so for `/status`).
Findings carry data (`facts.py`); `phrases.py` says them in words.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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
from .facts import Grown, RunwayFacts, SpikeFacts, TopUpFacts
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
    period_spends,
    runway,
)


def evaluate_trend(
    rule: TrendRuleConfig, result: CheckResult, recent: Sequence[CheckResult]
) -> list[Finding]:
    if not isinstance(result, BalanceSnapshot):
        return []
    history = snapshots(recent, result)
    match rule:
        case RunwayRuleConfig():
            return _runway(rule, result, history)
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
    rule: RunwayRuleConfig, result: BalanceSnapshot, history: list[BalanceSnapshot]
) -> list[Finding]:
    findings = []
    for currency in _currencies(rule.currencies, result):
        found = runway(history, currency, result.taken_at, rule.window, rule.min_history)
        if isinstance(found, NotEnoughHistory):
            continue  # no verdict: the alert stays as it was
        days = found.days
        severity = below(days, rule.warning_days, rule.critical_days, ZERO)
        facts = RunwayFacts(
            currency=currency,
            per_day=found.per_day,
            basis=found.basis,
            days=days,
            runs_out_at=found.runs_out_at,
            as_of=found.as_of,
            short=severity is not None,
            topped_up=None if severity is not None else topped_up(history, currency),
        )
        findings.append(
            Finding(
                key=AlertKey(result.account, rule.name, currency),
                severity=severity,
                sticky_severity=below(days, rule.warning_days, rule.critical_days, rule.hysteresis),
                facts=facts,
                observed=days,
            )
        )
    return findings


def outlook_since(rules: Iterable[RuleConfig], now: datetime, zone: tzinfo) -> datetime:
    """How far back `phrases.outlook` reads: the runway window or local midnight, the earlier."""
    window, _least = runway_settings(rules)
    return min(now - window, midnight(now, zone))


def midnight(now: datetime, zone: tzinfo) -> datetime:
    """The start of `now`'s day where the readers are."""
    return now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)


def topped_up(history: Sequence[BalanceSnapshot], currency: Currency) -> Decimal | None:
    """The money that arrived at the last check, when there is a cent of it to tell."""
    amount = last_top_up(history, currency)
    return amount if amount >= Decimal("0.01") else None


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
                facts=SpikeFacts(current, currency, rule.period, usual, rule.days),
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
                facts=TopUpFacts(amount, currency, balance.total),
                observed=amount,
            )
        )
    return findings


def runway_limits(
    rule: ThresholdRuleConfig,
    fixed: ThresholdLimits,
    currency: Currency,
    history: Sequence[BalanceSnapshot],
) -> tuple[ThresholdLimits, dict[Decimal, Grown]]:
    """A threshold's limits grown to `warning_runway` / `critical_runway` of spend at the
    current rate, and for each grown limit how it grew. Without enough history the fixed
    limits stand."""
    if (rule.warning_runway is None and rule.critical_runway is None) or not history:
        return fixed, {}
    found = runway(history, currency, history[-1].taken_at, rule.window, rule.min_history)
    if not isinstance(found, Runway):
        return fixed, {}
    notes: dict[Decimal, Grown] = {}

    def grown(limit: Decimal | None, span: timedelta | None) -> Decimal | None:
        if span is None:
            return limit
        days = Decimal(span.total_seconds()) / 86400
        need = found.covering(days)
        if limit is not None and need <= limit:
            return limit
        notes[need] = Grown(days, found.per_day)
        return need

    critical = grown(fixed.critical_below, rule.critical_runway)
    warning = grown(fixed.warning_below, rule.warning_runway)
    if warning is not None and critical is not None:
        warning = max(warning, critical)
    return ThresholdLimits(warning_below=warning, critical_below=critical), notes
