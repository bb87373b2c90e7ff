"""Acme Chat notifier: `POST {url}/api/messages` with a bearer token, one per channel.

The contract (`balancebot.Notifier`): an options struct that forbids unknown keys and
holds the token as a `Secret` (so it is redacted from logs); `targets` are the outbox's
unit of retry; `send` returns only once the service accepted the message, else raises
`DeliveryError(permanent=..., retry_after=...)` for the dispatcher to act on.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from msgspec import Meta, Struct

from balancebot import Clock, DeliveryError, Notification, Notifier, Secret, retry_after_seconds

TIMEOUT = httpx.Timeout(10.0, connect=5.0)  # nothing waits forever on the network


class AcmeChatOptions(Struct, frozen=True, forbid_unknown_fields=True):
    """The keys beside `name` and `type` in an `acmechat` `[[notifiers]]` entry."""

    url: Annotated[str, Meta(pattern=r"^https?://")]
    token: Secret
    channels: Annotated[list[str], Meta(min_length=1)]


class AcmeChatNotifier(Notifier):
    Options = AcmeChatOptions

    def __init__(self, name: str, options: Struct, clock: Clock | None = None) -> None:
        super().__init__(name, options, clock)
        assert isinstance(options, AcmeChatOptions)  # from_options converts to Options
        self.settings = options
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        """The one client for this token; the chat front-end sends its replies on it too."""
        if self._http is None:
            self._http = httpx.AsyncClient(
                base_url=self.settings.url,
                headers={"Authorization": f"Bearer {self.settings.token.get_secret_value()}"},
                timeout=TIMEOUT,
                follow_redirects=False,
            )
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def targets(self) -> list[str]:
        return list(self.settings.channels)

    async def send(self, notification: Notification, target: str) -> None:
        lines = [f"{notification.icon} {notification.headline}", *notification.details]
        await self.post(target, "\n".join(lines))

    async def post(self, channel: str, text: str, **extra: Any) -> None:
        """One message, or the `DeliveryError` its failure means."""
        try:
            response = await self.http.post(
                "/api/messages", json={"channel": channel, "text": text, **extra}
            )
        except httpx.HTTPError as exc:  # refused, reset, timed out: worth another try
            reason = f"cannot reach Acme Chat: {type(exc).__name__}"
            raise DeliveryError(reason, permanent=False) from None
        if response.status_code == 429:
            wait = response.headers.get("Retry-After")  # seconds or a date, read strictly
            retry_after = retry_after_seconds(wait, self.clock.now())
            raise DeliveryError("Acme Chat: rate limited", permanent=False, retry_after=retry_after)
        if response.status_code >= 500:
            raise DeliveryError(f"Acme Chat: HTTP {response.status_code}", permanent=False)
        if response.status_code != 200:  # bad token, unknown channel: retrying won't help
            raise DeliveryError(f"Acme Chat: HTTP {response.status_code}", permanent=True)
