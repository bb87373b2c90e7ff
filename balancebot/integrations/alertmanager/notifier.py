"""Alertmanager notifier: alerts posted to Prometheus Alertmanager's `POST /api/v2/alerts`,
the way Prometheus itself is a client of it.

Alertmanager takes an alert for resolved once its `endsAt` has passed, so a client keeps
posting what fires: each firing alert goes out with `endsAt` four resend intervals ahead
and is posted again every `resend_interval` while it fires (Prometheus does the same with
its `resend_delay`); a resolved alert is posted once with `endsAt` = when it resolved.
The outbox delivers each transition once per Alertmanager (a target); the re-posting is
this notifier's own background loop over what it has told each target, kept only for alerts
the engine still has firing (`watch`).

A restart does not lose what fires: on start the loop reads back from each Alertmanager the
alerts it holds from this notifier (their `generatorURL`) and re-posts those the engine
still has firing. A balancebot stopped for longer than four intervals lets Alertmanager
resolve them; they come back with the rule's next repeat.

Labels: severity is one of them, so an escalation is a new alert for Alertmanager; the one
it replaces is resolved in the same post.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, cast
from urllib.parse import quote

import httpx
from msgspec import Struct

from ...clock import Clock
from ...errors import DeliveryError
from ...models import AlertKey, Notification
from ...redact import secrets_in
from ...retry import retry_after_seconds
from ..amshape import Alert, alerts_of, key_of
from ..answers import HttpNotifier, delivery_error
from ..targets import unique
from .options import AlertmanagerOptions

log = logging.getLogger(__name__)

RESEND_FACTOR = 4
"""A firing alert's `endsAt` is this many resend intervals after its last post."""
READ_LIMIT = 8 * 1024 * 1024
"""Of Alertmanager's list of alerts read back at start (tens of thousands of alerts)."""


class AlertmanagerNotifier(HttpNotifier):
    read_limit = READ_LIMIT
    Options = AlertmanagerOptions

    def __init__(self, name: str, options: Struct, clock: Clock | None = None) -> None:
        super().__init__(name, options, clock)
        self.settings = cast(AlertmanagerOptions, options)
        urls = [url.rstrip("/") for url in self.settings.urls]
        self._urls = dict(zip(unique(urls), urls, strict=True))
        self._generator = self.settings.generator_url or f"balancebot://{quote(name, safe='')}"
        self._told: dict[str, dict[AlertKey, Alert]] = {t: {} for t in self._urls}
        """Per target, the alerts it was told fire: what the loop posts again."""
        self._ended: dict[str, set[str]] = {t: set() for t in self._urls}
        """Per target, fingerprints resolved since start: never taken back from it."""
        self._read_back: set[str] = set()
        self._failing: set[str] = set()
        self._firing_now: Callable[[], Collection[AlertKey]] | None = None
        self._loop: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    @classmethod
    def secrets(cls, options: Struct) -> set[str]:
        """The basic-auth pair in its header form too."""
        found = secrets_in(options)
        settings = cast(AlertmanagerOptions, options)
        if settings.basic_auth_password is not None:
            password = settings.basic_auth_password.get_secret_value()
            pair = f"{settings.basic_auth_username}:{password}"
            found.add(base64.b64encode(pair.encode()).decode())
        return found

    def targets(self) -> list[str]:
        return list(self._urls)

    def describe(self) -> str:
        return f"{self.name} (alertmanager, {', '.join(self._urls)})"

    def watch(self, firing: Callable[[], Collection[AlertKey]]) -> None:
        self._firing_now = firing

    def client_options(self) -> dict[str, Any]:
        settings = self.settings
        options: dict[str, Any] = {"timeout": settings.timeout.total_seconds()}
        if settings.bearer_token is not None:
            token = settings.bearer_token.get_secret_value()
            options["headers"] = {"Authorization": f"Bearer {token}"}
        if settings.basic_auth_password is not None:
            user = settings.basic_auth_username or ""
            password = settings.basic_auth_password.get_secret_value()
            options["auth"] = httpx.BasicAuth(user, password)
        return options

    async def start(self) -> None:
        await super().start()
        if self._loop is None:
            self._stop.clear()
            self._loop = asyncio.create_task(self._resend_forever(), name=f"{self.name} resend")

    async def close(self) -> None:
        self._stop.set()
        if self._loop is not None:
            self._loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop
            self._loop = None
        await super().close()

    async def send(self, notification: Notification, target: str) -> None:
        if target not in self._urls:
            raise DeliveryError(f"alertmanager {target}: no longer configured", permanent=True)
        alerts = alerts_of(notification, self.settings.runbook_url)
        if not alerts:
            return  # a digest: not an alert
        now = self.clock.now()
        await self._post(target, self._tell(target, alerts, now), now)

    def _tell(self, target: str, alerts: list[Alert], now: datetime) -> list[Alert]:
        """Record what `target` is told; the alerts to post, each replaced one resolved."""
        told, ended = self._told[target], self._ended[target]
        batch = []
        for alert in alerts:
            before = told.pop(alert.key, None)
            if before is not None and before.fingerprint != alert.fingerprint:
                batch.append(before.resolved(now))  # escalated: another label set
                ended.add(before.fingerprint)
            if alert.firing:
                told[alert.key] = alert
                ended.discard(alert.fingerprint)
            else:
                ended.add(alert.fingerprint)
            batch.append(alert)
        return batch

    async def _post(self, target: str, alerts: list[Alert], now: datetime) -> None:
        http = await self.client()
        ends_at = now + RESEND_FACTOR * self.settings.resend_interval
        body = [{**a.postable(ends_at), "generatorURL": self._generator} for a in alerts]
        where = f"alertmanager {target}"
        try:
            response = await http.post(f"{self._urls[target]}/api/v2/alerts", json=body)
        except httpx.HTTPError as exc:  # timeouts, refused and reset connections
            raise DeliveryError(f"{where}: {type(exc).__name__}", permanent=False) from None
        if not response.is_success:
            wait = retry_after_seconds(response.headers.get("retry-after"), now)
            raise delivery_error(where, response, wait, said(response))

    async def resend(self) -> None:
        """One round of the loop: read back what each target holds from us (until that
        worked once), then post again every alert it was told fires and the engine still
        has firing. A target that fails is said once, and again once it recovers."""
        for target in self._urls:
            try:
                if target not in self._read_back:
                    await self._read(target)
                    self._read_back.add(target)
                await self._refresh(target)
            except DeliveryError as exc:
                if target not in self._failing:
                    self._failing.add(target)
                    log.warning(
                        "%s: cannot post firing alerts again: %s; trying every %s",
                        self.name,
                        exc.message,
                        self.settings.resend_interval,
                    )
                continue
            if target in self._failing:
                self._failing.discard(target)
                log.info("%s: posting firing alerts to %s again", self.name, target)

    async def _refresh(self, target: str) -> None:
        told = self._told[target]
        if self._firing_now is not None:
            live = self._firing_now()
            for key in [k for k in told if k not in live]:
                del told[key]  # resolved in the engine; its notice is on its way or muted
        if told:
            await self._post(target, list(told.values()), self.clock.now())

    async def _read(self, target: str) -> None:
        """Take back the alerts `target` holds from this notifier (after a restart)."""
        http = await self.client()
        where = f"alertmanager {target}"
        try:
            response = await http.get(f"{self._urls[target]}/api/v2/alerts")
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{where}: {type(exc).__name__}", permanent=False) from None
        if not response.is_success:
            raise delivery_error(where, response, None, said(response))
        try:
            found = response.json()
        except ValueError:
            problem = f"{where}: its list of alerts is not JSON"
            raise DeliveryError(problem, permanent=False) from None
        told, ended = self._told[target], self._ended[target]
        for alert in found if isinstance(found, list) else []:
            held = held_alert(alert, self._generator)
            if held is not None and held.key not in told and held.fingerprint not in ended:
                told[held.key] = held
        log.debug("%s: %d firing alert(s) held by %s", self.name, len(told), target)

    async def _resend_forever(self) -> None:
        """`resend` every `resend_interval`, whatever a round meets: a bug in one round is
        one line, not the end of re-posting. Paced by the event loop's own time, not the
        injected clock: a test's fake clock must not race through rounds."""
        interval = self.settings.resend_interval.total_seconds()
        while not self._stop.is_set():
            try:
                await self.resend()
            except Exception as exc:  # the loop must outlive any round
                log.error("%s: re-posting firing alerts failed: %r", self.name, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), interval)


def held_alert(item: Any, generator: str) -> Alert | None:
    """An alert of Alertmanager's `GET /api/v2/alerts` as ours, if it came from `generator`."""
    if not isinstance(item, dict) or item.get("generatorURL") != generator:
        return None
    labels, annotations = item.get("labels"), item.get("annotations", {})
    if not isinstance(labels, dict) or not _strings(labels) or not _strings(annotations):
        return None
    try:
        starts_at = datetime.fromisoformat(_micro(str(item.get("startsAt"))))
    except ValueError:
        return None
    if starts_at.tzinfo is None:
        return None
    key = key_of(labels)
    if not key.account or not key.rule:
        return None
    return Alert(key, dict(labels), dict(annotations), starts_at)


def _strings(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    )


def _micro(text: str) -> str:
    """Go writes up to nine fraction digits; Python reads six."""
    head, dot, rest = text.partition(".")
    if not dot:
        return text
    digits = rest.rstrip("Z")
    return f"{head}.{digits[:6].ljust(6, '0')}{rest[len(digits) :]}"


def said(response: httpx.Response) -> str:
    """What Alertmanager said about a refused post: its error is a JSON string
    ("at least one label pair required") or an object with a `message`."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    if isinstance(body, dict):
        return str(body.get("message", ""))
    return body if isinstance(body, str) else ""
