"""Telegram front-end: PTB's `Application` with long polling, inside the daemon's loop.

Started like `run_polling` does it, without blocking: initialize (getMe) → start_polling
(deleteWebhook, getUpdates) → start; stopped in reverse. Commands arrive as `/balance`
or `/balance@BotName`; replies go back to the same chat as HTML.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import Conflict, RetryAfter, TelegramError
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes, filters
from telegram.ext import MessageHandler as PTBMessageHandler

from ...commands import Commands
from ...commands.access import Caller
from ...errors import BalanceBotError
from ...frontends import FrontEndContext, Supervised, demote
from ...i18n import _
from ...redact import redact
from . import buttons
from .notifier import TelegramNotifier
from .rendering import TELEGRAM_CAPTION_MAX_CHARS, telegram_html

log = logging.getLogger(__name__)

POLL_TIMEOUT = timedelta(seconds=30)
REPLY_ATTEMPTS = 3
MAX_REPLY_WAIT = 10.0  # seconds; a person waiting for an answer won't wait much longer


class TelegramFrontEnd(Supervised):
    """Long polling on the notifier's own `Bot` (one client per token)."""

    name = "telegram"
    single_consumer = True  # one getUpdates consumer per token

    def __init__(self, commands: Commands, notifier: TelegramNotifier) -> None:
        super().__init__(notifier.clock)
        self._commands = commands
        self._notifier = notifier
        self._token = notifier.token
        self._lost = asyncio.Event()
        self._reason = ""
        self.app: Application = (  # type: ignore[type-arg]
            ApplicationBuilder()
            .bot(notifier.bot)
            .job_queue(None)  # one scheduler in the process: ours
            .build()
        )
        for name in commands.registry:
            self.app.add_handler(CommandHandler(name, self._on_command))
        self.app.add_handler(PTBMessageHandler(filters.COMMAND, self._on_command))
        # PTB logs each failed poll (and the final getUpdates on stop) with a traceback
        demote("telegram.ext", "telegram.ext.Updater", "telegram.ext.Application")
        buttons.install(self.app, commands)
        # the alerts carry buttons only where a front-end hears their clicks
        notifier.show_buttons = commands.config.chat.buttons

    @classmethod
    def build(cls, context: FrontEndContext) -> TelegramFrontEnd:
        section = context.config.chat.telegram
        assert section is not None  # built only when configured
        return cls(context.commands, context.notifier(section.notifier, TelegramNotifier))

    async def connect(self) -> None:
        self._lost.clear()
        try:
            await self.app.initialize()  # getMe, once
            assert self.app.updater is not None
            await self.app.updater.start_polling(
                timeout=POLL_TIMEOUT,
                allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY],
                error_callback=self._polling_error,
            )
            await self.app.start()
            await self.app.bot.set_my_commands(
                [BotCommand(c.name, _(c.summary)[:256]) for c in self._commands.registry.values()]
            )
        except TelegramError as exc:  # PTB's message may quote the token
            raise BalanceBotError(redact(exc.message, [self._token])) from None
        log.debug("telegram commands: polling as @%s", self.app.bot.username)

    async def until_lost(self) -> str:
        await self._lost.wait()
        return self._reason

    async def disconnect(self) -> None:
        """Stop polling and handling; the Bot stays open, the notifier owns it."""
        with contextlib.suppress(Exception):  # already broken: nothing left to release
            if self.app.updater is not None and self.app.updater.running:
                await self.app.updater.stop()
        with contextlib.suppress(Exception):
            if self.app.running:
                await self.app.stop()

    def _polling_error(self, exc: TelegramError) -> None:
        message = redact(exc.message, [self._token])
        if isinstance(exc, Conflict):
            message = f"another process polls this bot token: {message}"
        self._reason = message
        self._lost.set()

    async def _on_command(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if message is None or user is None or chat is None or not message.text:
            return
        addressed = message.text.split()[0].partition("@")[2]
        if addressed and addressed.lower() != (self.app.bot.username or "").lower():
            return  # /balance@SomeOtherBot in a group
        caller = Caller(
            "telegram",
            str(user.id),
            str(chat.id),
            user.username or user.first_name,
            private=chat.id == user.id,  # a private chat's id is its user's
        )
        reply = await self._commands.handle(caller, message.text)
        if reply is None or (reply.best_effort and not self._notifier.try_pace(str(chat.id))):
            return  # a stranger told no already, or no slot free now: never queue a refusal
        error: TelegramError
        for attempt in range(REPLY_ATTEMPTS):
            if not reply.best_effort:  # alerts and replies share the chat's limit
                await self._notifier.pace(str(chat.id))
            try:
                if reply.image is not None:
                    await self.app.bot.send_photo(
                        chat_id=chat.id,
                        photo=reply.image,
                        caption=telegram_html(reply, TELEGRAM_CAPTION_MAX_CHARS),
                        parse_mode=ParseMode.HTML,
                    )
                else:
                    await self.app.bot.send_message(
                        chat_id=chat.id,
                        text=telegram_html(reply),
                        parse_mode=ParseMode.HTML,
                        link_preview_options=LinkPreviewOptions(is_disabled=True),
                    )
                return
            except RetryAfter as exc:  # several replies to one chat in a second
                wait = exc.retry_after
                seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
                if (
                    attempt < REPLY_ATTEMPTS - 1
                    and seconds <= MAX_REPLY_WAIT
                    and not reply.best_effort
                ):
                    await self.clock.sleep(seconds)
                    continue
                error = exc
            except TelegramError as exc:
                error = exc
            log.warning(
                "telegram commands: reply to chat %s failed: %s",
                chat.id,
                redact(error.message, [self._token]),
            )
            return
