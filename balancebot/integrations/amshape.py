"""Alerts in Prometheus Alertmanager's shape, for the notifiers that speak to on-call tools.

The `alertmanager` notifier posts them to Alertmanager's `/api/v2/alerts`, the `webhook`
notifier's `format = "alertmanager"` sends Alertmanager's own webhook payload (version 4),
and `pagerduty` keys its incidents by the same identity. One notification may carry one
alert or a group of them; each becomes one `Alert` here.

An alert's identity is its account, rule and currency (`AlertKey`); its label set also
holds the severity, so an escalation from warning to critical is, in Alertmanager's eyes,
a new alert (another fingerprint) and the warning one must be resolved by its sender.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..labels import alert_labels
from ..models import AlertKey, Notification, TransitionKind

WEBHOOK_VERSION = "4"
_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_SEPARATOR = 0xFF


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as Alertmanager knows it. `ends_at` is when it resolved, None while it fires."""

    key: AlertKey
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None = None
    notice: Notification | None = field(default=None, compare=False)
    """The notification it came from (None for one read back from Alertmanager)."""

    @property
    def firing(self) -> bool:
        return self.ends_at is None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels)

    def postable(self, ends_at: datetime | None = None) -> dict[str, Any]:
        """The alert for `POST /api/v2/alerts`: `ends_at` is when Alertmanager may take a
        firing alert for resolved unless it is posted again."""
        end = self.ends_at or ends_at
        body: dict[str, Any] = {
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": rfc3339(self.starts_at),
        }
        if end is not None:
            body["endsAt"] = rfc3339(end)
        return body

    def resolved(self, at: datetime) -> Alert:
        return Alert(self.key, self.labels, self.annotations, self.starts_at, at, self.notice)


def labels_of(notification: Notification) -> dict[str, str]:
    """The alert's labels (made from its identity and severity for a notice that carries
    none, such as `notify-test`'s); the empty ones left out, as Alertmanager treats them
    as absent."""
    n = notification
    labels = dict(n.labels) or alert_labels(AlertKey(n.account, n.rule, n.subject), n.severity, "")
    return {name: value for name, value in labels.items() if value}


def key_of(labels: Mapping[str, str]) -> AlertKey:
    """The identity an alert's labels name (one read back from Alertmanager)."""
    return AlertKey(
        labels.get("account", ""), labels.get("alertname", ""), labels.get("currency", "")
    )


def alerts_of(notification: Notification, runbook_url: str = "") -> list[Alert]:
    """The alerts a notification tells about: itself, or each alert a grouped message
    lists; none for a digest, which is not an alert. Annotations: `summary` (the
    headline), `description` (the details, one a line) and, when configured,
    `runbook_url` with `{label}` placeholders filled in."""
    found = []
    for n in notification.alerts or (notification,):
        if n.kind is TransitionKind.DIGEST:
            continue
        labels = labels_of(n)
        annotations = {"summary": n.headline, "description": "\n".join(n.details)}
        if runbook_url:
            annotations["runbook_url"] = fill(runbook_url, labels)
        ends_at = n.at if n.kind is TransitionKind.RESOLVED else None
        key = AlertKey(n.account, n.rule, n.subject)
        found.append(Alert(key, labels, annotations, n.started_at, ends_at, n))
    return found


def placeholders(template: str) -> list[str]:
    """The `{label}` names in a template; ValueError if it is not one."""
    try:
        return [field for _, field, _, _ in string.Formatter().parse(template) if field]
    except ValueError as exc:
        raise ValueError(f"{template!r}: {exc} (write {{label}}, e.g. {{alertname}})") from None


def fill(template: str, labels: Mapping[str, str]) -> str:
    """`template` with each `{label}` replaced by that label's value ("" when absent)."""
    return template.format_map({name: labels.get(name, "") for name in placeholders(template)})


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint of a label set (Prometheus' `LabelSet.Fingerprint`):
    FNV-1a 64 over the sorted names and values, each followed by the byte 0xff."""
    value = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in (*part.encode(), _SEPARATOR):
                value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


def label_set(labels: Mapping[str, str]) -> str:
    """A label set written as Prometheus does: `{account="prod", alertname="low"}`."""
    pairs = (f"{name}={_quoted(labels[name])}" for name in sorted(labels))
    return "{" + ", ".join(pairs) + "}"


def _quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def rfc3339(at: datetime) -> str:
    """An aware time as Alertmanager writes it: UTC, `Z`, milliseconds."""
    utc = at.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def go_time(at: datetime) -> str:
    """A time as Alertmanager's webhook writes it (Go's RFC 3339 with nanoseconds): UTC,
    `Z`, the fraction without trailing zeros, none when whole."""
    utc = at.astimezone(UTC)
    fraction = f"{utc.microsecond:06d}".rstrip("0")
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + "Z"


def webhook_payload(
    alerts: list[Alert], receiver: str, group_by: tuple[str, ...], external_url: str = ""
) -> dict[str, Any]:
    """Alertmanager's webhook body (version 4) for one group of alerts: `groupLabels` are
    the `group_by` labels they share, `commonLabels`/`commonAnnotations` what all of them
    have alike, `status` firing while any of them fires."""
    first = alerts[0].labels
    group_labels = {
        name: first[name]
        for name in group_by
        if name in first and all(a.labels.get(name) == first[name] for a in alerts)
    }
    return {
        "version": WEBHOOK_VERSION,
        "groupKey": f"{{}}/balancebot:{label_set(group_labels)}",
        "truncatedAlerts": 0,
        "status": "firing" if any(a.firing for a in alerts) else "resolved",
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": _common([a.labels for a in alerts]),
        "commonAnnotations": _common([a.annotations for a in alerts]),
        "externalURL": external_url,
        "alerts": [
            {
                "status": "firing" if a.firing else "resolved",
                "labels": dict(a.labels),
                "annotations": dict(a.annotations),
                "startsAt": go_time(a.starts_at),
                "endsAt": go_time(a.ends_at) if a.ends_at else ZERO_TIME,
                "generatorURL": "",
                "fingerprint": a.fingerprint,
            }
            for a in alerts
        ],
    }


ZERO_TIME = "0001-01-01T00:00:00Z"
"""How Alertmanager writes the end of an alert still firing (Go's zero time)."""


def _common(maps: list[Mapping[str, str]]) -> dict[str, str]:
    first = maps[0] if maps else {}
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}
