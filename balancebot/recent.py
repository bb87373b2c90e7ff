"""The history the pipeline keeps in memory for each account's rules.

`check_failed` counts the last results; the trend rules look back over a time window —
a day for a runway, a week for the usual spend a spike is measured against. A week of
one-minute checks is 10,080 snapshots, too many for a spike rule to walk at every check;
beyond the runway windows one snapshot per quarter period is kept instead (the spend
between two kept snapshots is what a dropped one would have added), which is as good for
a median over hours. The two snapshots around a top-up are
always kept: a threshold in percent is a share of the balance right after the last one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain

from .config import RuleConfig, RunwayRuleConfig, SpendSpikeRuleConfig, ThresholdRuleConfig
from .models import BalanceSnapshot, CheckResult
from .rules import history_needed
from .spend import DAY, topped_up


@dataclass(frozen=True, slots=True)
class Retention:
    """How much of an account's recent history its rules need kept in memory."""

    count: int = 1  # at least the latest results (check_failed counts them)
    span: timedelta = timedelta(0)  # how far back any rule looks
    full: timedelta = timedelta(0)  # kept at full resolution this far back
    step: timedelta = timedelta(0)  # beyond `full`, one snapshot per step
    top_ups: timedelta = timedelta(0)  # the two snapshots around a top-up, this far back

    @property
    def reach(self) -> timedelta:
        """How far back the store is read when the history is loaded."""
        return max(self.span, self.top_ups)


def retention_for(rules: Sequence[RuleConfig]) -> Retention:
    full, span, steps, top_ups = [timedelta(0)], [timedelta(0)], [], [timedelta(0)]
    for rule in rules:
        if isinstance(rule, RunwayRuleConfig) or (
            isinstance(rule, ThresholdRuleConfig) and (rule.warning_runway or rule.critical_runway)
        ):
            full.append(rule.window)
        elif isinstance(rule, SpendSpikeRuleConfig):
            full.append(rule.period * 2)
            span.append(DAY * rule.days + rule.period * 2)
            steps.append(rule.period / 4)
        if isinstance(rule, ThresholdRuleConfig) and any(
            limits.percents for limits in rule.thresholds.values()
        ):
            top_ups.append(rule.top_up_window)
    return Retention(
        history_needed(rules), max(full + span), max(full), min(steps, default=DAY), max(top_ups)
    )


class RecentResults:
    """An account's recent results, oldest first, as `Retention` says; always with the last
    successful snapshot (a top-up is measured against it however many checks failed)."""

    def __init__(self, results: Iterable[CheckResult], keep: Retention) -> None:
        self._keep = keep
        # lists, not deques: an empty deque is 624 bytes, times two, times 10,000 accounts;
        # heads are dropped a slice at a time, at most a few thousand pointers to move
        self._thinned: list[BalanceSnapshot] = []
        # older than `full` yet the newest snapshot there is: kept until a newer one comes
        self._last_old_snapshot: BalanceSnapshot | None = None
        self._previous: BalanceSnapshot | None = None  # the last one `_thin` was given
        self._top_ups: list[BalanceSnapshot] = []  # either side of each top-up, to `top_ups`
        self._latest: BalanceSnapshot | None = None  # the last snapshot appended
        self._items: list[CheckResult] = []
        self._snapshots = 0  # in _items
        for result in results:
            self.append(result)

    def __iter__(self) -> Iterator[CheckResult]:
        parked = () if self._last_old_snapshot is None else (self._last_old_snapshot,)
        return chain(self._older_top_ups(), self._thinned, parked, self._items)

    def __len__(self) -> int:
        rest = len(self._thinned) + (self._last_old_snapshot is not None) + len(self._items)
        return len(self._older_top_ups()) + rest

    def _older_top_ups(self) -> list[BalanceSnapshot]:
        """The kept top-up snapshots older than the rest (the younger are in it)."""
        top_ups = self._top_ups
        if not top_ups:
            return []
        parked = () if self._last_old_snapshot is None else (self._last_old_snapshot,)
        first = next(chain(self._thinned, parked, self._items), None)
        return [s for s in top_ups if first is None or s.taken_at < first.taken_at]

    def __bool__(self) -> bool:
        return bool(self._items)

    def latest(self) -> CheckResult | None:
        return self._items[-1] if self._items else None

    def append(self, result: CheckResult) -> None:
        items, keep = self._items, self._keep
        items.append(result)
        if isinstance(result, BalanceSnapshot):
            self._snapshots += 1
            latest, self._latest = self._latest, result
            if self._keep.top_ups and latest is not None and topped_up(latest, result):
                kept = self._top_ups
                if not kept or kept[-1] is not latest:
                    kept.append(latest)
                kept.append(result)
            if self._last_old_snapshot is not None:  # no longer the last: thinned like the others
                self._thin(self._last_old_snapshot)
                self._last_old_snapshot = None
        full_since = result.taken_at - keep.full
        dropped = 0
        while len(items) - dropped > keep.count and items[dropped].taken_at < full_since:
            head = items[dropped]
            dropped += 1
            if isinstance(head, BalanceSnapshot):
                self._snapshots -= 1
                if self._snapshots:
                    self._thin(head)
                else:
                    self._last_old_snapshot = head
        del items[:dropped]
        _drop_before(self._thinned, result.taken_at - keep.span)
        _drop_before(self._top_ups, result.taken_at - keep.top_ups)

    def _thin(self, snapshot: BalanceSnapshot) -> None:
        """Keep one snapshot per step; the spend of a dropped one shows in the next pair.
        A top-up keeps the snapshots either side of it."""
        last = self._thinned[-1] if self._thinned else None
        previous, self._previous = self._previous, snapshot
        pair = (previous,) if previous is not None and topped_up(previous, snapshot) else ()
        if pair or last is None or snapshot.taken_at - last.taken_at >= self._keep.step:
            self._thinned.extend(s for s in pair if s is not last)
            self._thinned.append(snapshot)


def _drop_before(snapshots: list[BalanceSnapshot], since: datetime) -> None:
    """Drop the head of a list in time order up to `since`, a slice at a time."""
    stale = 0
    while stale < len(snapshots) and snapshots[stale].taken_at < since:
        stale += 1
    del snapshots[:stale]
