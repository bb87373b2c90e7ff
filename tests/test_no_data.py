"""Issue 11 §3 (daemon side): a watched currency missing from an answer is "no data",
a failed check for the `check_failed` rule; never OK, never a resolved balance alert."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from pathlib import Path

from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.models import Finding, Severity, TransitionKind
from balancebot.phrases import describe, no_data_message
from balancebot.rules import evaluate, missing_currencies
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator, Fault

from .conftest import API_KEY, SUMMARY
from .test_pipeline import RULES, Recorder, step
from .test_rules import config, failure, rule, snapshot


def said(finding: Finding) -> str:
    """A finding in words, as its message says it."""
    return describe(finding.facts, UTC)


def test_missing_currencies_is_what_one_shot_check_calls(tmp_path: Path) -> None:
    rules = config(tmp_path).rules
    assert missing_currencies(rules, snapshot()) == ["CNY", "USD"]  # empty answer
    assert missing_currencies(rules, snapshot(usd="5")) == ["CNY"]
    assert missing_currencies(rules, snapshot(cny="5", usd="5")) == []
    assert missing_currencies(rules, failure()) == []  # a failure says so itself
    assert no_data_message(["CNY"]) == "no CNY balance in the answer"


def test_no_data_counts_as_a_failed_check(tmp_path: Path) -> None:
    """On main an empty `balance_infos` was a good check: the streak reset to OK."""
    failing = rule(tmp_path, "failing")  # after_failures = 3
    watched = frozenset({"CNY"})
    usd_only = snapshot(usd="5")
    history = [failure(), usd_only, usd_only]
    [finding] = evaluate(failing, usd_only, history, watched)
    assert finding.severity is Severity.WARNING
    assert said(finding) == ("balance check failed 3 times in a row: no CNY balance in the answer")
    [early] = evaluate(failing, usd_only, history[1:], watched)
    assert early.severity is None and early.sticky_severity is Severity.WARNING  # never OK
    [ok] = evaluate(failing, snapshot(cny="5"), [*history, snapshot(cny="5")], watched)
    assert ok.sticky_severity is None
    subjects = {f.key.subject for f in evaluate(rule(tmp_path, "low"), usd_only)}
    assert subjects == {"USD"}  # no CNY verdict at all: the CNY alert stays as it was


async def test_a_usd_only_answer_never_resolves_a_cny_alert(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator, clock: FakeClock
) -> None:
    SUMMARY["fault cases tried"] += 1
    simulator.add_account(API_KEY, {"CNY": ("0.00", "5.00")})
    config = make_config(
        accounts=[{"name": "prod", "api_key": API_KEY, "base_url": simulator.base_url}],
        rules=RULES,  # check_failed after 2
        notifiers=[{"name": "rec", "type": "console"}],
    )
    usd_only = (
        b'{"is_available": true, "balance_infos": [{"currency": "USD", "total_balance": "50",'
        b' "granted_balance": "0", "topped_up_balance": "50"}]}'
    )
    recorder = Recorder()
    async with Daemon.open(config, clock, {"rec": recorder}) as d:
        assert await step(d, clock) == [TransitionKind.FIRING]  # CNY 5 < 10
        simulator.fail_next(
            Fault(body=usd_only), Fault(body=b'{"is_available": true, "balance_infos": []}')
        )
        assert await step(d, clock) == []
        assert await step(d, clock) == [TransitionKind.FIRING]  # no data twice: check_failed
        assert await step(d, clock) == [TransitionKind.RESOLVED]  # CNY is back, still low
    assert recorder.headlines() == [
        "CRITICAL: prod DeepSeek balance 5.00 CNY < 10.00",
        "WARNING: prod DeepSeek balance check failed 2 times in a row:"
        " no CNY balance in the answer",
        "RESOLVED: prod DeepSeek balance checks succeed again",
    ]
