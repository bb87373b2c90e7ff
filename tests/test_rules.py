from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from balancebot.config import Config, RuleConfig
from balancebot.configure import parse_config
from balancebot.models import (
    AlertKey,
    BalanceSnapshot,
    CheckFailure,
    CheckResult,
    CurrencyBalance,
    FailureKind,
    Finding,
    Severity,
)
from balancebot.phrases import describe
from balancebot.rules import evaluate, history_needed


def said(finding: Finding) -> str:
    """A finding in words, as its message says it."""
    return describe(finding.facts, UTC)


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def config(tmp_path: Path) -> Config:
    return parse_config(
        {
            "accounts": [{"name": "prod", "api_key": "k"}],
            "rules": [
                {
                    "name": "low",
                    "type": "threshold",
                    "hysteresis": "2",
                    "thresholds": {
                        "CNY": {"warning_below": "20", "critical_below": "10"},
                        "USD": {"critical_below": "1"},
                    },
                },
                {"name": "down", "type": "unavailable"},
                {"name": "failing", "type": "check_failed", "after_failures": 3},
            ],
        },
        tmp_path,
        env={},
    )


def rule(tmp_path: Path, name: str) -> RuleConfig:
    return next(r for r in config(tmp_path).rules if r.name == name)


def snapshot(
    cny: str | None = None, usd: str | None = None, available: bool = True
) -> BalanceSnapshot:
    balances = {}
    for currency, total in (("CNY", cny), ("USD", usd)):
        if total is not None:
            balances[currency] = CurrencyBalance(Decimal(total), Decimal(0), Decimal(total))
    return BalanceSnapshot("prod", "deepseek", T0, available, balances)


def failure(kind: FailureKind = FailureKind.TIMEOUT) -> CheckFailure:
    return CheckFailure("prod", "deepseek", T0, kind, "no answer")


@pytest.mark.parametrize(
    ("total", "severity", "sticky", "text"),
    [
        ("25.00", None, None, "balance 25.00 CNY ≥ 20.00"),
        ("21.99", None, Severity.WARNING, "balance 21.99 CNY ≥ 20.00"),
        ("20.00", None, Severity.WARNING, "balance 20.00 CNY ≥ 20.00"),
        ("19.99", Severity.WARNING, Severity.WARNING, "balance 19.99 CNY < 20.00"),
        ("11.00", Severity.WARNING, Severity.CRITICAL, "balance 11.00 CNY < 20.00"),
        ("9.50", Severity.CRITICAL, Severity.CRITICAL, "balance 9.50 CNY < 10.00"),
        ("-3", Severity.CRITICAL, Severity.CRITICAL, "balance -3.00 CNY < 10.00"),
    ],
)
def test_threshold_levels_and_hysteresis(
    tmp_path: Path, total: str, severity: Severity | None, sticky: Severity | None, text: str
) -> None:
    [finding] = evaluate(rule(tmp_path, "low"), snapshot(cny=total))
    assert finding.key == AlertKey("prod", "low", "CNY")
    assert (finding.severity, finding.sticky_severity, said(finding)) == (
        severity,
        sticky,
        text,
    )


def test_threshold_watches_every_currency_present(tmp_path: Path) -> None:
    findings = evaluate(rule(tmp_path, "low"), snapshot(cny="50", usd="0.5"))
    assert [(f.key.subject, f.severity) for f in findings] == [
        ("CNY", None),
        ("USD", Severity.CRITICAL),
    ]
    assert evaluate(rule(tmp_path, "low"), snapshot(usd="5"))[0].key.subject == "USD"


@pytest.mark.parametrize("name", ["low", "down"])
def test_no_data_no_finding(tmp_path: Path, name: str) -> None:
    """A failed check or a missing currency must neither fire nor resolve balance alerts."""
    assert evaluate(rule(tmp_path, name), failure()) == []
    assert evaluate(rule(tmp_path, "low"), snapshot()) == []


def test_unavailable(tmp_path: Path) -> None:
    [down] = evaluate(rule(tmp_path, "down"), snapshot(cny="5", available=False))
    assert down.severity is Severity.CRITICAL
    [up] = evaluate(rule(tmp_path, "down"), snapshot(cny="5"))
    assert up.severity is None


def test_check_failed_counts_consecutive_failures(tmp_path: Path) -> None:
    failing = rule(tmp_path, "failing")
    history: list[CheckResult] = [failure(), snapshot(cny="5"), failure(), failure()]
    [one] = evaluate(failing, history[0], history[:1])
    assert "failed 1 time in a row" in said(one)  # ngettext: no "time(s)"
    [two] = evaluate(failing, history[-1], history)
    assert (two.severity, two.sticky_severity) == (None, Severity.WARNING)
    history.append(failure())
    [three] = evaluate(failing, history[-1], history)
    assert three.severity is Severity.WARNING
    assert "3 times in a row" in said(three)
    [ok] = evaluate(failing, snapshot(cny="5"), [*history, snapshot(cny="5")])
    assert ok.severity is None and ok.sticky_severity is None


def test_auth_failure_is_critical_at_once(tmp_path: Path) -> None:
    auth = failure(FailureKind.AUTH)
    [finding] = evaluate(rule(tmp_path, "failing"), auth, [auth])
    assert finding.severity is Severity.CRITICAL


def test_history_needed(tmp_path: Path) -> None:
    assert history_needed(config(tmp_path).rules) == 3
    assert history_needed([rule(tmp_path, "low")]) == 1


@pytest.mark.parametrize(
    ("total", "says"),
    [
        ("19.996", "balance 19.996 CNY < 20.00"),  # two decimals said "20.00 < 20.00"
        ("19.99", "balance 19.99 CNY < 20.00"),
        ("20.004", "balance 20.004 CNY ≥ 20.00"),
        ("20", "balance 20.00 CNY ≥ 20.00"),
        ("9.9999", "balance 9.9999 CNY < 10.00"),
    ],
)
def test_a_balance_never_reads_as_equal_to_the_limit_it_is_below(
    tmp_path: Path, total: str, says: str
) -> None:
    (finding, _) = evaluate(rule(tmp_path, "low"), snapshot(cny=total, usd="5"))
    assert said(finding) == says
