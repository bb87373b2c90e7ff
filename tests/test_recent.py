"""The history the pipeline keeps for the rules: counts, windows, thinning."""

from __future__ import annotations

from datetime import UTC, timedelta
from decimal import Decimal
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from balancebot.models import BalanceSnapshot, CheckResult, Finding
from balancebot.phrases import describe
from balancebot.recent import RecentResults, Retention, retention_for
from balancebot.rules import evaluate

from .test_trends import GROWING, NOW, RUNWAY, SPIKE, TOP_UP, failure, hourly, rule, snap


def said(finding: Finding) -> str:
    """A finding in words, as its message says it."""
    return describe(finding.facts, UTC)


def test_retention_for_the_rules() -> None:
    failing = rule(type="check_failed", after_failures=4)
    assert retention_for([TOP_UP]) == Retention(1, timedelta(0), timedelta(0), timedelta(days=1))
    assert retention_for([RUNWAY, GROWING, failing]) == Retention(
        4, timedelta(days=1), timedelta(days=1), timedelta(days=1)
    )
    assert retention_for([SPIKE, RUNWAY]) == Retention(
        1, timedelta(days=7, hours=2), timedelta(days=1), timedelta(minutes=15)
    )


def test_thinned_history_gives_the_same_spike_verdict() -> None:
    """Minute checks for a week: kept at a quarter-hour beyond the runway window, the
    spike rule sees the same spend per hour, and walks a fifteenth of the snapshots."""
    minutes = [str(Decimal("0.03") * (1 + i % 7)) for i in range(7 * 1440)]
    full = [
        BalanceSnapshot(s.account, s.provider, NOW - (NOW - s.taken_at) / 60, True, s.balances)
        for s in hourly([*minutes, "30"])
        if isinstance(s, BalanceSnapshot)
    ]
    kept = list(RecentResults(full, retention_for([SPIKE, RUNWAY])))
    assert len(kept) < len(full) / 2
    (whole,) = evaluate(SPIKE, full[-1], full)
    (thin,) = evaluate(SPIKE, kept[-1], kept)
    assert whole.severity == thin.severity is not None
    assert said(whole) == said(thin)
    (day,) = evaluate(RUNWAY, full[-1], full)
    assert evaluate(RUNWAY, kept[-1], kept) == [day]


@given(
    kinds=st.lists(st.booleans(), max_size=80),
    count=st.integers(min_value=1, max_value=5),
    full_hours=st.integers(min_value=0, max_value=10),
    extra_hours=st.integers(min_value=0, max_value=40),
    step_hours=st.integers(min_value=1, max_value=5),
)
def test_recent_results_keep_what_the_rules_need(
    kinds: list[bool], count: int, full_hours: int, extra_hours: int, step_hours: int
) -> None:
    results: list[CheckResult] = [
        snap(len(kinds) - i, "1") if ok else failure(len(kinds) - i) for i, ok in enumerate(kinds)
    ]
    full, span = timedelta(hours=full_hours), timedelta(hours=full_hours + extra_hours)
    kept = list(RecentResults(results, Retention(count, span, full, timedelta(hours=step_hours))))
    positions = [results.index(r) for r in kept]
    assert positions == sorted(positions)  # in order, nothing invented
    if not results:
        assert kept == []
        return
    newest = results[-1].taken_at
    recent = [r for r in results if r.taken_at >= newest - full]
    tail = results[-max(count, len(recent)) :]
    assert kept[len(kept) - len(tail) :] == tail  # the window and the count, whole
    older = kept[: len(kept) - len(tail)]
    assert all(isinstance(r, BalanceSnapshot) for r in older)
    snapshots = [r for r in results if isinstance(r, BalanceSnapshot)]
    if snapshots:
        assert snapshots[-1] in kept  # the last successful check, always
    thinned = [r for r in older if r is not snapshots[-1]]
    assert all(r.taken_at >= newest - span for r in thinned)
    assert all(b.taken_at - a.taken_at >= timedelta(hours=step_hours) for a, b in pairwise(thinned))
