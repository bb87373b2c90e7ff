"""What the notifiers that speak plain HTTP (webhook, alertmanager, pagerduty) share: one
httpx client each (`HttpNotifier`), and the one mapping of a service's answer to a delivery
decision (`delivery_error`).

2xx is delivered; 429, 5xx (and, by the caller, transport errors) are transient and retried
through the outbox, waiting out `Retry-After`; a redirect is permanent (never followed: it
could carry a signed body or a key elsewhere), and so is any other 4xx, since sending the
same request again cannot help.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

from ..errors import DeliveryError
from ..httpcap import ERROR_BODY_BYTES, event_hooks, snippet
from ..notifiers import Notifier
from .targets import masked_url


class HttpNotifier(Notifier):
    """A notifier with one httpx client, opened by `start` (or its first send) and closed
    by `close`. Redirects are never followed; an answer's body is read up to `read_limit`
    bytes (an error's up to 16 KiB)."""

    read_limit: ClassVar[int] = ERROR_BODY_BYTES
    _http: httpx.AsyncClient | None = None

    def client_options(self) -> dict[str, Any]:
        """The client's `timeout` and whatever else this service needs (auth, headers)."""
        raise NotImplementedError

    async def start(self) -> None:
        if self._http is None:
            options = self.client_options()
            headers = {"User-Agent": "balancebot", **options.pop("headers", {})}
            self._http = httpx.AsyncClient(
                follow_redirects=False,
                headers=headers,
                event_hooks=event_hooks(self.read_limit),
                **options,
            )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def client(self) -> httpx.AsyncClient:
        if self._http is None:
            await self.start()
        assert self._http is not None
        return self._http


def delivery_error(
    where: str, response: httpx.Response, retry_after: float | None, detail: str = ""
) -> DeliveryError:
    """`where` names the service and target (`webhook https://x/…`); `detail` is what the
    service said, already free of secrets (a short excerpt of its error body)."""
    status = response.status_code
    message = f"{where}: HTTP {status}" + (f" ({snippet(detail)})" if detail else "")
    if response.is_redirect:
        location = masked_url(response.headers.get("location", ""))
        return DeliveryError(
            f"{where}: HTTP {status} to {location} (redirects are not followed)", permanent=True
        )
    if status == 429 or status >= 500:
        return DeliveryError(message, permanent=False, retry_after=retry_after)
    return DeliveryError(message, permanent=True)
