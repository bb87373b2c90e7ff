"""The stages of the notification pipeline, in order: inhibit → silence → quiet hours →
group → outbox rows (a resolved notice only where the firing was told: the dedup of what
each route was told, whose record the caller keeps and hands in as `told`)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from ..config.models import AccountConfig, Config, InhibitConfig, RouteConfig, matchers_of
from ..labels import Labels, Matcher, Op, alert_labels, matches_all, one_of
from ..models import (
    AlertKey,
    AlertState,
    AlertStatus,
    Notification,
    RouteTarget,
    Severity,
    Silence,
    Transition,
    TransitionKind,
)
from ..quiet import QuietHours, quiet_until
from ..store.codec import Grouping, OutboxEntry

Routes = Callable[[Labels], list[tuple[str, RouteConfig | None]]]


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert change on its way to the outbox, with what the stages decided about it."""

    transition: Transition
    notification: Notification
    muted: bool = False  # by a silence, or inhibited: stored, not sent
    held_until: datetime | None = None  # quiet hours: waits until then

    @property
    def key(self) -> AlertKey:
        return self.transition.key

    @property
    def labels(self) -> Labels:
        return self.notification.labels


def _no_routes(labels: Labels) -> list[tuple[str, RouteConfig | None]]:
    return []


@dataclass(frozen=True, slots=True)
class Context:
    """Everything the stages read, handed in by the caller (the stages read nothing else)."""

    now: datetime
    zone: tzinfo
    silences: Sequence[Silence] = ()
    quiet_hours: Sequence[QuietHours] = ()
    routes: Routes = _no_routes
    """The notifiers an alert with these labels goes to, with their route (`Config.routes_for`)."""
    targets: Mapping[str, list[str]] = dataclasses.field(default_factory=dict)
    """Each notifier's targets; a notifier without any has the one target ""."""
    told: Callable[[AlertKey], set[RouteTarget]] = lambda key: set()
    """The routes that were told an alert fires (a resolved notice goes only there)."""
    inhibit: Sequence[InhibitConfig] = ()
    firing: Sequence[Labels] = ()
    """The labels of every alert firing now, this check's included (the inhibit sources)."""


def labelled(notification: Notification, provider: str, own: Labels | None = None) -> Notification:
    """The notification with its alert's labels (`labels.py`)."""
    key = AlertKey(notification.account, notification.rule, notification.subject)
    labels = alert_labels(key, notification.severity, provider, own)
    return dataclasses.replace(notification, labels=labels)


def firing_labels(
    states: Iterable[AlertState], accounts: Mapping[str, AccountConfig]
) -> list[dict[str, str]]:
    """The labels of the alerts that fire among `states` (of the configured accounts)."""
    found = []
    for state in states:
        account = accounts.get(state.key.account)
        if state.status is AlertStatus.FIRING and state.severity is not None and account:
            found.append(alert_labels(state.key, state.severity, account.provider, account.labels))
    return found


def inhibited(labels: Labels, rules: Sequence[InhibitConfig], firing: Sequence[Labels]) -> bool:
    """Whether a firing source alert with the same `equal` labels keeps this one quiet
    (an alert never inhibits itself)."""
    for rule in rules:
        if not matches_all(matchers_of(tuple(rule.target_matchers)), labels):
            continue
        sources = matchers_of(tuple(rule.source_matchers))
        for source in firing:
            if (
                source != labels
                and matches_all(sources, source)
                and all(source.get(name, "") == labels.get(name, "") for name in rule.equal)
            ):
                return True
    return False


def labels_of(config: Config, key: AlertKey, severity: Severity) -> dict[str, str]:
    """The labels of an alert of the configured accounts from its key (an account no longer
    configured: what its key gives)."""
    account = next((a for a in config.accounts if a.name == key.account), None)
    if account is None:
        return alert_labels(key, severity, "")
    return alert_labels(key, severity, account.provider, account.labels)


def inhibition(
    config: Config, states: Mapping[AlertKey, AlertState]
) -> Callable[[AlertKey, Severity], bool]:
    """Whether an `[[inhibit]]` rule keeps an alert quiet now, given every alert state:
    what a mute's end must not release (it goes out once its source resolves)."""
    if not config.inhibit:
        return lambda key, severity: False
    accounts: dict[str, AccountConfig] = {a.name: a for a in config.accounts}
    firing = firing_labels(states.values(), accounts)

    def held(key: AlertKey, severity: Severity) -> bool:
        account = accounts.get(key.account)
        if account is None:
            return False
        labels = alert_labels(key, severity, account.provider, account.labels)
        return inhibited(labels, config.inhibit, firing)

    return held


def inhibit(alerts: Sequence[Alert], context: Context) -> list[Alert]:
    """Alerts an `[[inhibit]]` rule keeps quiet are marked muted (resolved notices still go
    where their firing was told)."""
    if not context.inhibit:
        return list(alerts)
    return [
        dataclasses.replace(alert, muted=True)
        if alert.transition.kind is not TransitionKind.RESOLVED
        and inhibited(alert.labels, context.inhibit, context.firing)
        else alert
        for alert in alerts
    ]


def silence(alerts: Sequence[Alert], context: Context) -> list[Alert]:
    """Alerts a silence mutes are marked muted: stored, and not sent."""
    return [
        dataclasses.replace(alert, muted=True)
        if any(
            s.mutes(
                alert.transition.kind,
                alert.key,
                alert.transition.severity,
                context.now,
                alert.labels,
            )
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


def group_of(labels: Labels, route: RouteConfig | None) -> Grouping | None:
    """The group an alert joins on a route: the values of its `group_by` labels."""
    if route is None or route.group_by is None or not route.groups:
        return None
    named = "\0".join(f"{name}={labels.get(name, '')}" for name in sorted(route.group_by))
    key = hashlib.sha256(named.encode()).hexdigest()[:32]
    return Grouping(key, route.group_wait, route.group_interval)


def rows(alerts: Sequence[Alert], context: Context) -> list[OutboxEntry]:
    """One outbox row per route and target, each with its group; a resolved notice only
    where the firing was told."""
    entries: list[OutboxEntry] = []
    for alert in alerts:
        transition = alert.transition
        told = context.told(alert.key)
        for notifier, route in context.routes(alert.labels):
            group = group_of(alert.labels, route)
            entries += [
                OutboxEntry(
                    notifier, target, alert.notification, alert.muted, alert.held_until, group=group
                )
                for target in context.targets.get(notifier, [""])
                if transition.kind is not TransitionKind.RESOLVED or (notifier, target) in told
            ]
    return entries


def plan(alerts: Sequence[Alert], context: Context) -> tuple[list[Alert], list[OutboxEntry]]:
    """The alerts as the stages left them (muted or not), and the outbox rows to queue."""
    screened = quiet(silence(inhibit(alerts, context), context), context)
    return screened, rows(screened, context)


def group_members(
    config: Config, states: Mapping[AlertKey, AlertState], key: str
) -> list[AlertKey]:
    """The firing alerts in the group `key` on any route (what a grouped message's buttons
    act on: the group as it is now, newcomers included)."""
    accounts: dict[str, AccountConfig] = {a.name: a for a in config.accounts}
    grouping = [route for route in config.routes if route.groups]
    found = []
    for alert_key, state in sorted(states.items()):
        account = accounts.get(alert_key.account)
        if state.status is not AlertStatus.FIRING or state.severity is None or not account:
            continue
        labels = alert_labels(alert_key, state.severity, account.provider, account.labels)
        if any((g := group_of(labels, route)) and g.key == key for route in grouping):
            found.append(alert_key)
    return found


def group_matchers(
    config: Config, states: Mapping[AlertKey, AlertState], key: str
) -> tuple[Matcher, ...] | None:
    """The labels of the group `key`, as matchers: those of the route that groups it (its
    `accounts` and `rules` shorthands too), and the values of its `group_by` labels; what a
    mute of the whole group matches, newcomers included. None when nothing of it fires."""
    accounts: dict[str, AccountConfig] = {a.name: a for a in config.accounts}
    for alert_key, state in sorted(states.items()):
        account = accounts.get(alert_key.account)
        if state.status is not AlertStatus.FIRING or state.severity is None or not account:
            continue
        labels = alert_labels(alert_key, state.severity, account.provider, account.labels)
        for route in config.routes:
            if (g := group_of(labels, route)) and g.key == key and route.group_by is not None:
                found = list(matchers_of(tuple(route.matchers)))
                for name, values in (("account", route.accounts), ("alertname", route.rules)):
                    if values is not None:
                        found.append(Matcher.of(name, Op.RE, one_of(values)))
                found += [Matcher.of(n, Op.EQ, labels.get(n, "")) for n in sorted(route.group_by)]
                return tuple(found)
    return None


def released(
    notification: Notification, notifier: str, target: str, config: Config, now: datetime
) -> OutboxEntry:
    """The row for a notice a mute's end releases to one route: with the group it joins
    there and the quiet hours that hold it, as `rows` and `quiet` give a check's notices."""
    route = dict(config.routes_for(notification.labels)).get(notifier)
    quiet = config.quiet_hours
    held = quiet_until(quiet, now, config.zone, notification.severity) if quiet else None
    group = group_of(notification.labels, route)
    return OutboxEntry(notifier, target, notification, held_until=held, group=group)
