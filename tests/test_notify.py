"""The notification pipeline's stages as pure functions: no store, no clock, no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from balancebot.models import (
    AlertKey,
    Finding,
    Notification,
    Severity,
    Silence,
    Transition,
    TransitionKind,
)
from balancebot.notify import Alert, Context, labelled, plan
from balancebot.quiet import QuietHours
from balancebot.store.codec import notification_from_json, notification_to_json

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday, noon UTC


def alert(
    kind: TransitionKind = TransitionKind.FIRING,
    account: str = "prod",
    rule: str = "low",
    severity: Severity = Severity.WARNING,
) -> Alert:
    key = AlertKey(account, rule, "CNY")
    finding = Finding(key, severity, severity, "balance low", Decimal("8"), Decimal("10"))
    transition = Transition(kind, key, severity, NOW, NOW - timedelta(hours=1), finding)
    notice = Notification(kind, severity, account, rule, "CNY", f"{kind}: {account}", (), NOW, NOW)
    return Alert(transition, labelled(notice, "deepseek", {"team": "search"}))


def context(**overrides: object) -> Context:
    values: dict[str, object] = {
        "now": NOW,
        "zone": UTC,
        "routes": lambda labels: [("tg", None), ("hook", None)],
        "targets": {"tg": ["1", "2"]},
    }
    values.update(overrides)
    return Context(**values)  # type: ignore[arg-type]


def test_every_alert_carries_its_labels_and_they_survive_the_outbox() -> None:
    notice = alert().notification
    assert notice.labels == {
        "team": "search",
        "alertname": "low",
        "account": "prod",
        "provider": "deepseek",
        "severity": "warning",
        "currency": "CNY",
    }
    assert notification_from_json(notification_to_json(notice)) == notice
    older = notification_to_json(notice).replace('"labels"', '"unused"')
    assert notification_from_json(older).labels == {}  # a row queued before labels existed


def test_one_row_per_route_and_target() -> None:
    _, rows = plan([alert()], context())
    assert [(r.notifier, r.target, r.muted, r.held_until) for r in rows] == [
        ("tg", "1", False, None),
        ("tg", "2", False, None),
        ("hook", "", False, None),
    ]


def test_a_resolved_notice_goes_only_where_the_firing_was_told() -> None:
    told = context(told=lambda key: {("tg", "2")})
    _, rows = plan([alert(TransitionKind.RESOLVED)], told)
    assert [(r.notifier, r.target) for r in rows] == [("tg", "2")]


def test_a_silence_mutes_and_quiet_hours_hold() -> None:
    mute = Silence(1, "prod", None, NOW + timedelta(hours=1), "me", NOW)
    alerts, rows = plan([alert(), alert(account="dev")], context(silences=[mute]))
    assert [a.muted for a in alerts] == [True, False]
    assert {r.notification.account for r in rows if r.muted} == {"prod"}

    night = QuietHours(start="11:00", end="13:00")
    _, rows = plan([alert(), alert(severity=Severity.CRITICAL)], context(quiet_hours=[night]))
    held = {r.notification.severity: r.held_until for r in rows}
    assert held == {Severity.WARNING: NOW + timedelta(hours=1), Severity.CRITICAL: None}
