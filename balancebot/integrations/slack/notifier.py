"""Slack notifier: `chat.postMessage` with a bot token, or an incoming webhook.

Block Kit blocks with a plain `text` fallback. Rate limits (429) and server errors are
retried by the dispatcher through the outbox, waiting exactly `Retry-After`; errors that
retrying cannot fix (bad token, unknown or archived channel) are permanent.

slack-sdk reads answers through the aiohttp session given to it; that session's responses
are `CappedResponse`s, which read at most 1 MiB of an answer (16 KiB of an error),
inflated here with a bound (see `httpcap`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import aiohttp
from msgspec import Struct
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from ...clock import Clock
from ...config import RequestTimeout, Secret
from ...errors import DeliveryError
from ...httpcap import ACCEPT_ENCODING, ERROR_BODY_BYTES, CappedBody, snippet
from ...models import Notification
from ...notifiers import Notifier
from ...retry import retry_after_seconds
from ..pacing import Pacer
from .buttons import with_buttons
from .rendering import slack_blocks, slack_text

CHANNEL_INTERVAL = 1.0  # chat.postMessage: about one message per second per channel
OVERALL_PER_SECOND = 10.0

TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


ANSWER_BYTES = 1024 * 1024
"""A `chat.postMessage` answer echoes the message: tens of KiB at most."""


class CappedResponse(aiohttp.ClientResponse):
    """aiohttp's response reading at most `ANSWER_BYTES` of a body (`ERROR_BODY_BYTES` of
    an error) with the session's own decompression off: `read`, `text` and `json` (what
    slack-sdk calls) all go through `read`. Past the cap the connection is dropped."""

    async def read(self) -> bytes:
        if self._body is None:
            limit = ANSWER_BYTES if self.ok else ERROR_BODY_BYTES
            body = CappedBody(self.headers.get("Content-Encoding", ""), limit)
            try:
                while chunk := await self.content.readany():
                    if not body.feed(chunk):
                        self.close()
                        break
            except BaseException:
                self.close()
                raise
            self._body = body.content
        return self._body

    async def text(self, encoding: str | None = None, errors: str = "replace") -> str:
        """A cut body may end inside a character: replaced, never an exception."""
        return await super().text(encoding, errors)


def capped_session() -> aiohttp.ClientSession:
    """A session for slack-sdk whose answers are read with a cap (`CappedResponse`)."""
    return aiohttp.ClientSession(
        auto_decompress=False,
        response_class=CappedResponse,
        headers={"Accept-Encoding": ACCEPT_ENCODING},
    )


class SlackOptions(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    bot_token: Secret | None = None
    channels: list[str] = []
    webhook_url: Secret | None = None
    base_url: str = "https://slack.com/api/"
    timeout: RequestTimeout = RequestTimeout(seconds=10)

    def __post_init__(self) -> None:
        if (self.bot_token is None) == (self.webhook_url is None):
            raise ValueError("set either bot_token (with channels) or webhook_url")
        if self.bot_token is not None and not self.channels:
            raise ValueError("channels: a bot token needs at least one channel id")
        if self.webhook_url is not None and self.channels:
            raise ValueError("channels: a webhook posts to its own channel; remove channels")


def delivery_error(
    where: str, status: int, error: str, headers: Any, now: datetime
) -> DeliveryError:
    """The one mapping of Slack answers (Web API and webhooks) to retry decisions."""
    said = f"{error} (HTTP {status})" if error and status != 200 else error or f"HTTP {status}"
    message = f"slack {where}: {said}"
    if status == 429 or error == "ratelimited":
        value = headers.get("Retry-After") or headers.get("retry-after")
        seconds = retry_after_seconds(value, now)
        return DeliveryError(message, permanent=False, retry_after=seconds)
    if status >= 500 or error in TRANSIENT_ERRORS:
        return DeliveryError(message, permanent=False)
    return DeliveryError(message, permanent=True)


class SlackNotifier(Notifier):
    Options = SlackOptions

    def __init__(self, name: str, options: Struct, clock: Clock | None = None) -> None:
        super().__init__(name, options, clock)
        self.settings = cast(SlackOptions, options)
        self._pacer = Pacer(self.clock, lambda _: CHANNEL_INTERVAL, OVERALL_PER_SECOND)
        self._session: aiohttp.ClientSession | None = None
        self.web: AsyncWebClient | None = None
        self._webhook: AsyncWebhookClient | None = None
        self.show_buttons = False  # set by the front-end that answers the clicks

    def targets(self) -> list[str]:
        return list(self.settings.channels) or [""]

    def describe(self) -> str:
        if self.settings.webhook_url is not None:
            return f"{self.name} (slack webhook)"
        return f"{self.name} (slack, channels {', '.join(self.settings.channels)})"

    async def start(self) -> None:
        timeout = int(self.settings.timeout.total_seconds())
        self._session = capped_session()
        if self.settings.bot_token is not None:
            self.web = AsyncWebClient(
                token=self.settings.bot_token.get_secret_value(),
                base_url=self.settings.base_url,
                session=self._session,
                timeout=timeout,
                retry_handlers=[],  # retries go through the outbox, not a sleep in here
            )
        if self.settings.webhook_url is not None:
            self._webhook = AsyncWebhookClient(
                self.settings.webhook_url.get_secret_value(),
                session=self._session,
                timeout=timeout,
                retry_handlers=[],
            )

    def socket_web_client(self, session: aiohttp.ClientSession) -> AsyncWebClient:
        """A token-less Web API client on this notifier's endpoint, for Socket Mode's
        `apps.connections.open` (which takes the app-level token)."""
        return AsyncWebClient(
            base_url=self.settings.base_url,
            session=session,
            timeout=int(self.settings.timeout.total_seconds()),
            retry_handlers=[],  # the front-end retries, with backoff
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def slot(self, target: str) -> None:
        await self._pacer.grant(target)

    async def send(self, notification: Notification, target: str) -> None:
        blocks = slack_blocks(notification)
        if self.show_buttons:
            blocks = with_buttons(blocks, notification)
        await self.post(slack_text(notification), blocks, target)

    async def post(self, text: str, blocks: list[dict[str, Any]], target: str) -> None:
        await self._pacer.wait(target)
        where = f"channel {target}" if target else "webhook"
        try:
            if self._webhook is not None:
                response = await self._webhook.send(text=text, blocks=blocks)
                if response.status_code != 200:
                    raise delivery_error(
                        where,
                        response.status_code,
                        snippet(response.body),
                        response.headers,
                        self.clock.now(),
                    )
                return
            assert self.web is not None
            await self.web.chat_postMessage(channel=target, text=text, blocks=blocks)
        except SlackApiError as exc:
            # slack-sdk's response, or aiohttp's own when the body was not JSON
            response = exc.response
            data = getattr(response, "data", None)
            error = snippet(str(data.get("error", ""))) if isinstance(data, dict) else ""
            status = int(getattr(response, "status_code", 0) or getattr(response, "status", 0))
            headers = getattr(response, "headers", {})
            raise delivery_error(where, status, error, headers, self.clock.now()) from None
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise DeliveryError(f"slack {where}: {type(exc).__name__}", permanent=False) from None
