"""The one mapping of an HTTP service's answer to a delivery decision, for the notifiers
that speak plain HTTP (webhook, alertmanager, pagerduty).

2xx is delivered; 429, 5xx (and, by the caller, transport errors) are transient and retried
through the outbox, waiting out `Retry-After`; a redirect is permanent (never followed: it
could carry a signed body or a key elsewhere), and so is any other 4xx, since sending the
same request again cannot help.
"""

from __future__ import annotations

import httpx

from ..errors import DeliveryError
from ..httpcap import snippet
from .targets import masked_url


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
