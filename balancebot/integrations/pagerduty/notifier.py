"""PagerDuty notifier: each alert as an Events API v2 event (`POST /v2/enqueue`).

A firing alert (and each repeat or escalation) is a `trigger`, a resolved one a `resolve`,
both under a `dedup_key` made from the alert's identity (account, rule, currency), so a
repeat or an escalation updates the open PagerDuty alert and the resolve closes it. The
severity maps as is (`critical`, `warning`, `info`); the summary is the headline, cut to
PagerDuty's 1024 characters; labels and detail lines go to `custom_details`.

Answers (PagerDuty's documented retry table): 202 delivered; 429, 5xx and network errors
are retried through the outbox, waiting out `Retry-After` when one is sent; 400 (an event
PagerDuty refuses: its `errors` are quoted) and any other answer are permanent. The
`routing_key` is a secret: never logged, and cut out of whatever PagerDuty says back.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, cast

import httpx
from msgspec import Struct

from ...clock import Clock
from ...config import RequestTimeout, Secret
from ...errors import DeliveryError
from ...models import Notification, Severity
from ...retry import retry_after_seconds
from ..amshape import Alert, alerts_of, fill, placeholders
from ..answers import HttpNotifier, delivery_error
from ..targets import masked_url

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SUMMARY_LIMIT = 1024
DEDUP_KEY_LIMIT = 255
_ROUTING_KEY = re.compile(r"[A-Za-z0-9]{32}")


class PagerDutyOptions(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    routing_key: Secret
    """The Integration Key of an Events API v2 integration (32 characters)."""
    url: str = EVENTS_URL
    runbook_url: str = ""
    """A link on the PagerDuty alert; `{label}` placeholders take the alert's labels."""
    timeout: RequestTimeout = RequestTimeout(seconds=10)

    def __post_init__(self) -> None:
        if not _ROUTING_KEY.fullmatch(self.routing_key.get_secret_value()):
            raise ValueError(
                "routing_key: 32 letters and digits, the Integration Key of an "
                "Events API v2 integration (service → Integrations)"
            )
        if not self.url.startswith(("https://", "http://")):
            raise ValueError(f"url: {self.url!r} is not an http(s) URL")
        placeholders(self.runbook_url)


def dedup_key(alert: Alert) -> str:
    """The alert's identity, readable (`balancebot/prod/low/CNY`), or its hash when that
    would pass PagerDuty's 255 characters."""
    key = alert.key
    readable = "/".join(
        ("balancebot", key.account, key.rule, *([key.subject] if key.subject else []))
    )
    if len(readable) <= DEDUP_KEY_LIMIT:
        return readable
    return "balancebot/" + hashlib.sha256(readable.encode()).hexdigest()


def summary(text: str) -> str:
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"


def event(routing_key: str, alert: Alert, runbook_url: str) -> dict[str, Any]:
    """The Events API v2 body for one alert of a notification."""
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger" if alert.firing else "resolve",
        "dedup_key": dedup_key(alert),
    }
    if not alert.firing:
        return body
    labels, notification = alert.labels, alert.notice
    assert notification is not None  # alerts_of() gives each its notice
    payload: dict[str, Any] = {
        "summary": summary(notification.headline),
        "source": alert.key.account,
        "severity": SEVERITIES[notification.severity],
        "timestamp": notification.at.isoformat(),
        "class": alert.key.rule,
        "custom_details": {**labels, "details": list(notification.details)},
    }
    if labels.get("provider"):
        payload["component"] = labels["provider"]
    if alert.key.subject:
        payload["group"] = alert.key.subject
    body.update(payload=payload, client="balancebot")
    if runbook_url:
        body["links"] = [{"href": fill(runbook_url, labels), "text": "Runbook"}]
    return body


SEVERITIES = {Severity.CRITICAL: "critical", Severity.WARNING: "warning", Severity.INFO: "info"}


class PagerDutyNotifier(HttpNotifier):
    Options = PagerDutyOptions

    def __init__(self, name: str, options: Struct, clock: Clock | None = None) -> None:
        super().__init__(name, options, clock)
        self.settings = cast(PagerDutyOptions, options)
        self._key = self.settings.routing_key.get_secret_value()

    def describe(self) -> str:
        return f"{self.name} (pagerduty, {masked_url(self.settings.url)})"

    def client_options(self) -> dict[str, Any]:
        return {"timeout": self.settings.timeout.total_seconds()}

    async def send(self, notification: Notification, target: str) -> None:
        """One event per alert (a group's alerts each under their own dedup key)."""
        for alert in alerts_of(notification):
            await self._enqueue(event(self._key, alert, self.settings.runbook_url))

    async def _enqueue(self, body: dict[str, Any]) -> None:
        http = await self.client()
        where = f"pagerduty {body['event_action']} {body['dedup_key']}"
        now = self.clock.now()
        try:
            response = await http.post(self.settings.url, json=body)
        except httpx.HTTPError as exc:  # timeouts, refused and reset connections
            raise DeliveryError(f"{where}: {type(exc).__name__}", permanent=False) from None
        if not response.is_success:
            wait = retry_after_seconds(response.headers.get("retry-after"), now)
            raise delivery_error(where, response, wait, self._said(response))

    def _said(self, response: httpx.Response) -> str:
        """PagerDuty's reason (`message: errors`), the routing key cut out of it."""
        try:
            answer = response.json()
        except ValueError:
            text = response.text
        else:
            if isinstance(answer, dict):
                errors = answer.get("errors")
                listed = "; ".join(map(str, errors)) if isinstance(errors, list) else ""
                text = ": ".join(str(p) for p in (answer.get("message"), listed) if p)
            else:
                text = str(answer)
        return text.replace(self._key, "…")
