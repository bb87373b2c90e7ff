"""Thresholds in percent of the balance right after the last top-up (issue 24 §4): the
story of a top-up and a drain as pure rules, the history that keeps the top-up, the
words, the validation, and once through the daemon against the fake DeepSeek."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from balancebot import i18n
from balancebot.config import Config, RuleConfig, convert
from balancebot.daemon import Daemon
from balancebot.errors import ConfigError
from balancebot.models import BalanceSnapshot, CurrencyBalance, Finding, LimitBasis, Severity
from balancebot.phrases import describe
from balancebot.recent import RecentResults, retention_for
from balancebot.render import basis_text
from balancebot.rules import evaluate
from balancebot.spend import balance_after_top_up
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator

from .conftest import API_KEY
from .test_pipeline import Recorder


def said(finding: Finding) -> str:
    """A finding in words, as its message says it."""
    return describe(finding.facts, UTC)


T0 = datetime(2026, 3, 1, tzinfo=UTC)
LIMITS = {
    "warning_below": "50",
    "critical_below": "10",
    "warning_below_percent": "20",
    "critical_below_percent": "5",
}


def threshold(**limits: str) -> RuleConfig:
    raw = {"name": "low", "type": "threshold", "thresholds": {"CNY": limits or LIMITS}}
    return convert(raw, RuleConfig)  # type: ignore[arg-type]


def snap(hours: float, paid: str, granted: str = "0") -> BalanceSnapshot:
    g, p = Decimal(granted), Decimal(paid)
    balances = {"CNY": CurrencyBalance(g + p, g, p)}
    return BalanceSnapshot("prod", "deepseek", T0 + timedelta(hours=hours), True, balances)


def verdict(rule: RuleConfig, history: list[BalanceSnapshot]) -> Finding:
    (finding,) = evaluate(rule, history[-1], list(history))
    return finding


def test_the_story_of_a_top_up_and_a_drain() -> None:
    rule = threshold()
    history = [snap(0, "100")]
    seen = []
    for hours, paid in ((1, "40"), (2, "5000"), (3, "900"), (4, "240"), (5, "9")):
        history.append(snap(hours, paid))
        found = verdict(rule, history)
        seen.append((found.severity, found.limit, found.basis))
    assert seen == [
        # no top-up seen yet: the fixed 50 stands, and says so
        (Severity.WARNING, Decimal("50"), LimitBasis(Decimal("20"))),
        # 5,000 after the top-up: warn below 20% of it, 1,000
        (None, Decimal("1000"), LimitBasis(Decimal("20"), Decimal("5000"))),
        (Severity.WARNING, Decimal("1000"), LimitBasis(Decimal("20"), Decimal("5000"))),
        (Severity.CRITICAL, Decimal("250"), LimitBasis(Decimal("5"), Decimal("5000"))),
        (Severity.CRITICAL, Decimal("250"), LimitBasis(Decimal("5"), Decimal("5000"))),
    ]
    assert said(verdict(rule, history)) == "balance 9.00 CNY < 250.00"


def test_the_next_top_up_is_the_new_basis_and_noise_is_not_one() -> None:
    rule = threshold()
    history = [snap(0, "10"), snap(1, "5000"), snap(2, "600"), snap(3, "10600")]
    found = verdict(rule, history)
    assert (found.severity, found.limit) == (None, Decimal("2120.00"))
    # a refund below a cent, or bonus credit granted (not paid), is not a top-up
    history += [snap(4, "2000"), snap(5, "2000.005"), snap(6, "1500.005", granted="500")]
    found = verdict(rule, history)
    assert (found.severity, found.limit) == (Severity.WARNING, Decimal("2120.00"))
    assert found.basis == LimitBasis(Decimal("20"), Decimal("10600"))
    # a refund is no top-up where the account says how small a top-up can be
    refund = [snap(7, "1400"), snap(8, "1405")]
    assert verdict(rule, history + refund).limit == Decimal("281.00")
    careful = threshold(**LIMITS, min_top_up="100")
    assert verdict(careful, history + refund).limit == Decimal("2120.00")


def test_a_top_up_older_than_the_window_is_forgotten() -> None:
    rule = threshold(**LIMITS)
    assert isinstance(rule.top_up_window, timedelta) and rule.top_up_window == timedelta(days=30)
    history = [snap(0, "0"), snap(1, "5000"), snap(24 * 30 - 1, "500")]
    assert verdict(rule, history).limit == Decimal("1000")
    history.append(snap(24 * 30 + 2, "500"))
    found = verdict(rule, history)
    assert (found.severity, found.limit, found.basis) == (None, Decimal("50"), LimitBasis(20))


def test_percent_on_one_level_only_and_a_grown_critical() -> None:
    only_warning = threshold(critical_below="10", warning_below_percent="20")
    history = [snap(0, "5"), snap(1, "5000"), snap(2, "900")]
    found = verdict(only_warning, history)
    assert (found.severity, found.limit) == (Severity.WARNING, Decimal("1000"))
    # before any top-up a level with only a percentage has no limit at all
    assert verdict(only_warning, history[:1]).limit == Decimal("10")
    # a fixed warning below a percentage critical is lifted to it
    lifted = threshold(warning_below="50", critical_below_percent="10")
    assert verdict(lifted, history).limit == Decimal("500")
    history.append(snap(3, "400"))
    found = verdict(lifted, history)
    assert (found.severity, found.limit) == (Severity.CRITICAL, Decimal("500"))
    assert found.basis == LimitBasis(Decimal("10"), Decimal("5000"))


def test_fixed_only_thresholds_say_nothing_new() -> None:
    found = verdict(threshold(warning_below="50"), [snap(0, "0"), snap(1, "5000"), snap(2, "9")])
    assert (found.limit, found.basis) == (Decimal("50"), None)


def test_the_words_in_english_and_chinese() -> None:
    top_up = LimitBasis(Decimal("12"), Decimal("5000"))
    assert basis_text(top_up, "CNY") == "(12% of the last top-up of 5,000.00 CNY)"
    assert basis_text(LimitBasis(Decimal("12.50")), "CNY") == (
        "(fixed until a top-up is seen, then 12.5% of it)"
    )
    i18n.activate("zh")
    try:
        words = basis_text(top_up, "CNY"), basis_text(LimitBasis(Decimal("12")), "CNY")
    finally:
        i18n.activate("en")
    assert words == (
        "（上次充值后余额 5,000.00 CNY 的 12%）",
        "（固定限额，见到充值后改为充值后余额的 12%）",
    )


@pytest.mark.parametrize(
    ("limits", "problem"),
    [
        ({"warning_below": "50", "warning_below_percent": "0"}, "above 0 and at most 100"),
        ({"warning_below": "50", "critical_below_percent": "100.5"}, "above 0 and at most 100"),
        ({"warning_below": "50", "warning_below_percent": "-5"}, "above 0 and at most 100"),
        ({"warning_below": "50", "warning_below_percent": "NaN"}, "not a finite amount"),
        # once accepted: each alert said "then 0.000…1% of it" with a million zeros (1 MB)
        ({"warning_below": "50", "warning_below_percent": "1e-999999"}, "more than 8 decimal"),
        # and this one "then 0% of it" (the exponent is below what Decimal keeps)
        ({"warning_below": "50", "critical_below_percent": "1e-999999999"}, "more than 8 decimal"),
        ({"warning_below": "50", "warning_below_percent": "12.123456789"}, "more than 8 decimal"),
        (
            {"warning_below": "50", "warning_below_percent": "5", "critical_below_percent": "6"},
            "critical_below_percent must not be above warning_below_percent",
        ),
        ({"warning_below_percent": "20"}, "set warning_below, critical_below or both"),
        ({"warning_below": "50", "min_top_up": "0"}, "min_top_up must be positive"),
    ],
)
def test_bad_percentages_are_config_errors(limits: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        threshold(**limits)
    assert any(problem in p for p in raised.value.problems), raised.value.problems


def test_the_history_keeps_the_top_up_however_thin() -> None:
    """A percentage rule keeps the two snapshots either side of each top-up for
    `top_up_window`, and nothing else beyond what the other rules need: ten days of hourly
    checks are 1 kept snapshot plus the top-up's 2, and the balance after it is exact."""
    keep = retention_for([threshold()])
    assert (keep.span, keep.top_ups, keep.reach) == (timedelta(0), timedelta(days=30), keep.top_ups)
    recent = RecentResults((), keep)
    paid = Decimal("300")
    for hour in range(24 * 10):
        paid = paid - 1 if hour != 100 else paid + 4000
        recent.append(snap(hour, str(paid)))
    kept = [r for r in recent if isinstance(r, BalanceSnapshot)]
    assert [s.balances["CNY"].total for s in kept] == [Decimal(200), Decimal(4200), Decimal(4061)]
    assert len(recent) == 3
    assert balance_after_top_up(kept, "CNY", T0, Decimal("0.01")) == Decimal("4200")  # 200 + 4,000
    # 31 days on the top-up is forgotten, as `top_up_window` says
    recent.append(snap(24 * 31 + 101, "4000"))
    assert [s.balances["CNY"].total for s in recent if isinstance(s, BalanceSnapshot)] == [4000]


def test_beside_a_spike_rule_the_top_ups_do_not_widen_the_thinned_span() -> None:
    """A week of quarter-hour snapshots for the spike rule, not thirty days of them: a
    percentage threshold adds only the snapshots around its top-ups."""
    spike = convert({"name": "spike", "type": "spend_spike"}, RuleConfig)
    keep = retention_for([spike, threshold()])  # type: ignore[list-item]
    assert keep.span < timedelta(days=8) and keep.top_ups == timedelta(days=30)
    recent = RecentResults((), keep)
    paid = Decimal("9000")
    for quarter in range(4 * 24 * 20):  # 20 days of quarter-hour checks, a top-up on day 2
        paid = paid - 1 if quarter != 4 * 24 * 2 else paid + 5000
        recent.append(snap(quarter / 4, str(paid)))
    kept = [r for r in recent if isinstance(r, BalanceSnapshot)]
    assert 4 * 24 * 7 < len(kept) < 4 * 24 * 7 + 16  # a week (and two periods) + the pair
    assert kept[0].taken_at < kept[2].taken_at - timedelta(days=10)  # the pair, then the week
    assert balance_after_top_up(kept, "CNY", T0, Decimal("0.01")) == kept[1].balances["CNY"].total
    assert kept[1].balances["CNY"].total - kept[0].balances["CNY"].total == 5000


def percent_config(simulator: DeepSeekSimulator, make_config: Callable[..., Any]) -> Config:
    config: Config = make_config(
        accounts=[{"name": "prod", "api_key": API_KEY, "base_url": simulator.base_url}],
        rules=[{"name": "low", "type": "threshold", "thresholds": {"CNY": LIMITS}}],
        notifiers=[{"name": "team", "type": "console"}],
    )
    return config


async def test_through_the_daemon_against_the_fake_deepseek(
    simulator: DeepSeekSimulator, make_config: Callable[..., Config], clock: FakeClock
) -> None:
    config = percent_config(simulator, make_config)
    account = simulator.add_account(API_KEY, {"CNY": ("0.00", "40.00")})
    team = Recorder("team")

    async def check(d: Daemon, paid: str) -> None:
        account.topped_up["CNY"] = Decimal(paid)
        clock.advance(3600)
        await d.pipeline.check("prod")
        await d.dispatcher.deliver_due()

    async with Daemon.open(config, clock, {"team": team}) as d:
        await check(d, "40")
        await check(d, "5000")  # the top-up: 5,000 is well above 20% of itself
        await check(d, "900")
    # a restart reads the top-up back from the store: the percentage still applies
    async with Daemon.open(config, clock, {"team": team}) as d:
        await check(d, "200")
    lines = [
        (n.headline, next(line for line in n.details if line.startswith("Threshold:")))
        for n in team.sent
    ]
    assert lines == [
        (
            "WARNING: prod DeepSeek balance 40.00 CNY < 50.00",
            "Threshold: 50.00 CNY (fixed until a top-up is seen, then 20% of it)",
        ),
        (
            "RESOLVED: prod DeepSeek balance 5000.00 CNY ≥ 1000.00 (topped up +4960.00 CNY)",
            "Threshold: 1000.00 CNY (20% of the last top-up of 5,000.00 CNY)",
        ),
        (
            "WARNING: prod DeepSeek balance 900.00 CNY < 1000.00",
            "Threshold: 1000.00 CNY (20% of the last top-up of 5,000.00 CNY)",
        ),
        (
            "CRITICAL (escalated): prod DeepSeek balance 200.00 CNY < 250.00",
            "Threshold: 250.00 CNY (5% of the last top-up of 5,000.00 CNY)",
        ),
    ]
