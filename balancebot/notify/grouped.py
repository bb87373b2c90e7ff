"""One message for a group of alerts (a route's `group_by`): what each alert is (its
account, value and since when), the first `SHOWN` of them and "and N more", firing ones
first and then the resolved ones. Every notifier shows it as it shows any notification, so
console text, Telegram HTML, Slack blocks, webhook JSON and apprise all get it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo

from ..i18n import _, ngettext
from ..models import Notification, TransitionKind
from ..render import human_duration, local_time, severity_name

SHOWN = 20
"""Alerts listed in one grouped message; the rest are counted ("and 9,980 more")."""


def common_labels(notifications: Sequence[Notification]) -> dict[str, str]:
    """The labels every alert of the group has with the same value (Alertmanager's
    CommonLabels): what a grouped message is about, and what its buttons act on."""
    if not notifications:
        return {}
    common = dict(notifications[0].labels)
    for n in notifications[1:]:
        common = {k: v for k, v in common.items() if n.labels.get(k) == v}
    return common


def _line(n: Notification, zone: tzinfo) -> str:
    who = f"{n.account} {n.subject}".strip()
    value = n.details[0] if n.details else n.headline
    if n.kind is TransitionKind.RESOLVED:
        lasted = human_duration(n.at - n.started_at)
        return _("{icon} {who}: {value} (lasted {duration})").format(
            icon=n.icon, who=who, value=value, duration=lasted
        )
    since = local_time(n.started_at, zone)
    return _("{icon} {who}: {value} (since {time})").format(
        icon=n.icon, who=who, value=value, time=since
    )


def _listed(notices: Sequence[Notification], zone: tzinfo, room: int) -> list[str]:
    lines = [_line(n, zone) for n in notices[:room]]
    if len(notices) > room:
        more = len(notices) - room
        lines.append(ngettext("… and {count} more", "… and {count} more", more).format(count=more))
    return lines


def _about(labels: Mapping[str, str]) -> str:
    """The group's labels besides its rule and severity, as `provider=deepseek`."""
    shown = {k: v for k, v in labels.items() if k not in ("alertname", "severity", "account")}
    return ", ".join(f"{k}={v}" for k, v in sorted(shown.items()))


def grouped(notifications: Sequence[Notification], zone: tzinfo) -> Notification:
    """The group's notices to one target (oldest first) as one message. One alert's
    latest notice stands for it; a group of one alert is its plain notice."""
    latest: dict[tuple[str, str, str], Notification] = {}
    for n in notifications:
        latest.pop((n.account, n.rule, n.subject), None)  # re-inserted last: newest order
        latest[(n.account, n.rule, n.subject)] = n
    notices = list(latest.values())
    if len(notices) == 1:
        return notices[0]
    firing = [n for n in notices if n.kind is not TransitionKind.RESOLVED]
    resolved = [n for n in notices if n.kind is TransitionKind.RESOLVED]
    labels = common_labels(notices)
    rule = labels.get("alertname", "")
    about = _about(labels)
    if firing:
        severity = max(n.severity for n in firing)
        headline = ngettext(
            "{severity}: {rule} firing for {count} alert",
            "{severity}: {rule} firing for {count} alerts",
            len(firing),
        ).format(severity=severity_name(severity), rule=rule, count=len(firing))
    else:
        severity = max(n.severity for n in resolved)
        headline = ngettext(
            "RESOLVED: {rule} for {count} alert",
            "RESOLVED: {rule} for {count} alerts",
            len(resolved),
        ).format(rule=rule, count=len(resolved))
    if about:
        headline += f" ({about})"
    details = _listed(firing, zone, SHOWN)
    if firing and resolved:
        details.append(_("Resolved ({count}):").format(count=len(resolved)))
    details += _listed(resolved, zone, max(SHOWN - len(firing), 3) if firing else SHOWN)
    accounts = {n.account for n in notices}
    return Notification(
        kind=TransitionKind.FIRING if firing else TransitionKind.RESOLVED,
        severity=severity,
        account=accounts.pop() if len(accounts) == 1 else "",
        rule=rule,
        subject="",
        headline=headline,
        details=tuple(details),
        at=max(n.at for n in notices),
        started_at=min(n.started_at for n in notices),
        labels=labels,
        alerts=tuple(notices),
    )
