"""The notification pipeline's stages as pure functions: no store, no clock, no network."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from balancebot.config import InhibitConfig
from balancebot.configure import parse_config
from balancebot.errors import ConfigError
from balancebot.facts import BalanceFacts
from balancebot.i18n import activate
from balancebot.models import (
    AlertKey,
    Finding,
    Notification,
    Severity,
    Silence,
    Transition,
    TransitionKind,
)
from balancebot.notify import Alert, Context, group_of, grouped, labelled, plan
from balancebot.notify.grouped import SHOWN
from balancebot.quiet import QuietHours
from balancebot.store.codec import notification_from_json, notification_to_json

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday, noon UTC
HOUR = timedelta(hours=1)


def alert(
    kind: TransitionKind = TransitionKind.FIRING,
    account: str = "prod",
    rule: str = "low",
    severity: Severity = Severity.WARNING,
) -> Alert:
    key = AlertKey(account, rule, "CNY")
    facts = BalanceFacts(Decimal("8"), "CNY", Decimal("10"), below=True)
    finding = Finding(key, severity, severity, facts, Decimal("8"), Decimal("10"))
    transition = Transition(kind, key, severity, NOW, NOW - timedelta(hours=1), finding)
    headline = f"{kind}: {account}"
    notice = Notification(kind, severity, account, rule, "CNY", headline, ("f",), NOW, NOW - HOUR)
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


def test_inhibition_keeps_a_target_quiet_while_its_source_fires() -> None:
    rule = InhibitConfig(
        source_matchers=['alertname="down"'],
        target_matchers=['alertname="low"'],
        equal=["account"],
    )
    firing = [alert(account="prod", rule="down").labels]
    alerts, _ = plan(
        [alert(account="prod"), alert(account="dev"), alert(account="prod", rule="down")],
        context(inhibit=[rule], firing=firing),
    )
    assert [(a.key.account, a.key.rule, a.muted) for a in alerts] == [
        ("prod", "low", True),  # its account is down
        ("dev", "low", False),  # another account: `equal` differs
        ("prod", "down", False),  # a source is never its own target
    ]
    resolved, _ = plan([alert(TransitionKind.RESOLVED)], context(inhibit=[rule], firing=firing))
    assert not resolved[0].muted  # goes where the firing was told


def test_routes_match_labels_and_keep_their_shorthands(tmp_path: Path) -> None:
    config = parse_config(
        {
            "accounts": [
                {"name": "prod", "api_key": "k", "labels": {"team": "search"}},
                {"name": "dev", "api_key": "k"},
            ],
            "notifiers": [{"name": n, "type": "console"} for n in ("a", "b", "c")],
            "routes": [
                {"notifiers": ["a"], "matchers": ['team="search"', 'severity!="info"']},
                {"notifiers": ["b"], "accounts": ["dev"], "min_severity": "critical"},
                {"notifiers": ["c", "a"], "matchers": ['account=~"pro.*"'], "group_by": ["..."]},
            ],
        },
        tmp_path,
        env={},
    )
    other = labelled(alert(account="other").notification, "deepseek")  # no team label
    assert config.routes_for(other.labels) == []
    prod = alert(account="prod", severity=Severity.WARNING).notification
    assert [n for n, _ in config.routes_for(prod.labels)] == ["a", "c"]
    assert config.routes_for(prod.labels)[1][1] is config.routes[2]  # "a": its first route
    assert group_of(prod.labels, config.routes[2]) is None  # "...": one message per alert
    dev = labelled(alert(account="dev", severity=Severity.CRITICAL).notification, "deepseek")
    assert [n for n, _ in config.routes_for(dev.labels)] == ["b"]
    assert config.route("dev", "low", Severity.CRITICAL) == ["b"]  # the shorthand, as before


def test_bad_matchers_and_labels_are_one_line_each(tmp_path: Path) -> None:
    raw = {
        "accounts": [{"name": "prod", "api_key": "k", "labels": {"account": "x"}}],
        "routes": [{"notifiers": ["console"], "matchers": ["team"], "group_by": ["a-b"]}],
        "inhibit": [{"source_matchers": ['x=~"("'], "target_matchers": ["y=1"]}],
    }
    with pytest.raises(ConfigError) as raised:
        parse_config(raw, tmp_path, env={})
    found = raised.value.problems
    assert len(found) == 3 and all("\n" not in p for p in found), found
    assert found[0].startswith("accounts[0]") and "set by balancebot" in found[0]
    assert found[1].startswith("routes[0]") and "is not a label matcher" in found[1]
    assert found[2].startswith("inhibit[0]") and "not a regular expression" in found[2]


def test_a_grouped_message_lists_the_first_twenty_then_counts_in_either_language() -> None:
    later = NOW + timedelta(minutes=5)
    notices = [alert(account=f"acct-{n:02d}").notification for n in range(25)]
    notices += [
        dataclasses.replace(
            alert(account="acct-00").notification, kind=TransitionKind.RESOLVED, at=later
        ),
        dataclasses.replace(
            alert(account="old").notification, kind=TransitionKind.RESOLVED, at=later
        ),
    ]
    message = grouped(notices, UTC)
    assert message.headline == (
        "WARNING: low firing for 24 alerts (currency=CNY, provider=deepseek, team=search)"
    )
    assert message.labels == {
        "team": "search",
        "alertname": "low",
        "provider": "deepseek",
        "severity": "warning",
        "currency": "CNY",
    }
    assert message.account == "" and message.kind is TransitionKind.FIRING
    assert message.details[0] == "🟠 acct-01 CNY: f (since 2026-03-02 11:00:00 UTC)"
    assert message.details[SHOWN] == "… and 4 more"
    assert message.details[SHOWN + 1] == "Resolved (2):"
    assert message.details[-1] == "✅ old CNY: f (lasted 1h 05m)"
    assert grouped(notices[:1], UTC) is notices[0]  # one alert: its own notice
    activate("zh")
    try:
        chinese = grouped(notices, UTC)
    finally:
        activate("en")
    assert chinese.headline.startswith("警告：low 告警中，共 24 条")
    assert chinese.details[SHOWN] == "… 另有 4 项"
