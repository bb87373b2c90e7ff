"""The alert state machine: exhaustive cases and properties over arbitrary sequences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from balancebot.alerts import Policy, advance
from balancebot.facts import AvailabilityFacts
from balancebot.models import (
    AlertKey,
    AlertState,
    AlertStatus,
    Finding,
    Severity,
    Transition,
    TransitionKind,
)

KEY = AlertKey("prod", "low", "CNY")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
W, C = Severity.WARNING, Severity.CRITICAL


def finding(severity: Severity | None, sticky: Severity | None = None) -> Finding:
    facts = AvailabilityFacts(available=severity is None)
    return Finding(KEY, severity, sticky if sticky is not None else severity, facts)


def run(
    steps: list[tuple[float, Finding]], policy: Policy | None = None
) -> tuple[AlertState, list[Transition]]:
    state, transitions = AlertState(KEY), []
    for minutes, f in steps:
        state, transition = advance(state, f, T0 + timedelta(minutes=minutes), policy or Policy())
        if transition:
            transitions.append(transition)
    return state, transitions


def kinds(transitions: list[Transition]) -> list[tuple[TransitionKind, Severity]]:
    return [(t.kind, t.severity) for t in transitions]


def test_fires_once_then_repeats_after_the_interval() -> None:
    policy = Policy(repeat_interval=timedelta(hours=1))
    state, transitions = run(
        [
            (0, finding(W)),
            (30, finding(W)),
            (59, finding(W)),
            (60, finding(W)),
            (90, finding(W)),
            (120, finding(W)),
        ],
        policy,
    )
    assert kinds(transitions) == [
        (TransitionKind.FIRING, W),
        (TransitionKind.REPEAT, W),
        (TransitionKind.REPEAT, W),
    ]
    assert state.last_notified_at == T0 + timedelta(minutes=120)
    assert transitions[-1].started_at == T0


def test_for_needs_consecutive_checks() -> None:
    policy = Policy(for_checks=3)
    _, transitions = run(
        [(0, finding(W)), (1, finding(W)), (2, finding(None)), (3, finding(W)), (4, finding(W))],
        policy,
    )
    assert transitions == []
    state, transitions = run([(0, finding(W)), (1, finding(W)), (2, finding(C))], policy)
    assert kinds(transitions) == [(TransitionKind.FIRING, C)]
    assert transitions[0].started_at == T0  # pending since the first check
    assert state.status is AlertStatus.FIRING


def test_escalates_at_once_and_resolves_with_duration() -> None:
    _, transitions = run([(0, finding(W)), (1, finding(C)), (2, finding(C)), (75, finding(None))])
    assert kinds(transitions) == [
        (TransitionKind.FIRING, W),
        (TransitionKind.ESCALATED, C),
        (TransitionKind.RESOLVED, C),
    ]
    assert transitions[-1].duration == timedelta(minutes=75)


def test_hysteresis_holds_the_alert_until_the_margin_is_cleared() -> None:
    state, transitions = run([(0, finding(W)), (1, finding(None, W)), (2, finding(None, W))])
    assert kinds(transitions) == [(TransitionKind.FIRING, W)]
    assert state.status is AlertStatus.FIRING
    _, transitions = run([(0, finding(W)), (1, finding(None, W)), (2, finding(None))])
    assert kinds(transitions)[-1] == (TransitionKind.RESOLVED, W)


def test_severity_falls_quietly_and_escalates_again() -> None:
    policy = Policy(repeat_interval=timedelta(hours=1))
    state, transitions = run(
        [
            (0, finding(C)),
            (1, finding(W, C)),
            (2, finding(W, W)),
            (3, finding(C)),
            (70, finding(W)),
        ],
        policy,
    )
    assert kinds(transitions) == [
        (TransitionKind.FIRING, C),
        (TransitionKind.ESCALATED, C),
        (TransitionKind.REPEAT, W),
    ]
    assert state.severity is W


def test_resolved_notice_can_be_switched_off() -> None:
    state, transitions = run([(0, finding(W)), (1, finding(None))], Policy(send_resolved=False))
    assert kinds(transitions) == [(TransitionKind.FIRING, W)]
    assert state == AlertState(KEY)


def test_state_survives_a_restart_without_early_repeats() -> None:
    """The store hands back the same state; advancing it later gives the same answer."""
    policy = Policy(repeat_interval=timedelta(hours=4))
    state, _ = run([(0, finding(W))], policy)
    restarted = AlertState(**{f: getattr(state, f) for f in state.__slots__})
    again, transition = advance(restarted, finding(W), T0 + timedelta(hours=1), policy)
    assert transition is None and again.last_notified_at == T0


severities = st.sampled_from([None, Severity.WARNING, Severity.CRITICAL])


@st.composite
def findings(draw: st.DrawFn) -> tuple[float, Finding]:
    severity = draw(severities)
    sticky = draw(severities)
    if severity is not None and (sticky is None or sticky < severity):
        sticky = severity  # rules guarantee sticky ≥ raw
    return draw(st.floats(min_value=0, max_value=600)), finding(severity, sticky)


@settings(max_examples=400)
@given(
    steps=st.lists(findings(), max_size=60),
    for_checks=st.integers(1, 4),
    repeat_minutes=st.integers(1, 300),
)
def test_no_alert_is_sent_twice_without_a_resolve_or_a_repeat_interval(
    steps: list[tuple[float, Finding]], for_checks: int, repeat_minutes: int
) -> None:
    repeat = timedelta(minutes=repeat_minutes)
    policy = Policy(for_checks=for_checks, repeat_interval=repeat)
    state, now = AlertState(KEY), T0
    last_sent: tuple[datetime, Severity] | None = None
    for gap, f in steps:
        now += timedelta(minutes=gap)
        before = state
        state, transition = advance(state, f, now, policy)
        if transition is None:
            continue
        kind = transition.kind
        if kind is TransitionKind.FIRING:
            assert before.status is not AlertStatus.FIRING and last_sent is None
        elif kind is TransitionKind.REPEAT:
            assert last_sent is not None and now - last_sent[0] >= repeat
        elif kind is TransitionKind.ESCALATED:
            assert last_sent is not None and transition.severity > before.severity  # type: ignore[operator]
        else:
            assert last_sent is not None
            assert f.severity is None and f.sticky_severity is None
        last_sent = None if kind is TransitionKind.RESOLVED else (now, transition.severity)
        if kind is not TransitionKind.RESOLVED:
            assert state.status is AlertStatus.FIRING and state.last_notified_at == now


@settings(max_examples=200)
@given(steps=st.lists(findings(), max_size=40))
def test_firing_and_resolved_alternate(steps: list[tuple[float, Finding]]) -> None:
    _, transitions = run(steps)
    opens = [
        t.kind for t in transitions if t.kind in (TransitionKind.FIRING, TransitionKind.RESOLVED)
    ]
    assert opens == [TransitionKind.FIRING, TransitionKind.RESOLVED] * (len(opens) // 2) + (
        [TransitionKind.FIRING] if len(opens) % 2 else []
    )
