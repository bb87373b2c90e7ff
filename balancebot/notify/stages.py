"""The stages of the notification pipeline: silence → quiet hours → outbox rows (with the
"resolved only where the firing was told" rule)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from ..labels import Labels, alert_labels
from ..models import AlertKey, Notification, Severity, Silence, Transition, TransitionKind
from ..quiet import QuietHours, quiet_until
from ..store.codec import OutboxEntry, Route


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert change on its way to the outbox, with what the stages decided about it."""

    transition: Transition
    notification: Notification
    muted: bool = False
    held_until: datetime | None = None  # quiet hours: waits until then

    @property
    def key(self) -> AlertKey:
        return self.transition.key


@dataclass(frozen=True, slots=True)
class Context:
    """Everything the stages read, handed in by the caller (the stages read nothing else)."""

    now: datetime
    zone: tzinfo
    silences: Sequence[Silence] = ()
    quiet_hours: Sequence[QuietHours] = ()
    route: Callable[[str, str, Severity], list[str]] = lambda account, rule, severity: []
    """The notifiers an alert goes to (`Config.route`)."""
    targets: Mapping[str, list[str]] = dataclasses.field(default_factory=dict)
    """Each notifier's targets; a notifier without any has the one target ""."""
    told: Callable[[AlertKey], set[Route]] = lambda key: set()
    """The routes that were told an alert fires (a resolved notice goes only there)."""


def labelled(notification: Notification, provider: str, own: Labels | None = None) -> Notification:
    """The notification with its alert's labels (`labels.py`)."""
    key = AlertKey(notification.account, notification.rule, notification.subject)
    labels = alert_labels(key, notification.severity, provider, own)
    return dataclasses.replace(notification, labels=labels)


def silence(alerts: Sequence[Alert], context: Context) -> list[Alert]:
    """Alerts a silence mutes are marked muted: stored, and not sent."""
    return [
        dataclasses.replace(alert, muted=True)
        if any(
            s.mutes(alert.transition.kind, alert.key, alert.transition.severity, context.now)
            for s in context.silences
        )
        else alert
        for alert in alerts
    ]


def quiet(alerts: Sequence[Alert], context: Context) -> list[Alert]:
    """Alerts that arrive during quiet hours wait for their end."""
    if not context.quiet_hours:
        return list(alerts)
    return [
        dataclasses.replace(
            alert,
            held_until=quiet_until(
                context.quiet_hours, context.now, context.zone, alert.transition.severity
            ),
        )
        for alert in alerts
    ]


def rows(alerts: Sequence[Alert], context: Context) -> list[OutboxEntry]:
    """One outbox row per route and target; a resolved notice only where the firing was
    told."""
    entries: list[OutboxEntry] = []
    for alert in alerts:
        transition = alert.transition
        told = context.told(alert.key)
        for notifier in context.route(alert.key.account, alert.key.rule, transition.severity):
            entries += [
                OutboxEntry(notifier, target, alert.notification, alert.muted, alert.held_until)
                for target in context.targets.get(notifier, [""])
                if transition.kind is not TransitionKind.RESOLVED or (notifier, target) in told
            ]
    return entries


def plan(alerts: Sequence[Alert], context: Context) -> tuple[list[Alert], list[OutboxEntry]]:
    """The alerts as the stages left them (muted or not), and the outbox rows to queue."""
    screened = quiet(silence(alerts, context), context)
    return screened, rows(screened, context)
