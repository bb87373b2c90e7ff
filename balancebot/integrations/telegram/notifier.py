"""Telegram notifier on python-telegram-bot's `Bot` (HTML messages, one row per chat).

PTB's requests are `CappedRequest`s: at most 1 MiB of an answer is read (16 KiB of an
error; 4 MiB of a `getUpdates`), and `parameters.retry_after` is read strictly and capped
at an hour (`retry.retry_after_seconds`) before PTB turns it into `RetryAfter`."""

from __future__ import annotations

import json
import logging
import math
import os
from datetime import UTC, datetime
from typing import Annotated, Any, cast

# PTB 22 reports durations as timedelta once this is set, instead of warning on every
# RetryAfter that ints are deprecated; the code below accepts both.
os.environ.setdefault("PTB_TIMEDELTA", "1")

from msgspec import Meta, Struct
from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from ...clock import Clock
from ...config import RequestTimeout, Secret
from ...errors import DeliveryError
from ...httpcap import event_hooks, snippet
from ...models import Notification
from ...notifiers import Notifier
from ...redact import redact
from ...retry import retry_after_seconds
from ..pacing import Pacer
from .buttons import keyboard
from .rendering import telegram_html

log = logging.getLogger(__name__)

OVERALL_PER_SECOND = 25.0  # Telegram allows about 30; keep headroom for command replies
PRIVATE_CHAT_INTERVAL = 1.0  # one message per second per chat
GROUP_CHAT_INTERVAL = 3.0  # twenty per minute per group
ANSWER_BYTES = 1024 * 1024  # a sent Message echoed back: tens of KiB
UPDATES_BYTES = 4 * 1024 * 1024  # up to 100 updates of a long poll
POLL_WAIT_CAP = 60.0  # seconds a rate-limited long poll waits at most: the front-end's cap


class CappedRequest(HTTPXRequest):
    """PTB's httpx request, reading answers with a cap (`httpcap.event_hooks`) and
    `parameters.retry_after` strictly: PTB would pass `1e20` or `"soon"` to `timedelta`
    and raise `OverflowError`/`TypeError` out of `send_message` (a traceback, no retry).

    The long poll's (`polling`) waits at most `POLL_WAIT_CAP`, saying so: PTB's polling
    loop sleeps a `RetryAfter` out without telling anyone, so `retry_after: 1e12` (an
    hour, once capped) left commands unanswered for an hour, "connected" and no line."""

    def __init__(self, limit: int, polling: bool = False, **kwargs: Any) -> None:
        super().__init__(httpx_kwargs={"event_hooks": event_hooks(limit)}, **kwargs)
        self._polling = polling

    def parse_json_payload(self, payload: bytes) -> dict[str, Any]:  # type: ignore[override]
        """PTB's, without its ERROR line quoting the whole payload with a traceback."""
        try:
            data = json.loads(payload.decode("utf-8", "replace"))
        except ValueError:
            raise TelegramError("Invalid server response") from None
        if not isinstance(data, dict):
            raise TelegramError("Invalid server response")
        parameters = data.get("parameters")
        if isinstance(parameters, dict) and "retry_after" in parameters:
            seconds = retry_after_seconds(parameters.pop("retry_after"), datetime.now(UTC))
            if seconds and self._polling:
                log.warning(
                    "telegram commands: Telegram asked to wait %g s before polling again;"
                    " polling in %g s",
                    seconds,
                    min(seconds, POLL_WAIT_CAP),
                )
                seconds = min(seconds, POLL_WAIT_CAP)
            if seconds:  # else PTB maps the status alone: retried with our own backoff
                parameters["retry_after"] = math.ceil(seconds)
        return data


class TelegramOptions(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    bot_token: Secret
    chat_ids: Annotated[list[int | str], Meta(min_length=1)]  # ids, or @channelusername
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    timeout: RequestTimeout = RequestTimeout(seconds=10)


def chat_interval(chat: str) -> float:
    """Group and channel ids are negative (or @names); private chats are positive."""
    return PRIVATE_CHAT_INTERVAL if chat.isdigit() else GROUP_CHAT_INTERVAL


class TelegramNotifier(Notifier):
    Options = TelegramOptions

    def __init__(self, name: str, options: Struct, clock: Clock | None = None) -> None:
        super().__init__(name, options, clock)
        self.settings = cast(TelegramOptions, options)
        self._token = self.settings.bot_token.get_secret_value()
        self._migrated: dict[str, str] = {}
        self.show_buttons = False  # set by the front-end that answers the clicks
        self._pacer = Pacer(self.clock, chat_interval, OVERALL_PER_SECOND)
        timeout = self.settings.timeout.total_seconds()
        self.bot = Bot(
            self._token,
            base_url=self.settings.base_url,
            base_file_url=self.settings.base_file_url,
            request=CappedRequest(
                ANSWER_BYTES,
                connection_pool_size=8,
                read_timeout=timeout,
                write_timeout=timeout,
                connect_timeout=timeout,
            ),
            # for the chat front-end's long polling (PTB adds the poll timeout to reads)
            get_updates_request=CappedRequest(
                UPDATES_BYTES, polling=True, connect_timeout=timeout, read_timeout=timeout
            ),
        )

    @property
    def token(self) -> str:
        """For masking in the messages of code that shares `bot` (the chat front-end)."""
        return self._token

    def targets(self) -> list[str]:
        return [str(chat) for chat in self.settings.chat_ids]

    def describe(self) -> str:
        return f"{self.name} (telegram, chats {', '.join(self.targets())})"

    async def close(self) -> None:
        await self.bot.shutdown()

    async def pace(self, chat: str) -> None:
        """Wait for this chat's next free slot under Telegram's per-chat limits."""
        await self._pacer.wait(chat)

    async def slot(self, target: str) -> None:
        await self._pacer.grant(self._migrated.get(target, target))

    def try_pace(self, chat: str) -> bool:
        """Take this chat's slot only if it is free now (best-effort replies never queue)."""
        return self._pacer.try_now(chat)

    async def send(self, notification: Notification, target: str) -> None:
        markup = keyboard(notification) if self.show_buttons else None
        await self.send_html(telegram_html(notification), target, markup)

    async def send_html(
        self,
        text: str,
        target: str,
        buttons: InlineKeyboardMarkup | None = None,
        migrated: bool = False,
    ) -> None:
        chat = self._migrated.get(target, target)
        await self.pace(chat)
        try:
            await self.bot.send_message(
                chat_id=chat,
                text=text,
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                reply_markup=buttons,
            )
        except ChatMigrated as exc:
            if migrated:  # a second move in one send: a server to distrust, not to follow
                raise DeliveryError(
                    f"telegram chat {chat}: migrated again", permanent=False
                ) from None
            new_chat = str(exc.new_chat_id)
            log.warning(
                "telegram %s: chat %s became supergroup %s; sending there from now on "
                "(update chat_ids in the config)",
                self.name,
                chat,
                new_chat,
            )
            self._migrated[target] = new_chat
            await self.send_html(text, target, buttons, migrated=True)
        except TelegramError as exc:
            raise self._classify(exc, chat) from None

    def _classify(self, exc: TelegramError, chat: str) -> DeliveryError:
        """PTB already mapped HTTP statuses to exceptions; say which ones retrying fixes."""
        message = f"telegram chat {chat}: {snippet(redact(exc.message, [self._token]))}"
        if isinstance(exc, RetryAfter):  # already read strictly by CappedRequest
            seconds = retry_after_seconds(exc.retry_after, self.clock.now())
            return DeliveryError(message, permanent=False, retry_after=seconds)
        if isinstance(exc, InvalidToken | Forbidden | BadRequest | Conflict):
            return DeliveryError(message, permanent=True)
        return DeliveryError(message, permanent=False)  # NetworkError, TimedOut
