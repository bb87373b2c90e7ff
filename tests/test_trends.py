"""Trend rules as pure functions: runway, the threshold that grows with spend, spend
spikes and top-ups, each with a table of cases and hypothesis properties."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from balancebot import i18n
from balancebot.config import RuleConfig, convert
from balancebot.errors import ConfigError
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
from balancebot.phrases import describe, left_text, waiting_text
from balancebot.rules import evaluate
from balancebot.trends import history_state

CNY, USD = "CNY", "USD"
NOW = datetime(2026, 3, 11, 6, 48, tzinfo=UTC)  # a Wednesday
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def rule(**raw: Any) -> RuleConfig:
    return convert({"name": raw.pop("name", raw["type"]), **raw}, RuleConfig)  # type: ignore[arg-type]


def snap(
    hours_ago: float, cny: str | None = None, granted: str = "0", usd: str | None = None
) -> BalanceSnapshot:
    balances = {}
    for currency, topped in ((CNY, cny), (USD, usd)):
        if topped is not None:
            g = Decimal(granted) if currency is CNY else Decimal(0)
            balances[currency] = CurrencyBalance(Decimal(topped) + g, g, Decimal(topped))
    return BalanceSnapshot("prod", "deepseek", NOW - timedelta(hours=hours_ago), True, balances)


def failure(hours_ago: float) -> CheckFailure:
    return CheckFailure(
        "prod", "deepseek", NOW - timedelta(hours=hours_ago), FailureKind.TIMEOUT, "slow"
    )


def run(r: RuleConfig, history: list[CheckResult]) -> list[Finding]:
    return evaluate(r, history[-1], history)


def said(finding: Finding, zone: Any = UTC) -> str:
    """A finding in words, as its message says it to readers in `zone`."""
    return describe(finding.facts, zone)


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1
    return findings[0]


# --- runway ---

RUNWAY = rule(type="runway", warning_days="3", critical_days="1", hysteresis="0.5")


def test_runway_reads_like_a_person() -> None:
    history: list[CheckResult] = [snap(24, "138.93"), snap(0, "96.83")]  # 42.10 a day
    found = only(run(RUNWAY, history))
    assert found.key == AlertKey("prod", "runway", "CNY")
    assert found.severity is Severity.WARNING and found.observed == Decimal("2.3")
    assert said(found) == (
        "at 42.10 CNY/day (last 24 h) runs out in about 2.3 days, around Fri 14:00"
    )
    assert said(only(run(RUNWAY, history)), SHANGHAI).endswith("around Fri 22:00")


@pytest.mark.parametrize(
    ("now", "severity", "sticky"),
    [
        ("200", None, None),  # 4.75 days
        ("140", None, Severity.WARNING),  # 3.33 days: inside the half-day margin
        ("100", Severity.WARNING, Severity.WARNING),  # 2.4 days
        ("45", Severity.WARNING, Severity.CRITICAL),  # 1.07 days: in the margin of 1 day
        ("30", Severity.CRITICAL, Severity.CRITICAL),
        ("0", Severity.CRITICAL, Severity.CRITICAL),
    ],
)
def test_runway_levels_and_hysteresis(
    now: str, severity: Severity | None, sticky: Severity | None
) -> None:
    history: list[CheckResult] = [snap(12, str(Decimal(now) + 21)), snap(0, now)]  # 42/day
    found = only(run(RUNWAY, history))
    assert (found.severity, found.sticky_severity) == (severity, sticky)


def test_runway_has_no_verdict_without_enough_history() -> None:
    history: list[CheckResult] = [snap(5, "100"), snap(0, "10")]
    assert run(RUNWAY, history) == []  # 5 h < the 6 h minimum: the state stays as it was
    waiting = history_state([RUNWAY], history)
    assert [(w.rule, w.currency) for w in waiting] == [("runway", CNY)]
    assert waiting_text(waiting[0].waiting) == "not enough history yet (5 h of 6 h)"
    shorter = rule(type="runway", warning_days="3", min_history="4h")
    assert only(run(shorter, history)).severity is Severity.WARNING
    assert history_state([shorter], history) == []
    assert history_state([RUNWAY], [failure(0)]) == []


def test_runway_window_and_currencies() -> None:
    # spend was fast two days ago and nothing since: a 24 h window sees no spend
    history: list[CheckResult] = [snap(48, "900"), snap(30, "100"), snap(10, "100"), snap(0, "100")]
    clear = only(run(RUNWAY, history))
    assert clear.severity is None and clear.observed is None
    assert said(clear) == "no spend in the last 10 h, no end in sight"  # all it has
    week = rule(type="runway", warning_days="3", window="3d")
    assert only(run(week, history)).severity is Severity.WARNING
    both: list[CheckResult] = [snap(12, "50", usd="9"), snap(0, "40", usd="1")]
    assert {f.key.subject for f in run(RUNWAY, both)} == {"CNY", "USD"}
    usd_only = rule(type="runway", critical_days="1", currencies=["USD"])
    assert only(run(usd_only, both)).key.subject == "USD"
    assert run(RUNWAY, [*both, failure(0)]) == []


def test_runway_resolves_with_the_top_up_and_says_so() -> None:
    history: list[CheckResult] = [snap(24, "142"), snap(1, "100"), snap(0, "600")]
    found = only(run(RUNWAY, history))
    assert found.severity is None
    assert said(found) == (
        "at 42.00 CNY/day (last 24 h) lasts about 14.3 days (topped up +500.00 CNY)"
    )


def test_expired_grants_shorten_the_runway() -> None:
    history: list[CheckResult] = [snap(24, "10", granted="50"), snap(0, "10", granted="0")]
    found = only(run(RUNWAY, history))
    assert found.severity is Severity.CRITICAL and found.observed == Decimal("0.2")


@given(
    drops=st.lists(st.decimals(min_value=0, max_value=100, places=2), min_size=1, max_size=30),
    start=st.decimals(min_value=0, max_value=5000, places=2),
)
def test_runway_severity_follows_days_left(drops: list[Decimal], start: Decimal) -> None:
    """Never a verdict from too little history; the severity is the days left against
    the limits; the sticky severity is never below it."""
    history: list[CheckResult] = []
    balance = start + sum(drops)
    for i, drop in enumerate([Decimal(0), *drops]):
        balance -= drop
        history.append(snap(len(drops) - i, str(balance)))
    findings = run(RUNWAY, history)
    if len(drops) < 6:
        assert findings == []
        return
    found = only(findings)
    spent = sum(drops[-24:], Decimal(0))
    days = None if spent == 0 else balance / (spent / min(len(drops), 24) * 24)
    assert found.observed == (None if days is None else pytest.approx(days))
    expected = (
        None if days is None or days >= 3 else Severity.CRITICAL if days < 1 else Severity.WARNING
    )
    assert found.severity is expected
    if found.severity is not None:
        assert found.sticky_severity is not None and found.sticky_severity >= found.severity


# --- the threshold that grows with spend ---

GROWING = rule(
    type="threshold",
    warning_runway="2d",
    critical_runway="12h",
    hysteresis="5",
    thresholds={"CNY": {"warning_below": "20", "critical_below": "10"}},
)


@pytest.mark.parametrize(
    ("before", "now", "severity", "limit", "description"),
    [
        # idle: 0.10 a day, the fixed limits stand
        ("100.10", "100.00", None, "20", "balance 100.00 CNY ≥ 20.00"),
        ("19.10", "19.00", Severity.WARNING, "20", "balance 19.00 CNY < 20.00"),
        # busy: 42.10 a day, warn below 84.20, critical below 21.05
        (
            "142.10",
            "100.00",
            None,
            "84.20",
            "balance 100.00 CNY ≥ 84.20 (2 days at 42.10/day)",
        ),
        (
            "122.10",
            "80.00",
            Severity.WARNING,
            "84.20",
            "balance 80.00 CNY < 84.20 (2 days at 42.10/day)",
        ),
        (
            "62.10",
            "20.00",
            Severity.CRITICAL,
            "21.05",
            "balance 20.00 CNY < 21.05 (0.5 days at 42.10/day)",
        ),
    ],
)
def test_threshold_grows_with_the_spend_rate(
    before: str, now: str, severity: Severity | None, limit: str, description: str
) -> None:
    found = only(run(GROWING, [snap(24, before), snap(0, now)]))
    assert found.severity is severity and found.limit == Decimal(limit)
    assert said(found) == description


def test_threshold_keeps_its_fixed_limits_without_enough_history() -> None:
    found = only(run(GROWING, [snap(1, "142.10"), snap(0, "80")]))
    assert found.severity is None and found.limit == Decimal("20")


def test_growing_threshold_keeps_hysteresis() -> None:
    # warning below 84.20 at this rate; 87 is above it but inside the 5.00 margin
    found = only(run(GROWING, [snap(24, "129.10"), snap(0, "87")]))
    assert found.severity is None and found.sticky_severity is Severity.WARNING


def test_resolved_threshold_mentions_the_top_up() -> None:
    history: list[CheckResult] = [snap(2, "9"), snap(1, "8"), snap(0, "508")]
    plain = rule(type="threshold", thresholds={"CNY": {"warning_below": "20"}})
    found = only(run(plain, history))
    assert said(found) == "balance 508.00 CNY ≥ 20.00 (topped up +500.00 CNY)"
    assert "topped up" not in said(only(run(plain, history[:2])))


@given(
    before=st.decimals(min_value=0, max_value=1000, places=2),
    now=st.decimals(min_value=0, max_value=1000, places=2),
    hours=st.integers(min_value=1, max_value=48),
)
def test_growing_limits_are_never_below_the_fixed_ones(
    before: Decimal, now: Decimal, hours: int
) -> None:
    history: list[CheckResult] = [snap(hours, str(before)), snap(0, str(now))]
    grown = only(run(GROWING, history))
    fixed = rule(
        type="threshold",
        hysteresis="5",
        thresholds={"CNY": {"warning_below": "20", "critical_below": "10"}},
    )
    plain = only(run(fixed, history))
    assert grown.limit is not None and plain.limit is not None
    assert (grown.severity or 0) >= (plain.severity or 0)
    assert (grown.sticky_severity or 0) >= (plain.sticky_severity or 0)
    if grown.severity == plain.severity:  # the same level's limit, grown or not
        assert grown.limit >= plain.limit
    rate = max(Decimal(0), before - now) / hours * 24
    measured = 6 <= hours <= 24  # the 24 h window holds both snapshots, 6 h apart or more
    if rate * 2 > 20 and grown.severity is not Severity.CRITICAL and measured:
        # the warning limit is two days of spend (to the last of 28 digits: the runway
        # divides by seconds, this by hours)
        assert abs(grown.limit - rate * 2) < Decimal("1e-20")
    if not measured:
        assert grown == plain


# --- spend spikes ---

SPIKE = rule(type="spend_spike", factor="3", min_spend="1")


def hourly(spends: list[str], start: str = "10000") -> list[CheckResult]:
    """One check an hour; `spends[i]` was spent in the hour before check i+1."""
    balance = Decimal(start)
    history: list[CheckResult] = [snap(len(spends), str(balance))]
    for i, spend in enumerate(spends):
        balance -= Decimal(spend)
        history.append(snap(len(spends) - i - 1, str(balance)))
    return history


@pytest.mark.parametrize(
    ("spends", "severity"),
    [
        (["2"] * 48 + ["6"], None),  # 3 x the usual is not above it
        (["2"] * 48 + ["6.01"], Severity.WARNING),
        (["0"] * 48 + ["0.99"], None),  # below min_spend: idle accounts don't page
        (["0"] * 48 + ["1.01"], Severity.WARNING),
        (["1", "9"] * 24 + ["15"], None),  # the median of 1s and 9s is 5
        (["1", "9"] * 24 + ["15.01"], Severity.WARNING),
    ],
)
def test_spend_spike(spends: list[str], severity: Severity | None) -> None:
    found = only(run(SPIKE, hourly(spends)))
    assert found.severity is severity and found.sticky_severity is severity
    assert found.observed == Decimal(spends[-1])
    assert found.key == AlertKey("prod", "spend_spike", "CNY")


def test_spike_message_and_period() -> None:
    found = only(run(SPIKE, hourly(["2"] * 48 + ["30"])))
    assert said(found) == ("spent 30.00 CNY in the last 1 h; usually 2.00 (median over 7 days)")
    quarter = rule(type="spend_spike", period="15m", min_history="12h")
    quarterly: list[CheckResult] = [
        BalanceSnapshot(
            "prod",
            "deepseek",
            NOW - timedelta(minutes=15 * (60 - i)),
            True,
            {CNY: CurrencyBalance(Decimal(1000 - i), Decimal(0), Decimal(1000 - i))},
        )
        for i in range(60)
    ]
    last = quarterly[-1]
    assert isinstance(last, BalanceSnapshot)
    burst = BalanceSnapshot(
        "prod",
        "deepseek",
        NOW,
        True,
        {CNY: CurrencyBalance(Decimal(900), Decimal(0), Decimal(900))},
    )
    found = only(run(quarter, [*quarterly, burst]))
    assert found.severity is Severity.WARNING
    assert said(found).startswith("spent 41.00 CNY in the last 15 min")


def test_spike_needs_history_and_ignores_gaps() -> None:
    assert run(SPIKE, hourly(["2"] * 20 + ["60"])) == []  # less than a day of past hours
    # a day of history, then the monitor was down for three days: those hours are
    # unknown, not zero, and do not drag the median down
    history = hourly(["2"] * 30)
    gap_start = history[-1]
    assert isinstance(gap_start, BalanceSnapshot)
    shifted = [
        BalanceSnapshot(s.account, s.provider, s.taken_at - timedelta(days=3), True, s.balances)
        for s in history
        if isinstance(s, BalanceSnapshot)
    ]
    resumed = [
        *shifted,
        snap(1, str(gap_start.balances[CNY].total - 2)),
        snap(0, str(gap_start.balances[CNY].total - 5)),
    ]
    assert only(run(SPIKE, resumed)).severity is None  # 3 is not above 3 x 2
    assert run(SPIKE, [*hourly(["2"] * 48), failure(0)]) == []


@given(
    spends=st.lists(st.decimals(min_value=0, max_value=50, places=2), min_size=25, max_size=60),
)
def test_spike_fires_exactly_above_both_limits(spends: list[Decimal]) -> None:
    found = only(run(SPIKE, hourly([str(s) for s in spends])))
    past = sorted(spends[:-1][-168:])
    mid = len(past) // 2
    median = past[mid] if len(past) % 2 else (past[mid - 1] + past[mid]) / 2
    fires = spends[-1] > max(3 * median, Decimal(1))
    assert (found.severity is Severity.WARNING) == fires


# --- top-ups ---

TOP_UP = rule(type="top_up")


def test_top_up_is_an_info_notice() -> None:
    found = only(run(TOP_UP, [snap(1, "12.30"), snap(0, "512.30")]))
    assert found.severity is Severity.INFO and found.sticky_severity is None
    assert said(found) == "topped up +500.00 CNY, now 512.30"
    assert found.key == AlertKey("prod", "top_up", "CNY")
    quiet = only(run(TOP_UP, [snap(1, "12.30"), snap(0, "12.00")]))
    assert quiet.severity is None
    assert only(run(TOP_UP, [snap(0, "12.30")])).severity is None  # the first check
    assert run(TOP_UP, [snap(1, "12.30"), failure(0)]) == []


def test_top_up_across_failed_checks_and_noise() -> None:
    history: list[CheckResult] = [snap(3, "10"), failure(2), failure(1), snap(0, "60")]
    assert only(run(TOP_UP, history)).observed == Decimal("50")
    assert only(run(TOP_UP, [snap(1, "10"), snap(0, "10.005")])).severity is None
    bigger = rule(type="top_up", min_amount="100")
    assert only(run(bigger, [snap(1, "10"), snap(0, "60")])).severity is None
    # granted credit arriving is not a top-up; spend from it is not either
    assert (
        only(run(TOP_UP, [snap(1, "10", granted="0"), snap(0, "10", granted="5")])).severity is None
    )


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"type": "top_up", "send_resolved": True}, "nothing to resolve"),
        ({"type": "top_up", "for": 2}, "must be 1"),
        ({"type": "top_up", "min_amount": "0"}, "min_amount must be positive"),
        ({"type": "runway"}, "set warning_days, critical_days or both"),
        ({"type": "runway", "warning_days": "1", "critical_days": "2"}, "not be above"),
        ({"type": "runway", "warning_days": "1", "min_history": "2d"}, "min_history"),
        ({"type": "runway", "warning_days": "-1"}, "warning_days must be positive"),
        ({"type": "runway", "warning_days": "inf"}, "not a finite amount"),
        ({"type": "spend_spike", "factor": "0"}, "factor must be positive"),
        ({"type": "spend_spike", "period": "2d"}, "at most 1d"),
        ({"type": "spend_spike", "days": 1, "min_history": "2d"}, "min_history"),
        (
            {
                "type": "threshold",
                "warning_runway": "1d",
                "critical_runway": "2d",
                "thresholds": {"CNY": {"warning_below": "1"}},
            },
            "critical_runway must not be above warning_runway",
        ),
        (
            {
                "type": "threshold",
                "warning_runway": "1d",
                "window": "1h",
                "thresholds": {"CNY": {"warning_below": "1"}},
            },
            "min_history must not be above window",
        ),
    ],
)
def test_bad_trend_rules_are_config_errors(raw: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        rule(**raw)


def test_runway_message_in_chinese() -> None:
    history: list[CheckResult] = [snap(24, "138.93"), snap(0, "96.83")]
    found = only(run(RUNWAY, history))
    i18n.activate("zh")  # the words are made when the message is, in its language
    try:
        text = said(found)
    finally:
        i18n.activate("en")
    assert text == "按每天 42.10 CNY（最近 24 小时）计，约 2.3 天后用完，预计在 周五 14:00 左右"


@pytest.mark.parametrize(
    ("days", "text"),
    [
        ("2.34", "2.3 days"),
        ("1", "1.0 days"),
        ("0.5", "12 h"),
        ("0.05", "1 h"),
        ("0.03", "43 min"),
        ("0.0002", "1 min"),
        ("0", "1 min"),
    ],
)
def test_runway_in_the_unit_a_person_would_use(days: str, text: str) -> None:
    assert left_text(Decimal(days)) == text


def test_the_rate_names_the_span_it_has() -> None:
    history: list[CheckResult] = [snap(0.01, "100"), snap(0, "99")]  # 36 seconds
    short = rule(type="runway", warning_days="1", window="1h", min_history="10s")
    found = only(run(short, history))
    assert said(found).startswith("at 2400.00 CNY/day (last 36 s) runs out in about 59 min")
    for covered, window, named in [
        ("0.5", "2h", "30 min"),
        ("1.6", "3h", "2 h"),
        ("22", "24h", "24 h"),  # nearly full: the window
        ("48", "3d", "2 days"),
    ]:
        r = rule(type="runway", warning_days="1", window=window, min_history="1s")
        text = said(only(run(r, [snap(float(covered), "100"), snap(0, "99")])))
        assert f"(last {named})" in text, text


@given(
    before=st.decimals(min_value=0, max_value=1000, places=3),
    after=st.decimals(min_value=0, max_value=1000, places=3),
    granted_before=st.decimals(min_value=0, max_value=50, places=2),
    granted_after=st.decimals(min_value=0, max_value=50, places=2),
    minimum=st.sampled_from(["0.01", "1", "100"]),
)
def test_a_top_up_is_a_rise_in_topped_up_credit(
    before: Decimal, after: Decimal, granted_before: Decimal, granted_after: Decimal, minimum: str
) -> None:
    """Only topped-up credit rising by min_amount or more is a top-up; granted credit
    coming or going never is; the notice names the rise and the new total."""
    history: list[CheckResult] = [
        snap(1, str(before), granted=str(granted_before)),
        snap(0, str(after), granted=str(granted_after)),
    ]
    found = only(run(rule(type="top_up", min_amount=minimum), history))
    rise = after - before
    assert (found.severity is Severity.INFO) == (rise >= Decimal(minimum))
    assert found.observed == max(Decimal(0), rise)
    assert found.sticky_severity is None
    if found.severity:
        total = after + granted_after
        assert said(found) == f"topped up +{rise:.2f} CNY, now {total:.2f}"
