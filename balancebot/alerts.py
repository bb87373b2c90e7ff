"""The alert lifecycle, Alertmanager-style, as a pure function of (state, finding, now).

inactive ──holds──▶ pending ──holds `for` checks──▶ firing ──clears (with hysteresis)──▶ inactive
                                                    │  ▲
             repeats every `repeat_interval` ───────┘  └── escalates at once when severity rises

A firing alert whose severity falls (critical → warning) is downgraded quietly once the
value clears the higher level's hysteresis margin; the next repeat reports the new level.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from .config import RuleConfig
from .models import AlertState, AlertStatus, Finding, Severity, Transition, TransitionKind


@dataclass(frozen=True, slots=True)
class Policy:
    for_checks: int = 1
    repeat_interval: timedelta = timedelta(hours=4)
    send_resolved: bool = True

    @classmethod
    def of(cls, rule: RuleConfig) -> Policy:
        return cls(rule.for_checks, rule.repeat_interval, rule.send_resolved)


def advance(
    state: AlertState, finding: Finding, now: datetime, policy: Policy
) -> tuple[AlertState, Transition | None]:
    """The next state for one key, and the transition to announce, if any."""
    if state.status is AlertStatus.FIRING:
        return _advance_firing(state, finding, now, policy)
    severity = finding.severity
    if severity is None:
        return AlertState(state.key), None
    started_at = state.started_at if state.status is AlertStatus.PENDING else now
    assert started_at is not None
    pending = state.pending_checks + 1
    if pending < policy.for_checks:
        return AlertState(state.key, AlertStatus.PENDING, severity, pending, started_at), None
    fired = AlertState(state.key, AlertStatus.FIRING, severity, pending, started_at, now)
    return fired, Transition(TransitionKind.FIRING, state.key, severity, now, started_at, finding)


def _advance_firing(
    state: AlertState, finding: Finding, now: datetime, policy: Policy
) -> tuple[AlertState, Transition | None]:
    current, started_at, notified_at = state.severity, state.started_at, state.last_notified_at
    assert current is not None and started_at is not None and notified_at is not None
    raw = finding.severity

    if raw is not None and raw > current:
        escalated = replace(state, severity=raw, last_notified_at=now)
        return escalated, Transition(
            TransitionKind.ESCALATED, state.key, raw, now, started_at, finding
        )

    level = _settled_severity(current, raw, finding.sticky_severity)
    if level is None:
        resolved = Transition(TransitionKind.RESOLVED, state.key, current, now, started_at, finding)
        return AlertState(state.key), resolved if policy.send_resolved else None

    state = replace(state, severity=level)
    if now - notified_at >= policy.repeat_interval:
        return replace(state, last_notified_at=now), Transition(
            TransitionKind.REPEAT, state.key, level, now, started_at, finding
        )
    return state, None


def _settled_severity(
    current: Severity, raw: Severity | None, sticky: Severity | None
) -> Severity | None:
    """Where a firing alert settles when the raw severity is not above its current one."""
    held = None if sticky is None else min(current, sticky)
    if raw is None:
        return held
    return raw if held is None else max(raw, held)
