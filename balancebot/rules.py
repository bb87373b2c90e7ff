"""Rules: pure functions from a check result (and the account's recent history) to findings.

A rule that cannot judge (the check failed, a currency is missing) returns no finding for
that key, so the alert state stays as it was: garbage never fires or resolves an alert.
A watched currency missing from an answer is "no data": the `check_failed` rule counts it
as a failed check, never as a good one. A finding carries what the rule saw as data
(`facts.py`); `phrases.py` says it in words.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from decimal import Decimal

from .config import (
    CheckFailedRuleConfig,
    RuleConfig,
    RunwayRuleConfig,
    SpendSpikeRuleConfig,
    ThresholdLimits,
    ThresholdRuleConfig,
    TopUpRuleConfig,
    UnavailableRuleConfig,
)
from .facts import AvailabilityFacts, BalanceFacts, FailureFacts
from .models import (
    AlertKey,
    BalanceSnapshot,
    CheckFailure,
    CheckResult,
    Currency,
    FailureKind,
    Finding,
    LimitBasis,
    Severity,
)
from .spend import balance_after_top_up
from .trends import below, evaluate_trend, runway_limits, snapshots, topped_up


def evaluate(
    rule: RuleConfig,
    result: CheckResult,
    recent: Sequence[CheckResult] = (),
    watched: Collection[Currency] = (),
) -> list[Finding]:
    """`recent` is the account's history, oldest first, ending with `result`; `watched`,
    the currencies the account's threshold rules need (see `watched_currencies`)."""
    match rule:
        case ThresholdRuleConfig():
            return _threshold(rule, result, recent)
        case RunwayRuleConfig() | SpendSpikeRuleConfig() | TopUpRuleConfig():
            return evaluate_trend(rule, result, recent)
        case UnavailableRuleConfig():
            return _unavailable(rule, result)
        case CheckFailedRuleConfig():
            return [_check_failed(rule, result, recent or (result,), watched)]


def watched_currencies(rules: Sequence[RuleConfig]) -> frozenset[Currency]:
    """Currencies some threshold rule among `rules` compares against a limit."""
    return frozenset(c for r in rules if isinstance(r, ThresholdRuleConfig) for c in r.thresholds)


def missing_currencies(rules: Sequence[RuleConfig], result: CheckResult) -> list[Currency]:
    """Watched currencies a successful answer lacks: "no data" for them, never OK.
    (A failed check lacks everything and says so itself: empty here.)"""
    return _missing(watched_currencies(rules), result)


def _missing(watched: Collection[Currency], result: CheckResult) -> list[Currency]:
    if not isinstance(result, BalanceSnapshot):
        return []
    return sorted(c for c in watched if c not in result.balances)


def history_needed(rules: Sequence[RuleConfig]) -> int:
    """How many recent results the rules look at, so callers keep no more."""
    return max((r.after_failures for r in rules if isinstance(r, CheckFailedRuleConfig)), default=1)


def _severity_below(value: Decimal, limits: ThresholdLimits, margin: Decimal) -> Severity | None:
    return below(value, limits.warning_below, limits.critical_below, margin)


def _threshold(
    rule: ThresholdRuleConfig, result: CheckResult, recent: Sequence[CheckResult]
) -> list[Finding]:
    if not isinstance(result, BalanceSnapshot):
        return []
    history = snapshots(recent, result)
    findings = []
    for currency, fixed in rule.thresholds.items():
        balance = result.balances.get(currency)
        if balance is None:
            continue
        limits, warning_basis, critical_basis = percent_limits(rule, fixed, currency, history)
        limits, notes = runway_limits(rule, limits, currency, history)
        value = balance.total
        severity = _severity_below(value, limits, Decimal(0))
        if severity is Severity.CRITICAL or limits.warning_below is None:
            limit, basis = limits.critical_below, critical_basis
        else:
            limit, basis = limits.warning_below, warning_basis
        assert limit is not None  # ThresholdLimits requires at least one limit
        facts = BalanceFacts(
            value=value,
            currency=currency,
            limit=limit,
            below=severity is not None,
            grown=notes.get(limit),
            topped_up=None if severity else topped_up(history, currency),
        )
        findings.append(
            Finding(
                key=AlertKey(result.account, rule.name, currency),
                severity=severity,
                sticky_severity=_severity_below(value, limits, rule.hysteresis),
                facts=facts,
                observed=value,
                limit=limit,
                basis=None if limit in notes else basis,  # a grown limit says its own why
            )
        )
    return findings


def percent_limits(
    rule: ThresholdRuleConfig,
    fixed: ThresholdLimits,
    currency: Currency,
    history: Sequence[BalanceSnapshot],
) -> tuple[ThresholdLimits, LimitBasis | None, LimitBasis | None]:
    """A threshold's limits with `*_below_percent` of the balance right after the last
    top-up in `top_up_window` in place of the fixed ones, and the basis of the warning and
    critical limit (None where no percentage is set). Until a top-up has been seen the
    fixed limits stand: a level with only a percentage has no limit then."""
    if not fixed.percents or not history:
        return fixed, None, None
    since = history[-1].taken_at - rule.top_up_window
    top_up = balance_after_top_up(history, currency, since, fixed.min_top_up)

    def level(
        limit: Decimal | None, percent: Decimal | None
    ) -> tuple[Decimal | None, LimitBasis | None]:
        if percent is None:
            return limit, None
        if top_up is None:
            return limit, LimitBasis(percent)
        return top_up * percent / 100, LimitBasis(percent, top_up)

    critical, critical_basis = level(fixed.critical_below, fixed.critical_below_percent)
    warning, warning_basis = level(fixed.warning_below, fixed.warning_below_percent)
    if warning is not None and critical is not None and critical > warning:
        warning, warning_basis = critical, critical_basis  # a fixed warning under a % critical
    limits = ThresholdLimits(warning_below=warning, critical_below=critical)
    return limits, warning_basis, critical_basis


def _unavailable(rule: UnavailableRuleConfig, result: CheckResult) -> list[Finding]:
    if not isinstance(result, BalanceSnapshot):
        return []
    severity = None if result.is_available else Severity.CRITICAL
    return [
        Finding(
            key=AlertKey(result.account, rule.name),
            severity=severity,
            sticky_severity=severity,
            facts=AvailabilityFacts(available=result.is_available),
        )
    ]


def _check_failed(
    rule: CheckFailedRuleConfig,
    result: CheckResult,
    recent: Sequence[CheckResult],
    watched: Collection[Currency],
) -> Finding:
    key = AlertKey(result.account, rule.name)
    missing = _missing(watched, result)
    if not isinstance(result, CheckFailure) and not missing:
        return Finding(key, None, None, FailureFacts(0))
    message = result.message if isinstance(result, CheckFailure) else None
    failures = 0
    for past in reversed(recent):
        if not isinstance(past, CheckFailure) and not _missing(watched, past):
            break
        failures += 1
    severity: Severity | None = None
    if isinstance(result, CheckFailure) and result.kind is FailureKind.AUTH:
        severity = Severity.CRITICAL
    elif failures >= rule.after_failures:
        severity = Severity.WARNING
    return Finding(
        key=key,
        severity=severity,
        # while checks keep failing, an open alert stays open at least as a warning
        sticky_severity=severity or Severity.WARNING,
        facts=FailureFacts(failures, message, tuple(missing)),
        observed=Decimal(failures),
        limit=Decimal(rule.after_failures),
    )
