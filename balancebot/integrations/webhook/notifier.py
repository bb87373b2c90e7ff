"""Webhook notifier: each notification as a signed JSON POST to one or more URLs.

The body is the versioned schema of `payload()` (docs/webhook.md), or with `format =
"alertmanager"` Alertmanager's own webhook payload (docs/oncall.md); the signature header
`X-Balancebot-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body>` lets the
receiver check that the body came from whoever holds the shared secret, and recently.
Answers map to retry decisions in `delivery_error()`: 2xx delivered; 429, 5xx and transport
errors are retried through the outbox (waiting out `Retry-After`); any other answer,
redirects included (they are not followed), is permanent. At most 16 KiB of an answer's
body is read (`httpcap`): only its status matters.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Annotated, Any, Literal, cast
from urllib.parse import urlsplit

import httpx
from msgspec import Meta, Struct

from ...clock import Clock
from ...config import RequestTimeout, Secret
from ...errors import DeliveryError
from ...models import Notification
from ...redact import secrets_in
from ...retry import retry_after_seconds
from ..amshape import alerts_of, webhook_payload
from ..answers import HttpNotifier
from ..answers import delivery_error as answer_error
from ..targets import masked_url, unique, url_secrets

SCHEMA_VERSION = 1
GROUP_BY = ("alertname", "account")
"""The `groupLabels` of an Alertmanager-format payload: one rule's alert on one account."""
SIGNATURE_HEADER = "X-Balancebot-Signature"
MIN_SECRET_LENGTH = 16


class WebhookOptions(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    urls: Annotated[list[Secret], Meta(min_length=1)]  # may hold tokens: kept out of logs
    secret: Secret  # the HMAC key the receivers share
    timeout: RequestTimeout = RequestTimeout(seconds=10)
    format: Literal["balancebot", "alertmanager"] = "balancebot"
    """`alertmanager`: Alertmanager's webhook payload (version 4), for its receivers."""

    def __post_init__(self) -> None:
        for url in self.urls:
            parts = urlsplit(url.get_secret_value())
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(
                    f"urls: {masked_url(url.get_secret_value())} is not an http(s) URL"
                )
        if len(self.secret.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"secret: at least {MIN_SECRET_LENGTH} characters (openssl rand -hex 32)"
            )


def payload(notification: Notification) -> dict[str, Any]:
    """Schema version 1. Fields are only ever added within a version; `id` is the same on
    every retry of one notification, so a receiver can drop duplicates."""
    n = notification
    return {
        "version": SCHEMA_VERSION,
        "id": notification_id(n),
        "kind": n.kind.value,
        "severity": n.severity.name.lower(),
        "account": n.account,
        "rule": n.rule,
        "subject": n.subject,
        "headline": n.headline,
        "details": list(n.details),
        "at": n.at.isoformat(),
        "started_at": n.started_at.isoformat(),
    }


def notification_id(n: Notification) -> str:
    key = "\x1f".join((n.kind.value, n.account, n.rule, n.subject, n.at.isoformat()))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The header value: `t=<timestamp>,v1=<hex HMAC-SHA256 over b"<timestamp>." + body>`."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def delivery_error(
    where: str, response: httpx.Response, retry_after: float | None
) -> DeliveryError:
    """The one mapping of a receiver's answer to a retry decision (`answers`)."""
    return answer_error(f"webhook {where}", response, retry_after)


class WebhookNotifier(HttpNotifier):
    Options = WebhookOptions

    def __init__(self, name: str, options: Struct, clock: Clock | None = None) -> None:
        super().__init__(name, options, clock)
        self.settings = cast(WebhookOptions, options)
        urls = [url.get_secret_value() for url in self.settings.urls]
        self._urls = dict(zip(unique([masked_url(u) for u in urls]), urls, strict=True))
        self._key = self.settings.secret.get_secret_value().encode()

    @classmethod
    def secrets(cls, options: Struct) -> set[str]:
        """Each URL's path and query too (what its target name hides): a library may log
        the URL in another spelling than the one configured."""
        found = secrets_in(options)
        for url in cast(WebhookOptions, options).urls:
            found |= url_secrets(url.get_secret_value())
        return found

    def targets(self) -> list[str]:
        return list(self._urls)

    def describe(self) -> str:
        return f"{self.name} (webhook, {', '.join(self._urls)})"

    def client_options(self) -> dict[str, Any]:
        return {"timeout": self.settings.timeout.total_seconds()}

    async def send(self, notification: Notification, target: str) -> None:
        http = await self.client()
        url = self._urls.get(target)
        if url is None:
            raise DeliveryError(f"webhook {target}: no longer configured", permanent=True)
        if self.settings.format == "alertmanager":
            alerts = alerts_of(notification)
            if not alerts:
                return  # a digest: Alertmanager's receivers take alerts only
            content = webhook_payload(alerts, self.name, GROUP_BY)
        else:
            content = payload(notification)
        body = json.dumps(content, ensure_ascii=False).encode()
        now = self.clock.now()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(self._key, int(now.timestamp()), body),
        }
        try:
            response = await http.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:  # timeouts, refused and reset connections
            raise DeliveryError(
                f"webhook {target}: {type(exc).__name__}", permanent=False
            ) from None
        if not response.is_success:
            wait = retry_after_seconds(response.headers.get("retry-after"), now)
            raise delivery_error(target, response, wait)
