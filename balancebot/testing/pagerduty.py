"""PagerDuty's Events API v2 on a loopback port, as its documentation describes it.

`POST /v2/enqueue` takes one JSON event: `routing_key` (32 characters), `event_action`
(`trigger`, `acknowledge`, `resolve`), `dedup_key` (at most 255 characters; needed to
acknowledge or resolve) and, for a trigger, `payload` with `summary` (at most 1024
characters), `source` and `severity` (`critical`, `error`, `warning`, `info`) required and
an ISO 8601 `timestamp`. Bodies are limited to 512 KB.

Answers: 202 `{"status": "success", "message": "Event processed", "dedup_key": ...}` (a
trigger without a key gets a new one); 400 `{"status": "invalid event", "message": "Event
object is invalid", "errors": [...]}`; 429 when throttled. A trigger opens an alert (or
adds to the open one with its key), a resolve closes it, and events for a resolved or
unknown key are dropped, except a trigger, which opens a new alert. `faults` are answered
first, one per request.
"""

from __future__ import annotations

import json
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from ..httpserver import LoopbackServer
from .receiver import Fault

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
MAX_BODY = 512 * 1024
THROTTLED = Fault(
    429,
    {"Content-Type": "application/json"},
    json.dumps(
        {
            "status": "throttle exceeded",
            "message": "Requests for this service are arriving too quickly. Please retry later.",
        }
    ),
)


@dataclass
class PagerDutyAlert:
    routing_key: str
    dedup_key: str
    status: str  # "triggered", "acknowledged", "resolved"
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def payload(self) -> dict[str, Any]:
        """The payload of its latest trigger."""
        triggers = [e for e in self.events if e["event_action"] == "trigger"]
        found: dict[str, Any] = triggers[-1]["payload"]
        return found


class PagerDutyEvents(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []  # every accepted event, in order
        self.alerts: list[PagerDutyAlert] = []  # every alert opened, in order
        self.requests = 0
        self.faults: deque[Fault] = deque()
        self.app.router.add_post("/v2/enqueue", self._enqueue)

    @property
    def enqueue_url(self) -> str:
        return f"{self.url}/v2/enqueue"

    def open_alert(self, dedup_key: str) -> PagerDutyAlert | None:
        for alert in reversed(self.alerts):
            if alert.dedup_key == dedup_key and alert.status != "resolved":
                return alert
        return None

    async def _enqueue(self, request: web.Request) -> web.Response:
        self.requests += 1
        if self.faults:
            fault = self.faults.popleft()
            return web.Response(status=fault.status, headers=fault.headers, text=fault.body)
        raw = await request.content.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            return invalid(["Event object is too large (the limit is 512 KB)"])
        try:
            body = json.loads(raw)
        except ValueError:
            return invalid(["Event object is not valid JSON"])
        if not isinstance(body, dict):
            return invalid(["Event object must be a JSON object"])
        errors = problems(body)
        if errors:
            return invalid(errors)
        action = body["event_action"]
        key = body.get("dedup_key") or str(uuid.uuid4())
        accepted = {**body, "dedup_key": key}
        self.events.append(accepted)
        alert = self.open_alert(key)
        if alert is not None and alert.routing_key != body["routing_key"]:
            alert = None  # another integration's: a trigger opens its own, others drop
        if action == "trigger":
            if alert is None:
                alert = PagerDutyAlert(body["routing_key"], key, "triggered")
                self.alerts.append(alert)
            alert.events.append(accepted)
        elif alert is not None:
            alert.status = "resolved" if action == "resolve" else "acknowledged"
            alert.events.append(accepted)
        return web.json_response(
            {"status": "success", "message": "Event processed", "dedup_key": key}, status=202
        )


def invalid(errors: list[str]) -> web.Response:
    return web.json_response(
        {"status": "invalid event", "message": "Event object is invalid", "errors": errors},
        status=400,
    )


def problems(body: dict[str, Any]) -> list[str]:
    """What the documentation says PagerDuty refuses in an event."""
    found = []
    key = body.get("routing_key")
    if not isinstance(key, str) or not key:
        found.append("'routing_key' is missing or blank")
    elif len(key) != 32:
        found.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = body.get("event_action")
    if action not in ACTIONS:
        found.append("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
    dedup = body.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
        found.append("'dedup_key' is too long (must be at most 255 characters)")
    if action in ("acknowledge", "resolve") and not dedup:
        found.append("'dedup_key' is missing or blank")
    if action == "trigger":
        found += payload_problems(body.get("payload"))
    return found


def payload_problems(payload: object) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is missing or invalid"]
    found = []
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary:
        found.append("'payload.summary' is missing or blank")
    elif len(summary) > 1024:
        found.append("'payload.summary' is too long (must be at most 1024 characters)")
    source = payload.get("source")
    if not isinstance(source, str) or not source:
        found.append("'payload.source' is missing or blank")
    if payload.get("severity") not in SEVERITIES:
        found.append("'payload.severity' is invalid (must be critical, error, warning or info)")
    timestamp = payload.get("timestamp")
    if timestamp is not None:
        try:
            datetime.fromisoformat(str(timestamp))
        except ValueError:
            found.append("'payload.timestamp' is not an ISO 8601 timestamp")
    details = payload.get("custom_details")
    if details is not None and not isinstance(details, dict):
        found.append("'payload.custom_details' must be an object")
    return found
