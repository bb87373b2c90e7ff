"""Mute buttons on Telegram alerts: an inline keyboard, and PTB's `CallbackQueryHandler`.

A click is answered (`answerCallbackQuery`) in every case, so the client stops spinning;
a refusal only to the person who clicked, as an alert box. When the mute was set, the
message is edited (`editMessageText`, its HTML rebuilt from the entities) to say who muted
it until when, and loses its buttons.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import MessageLimit, ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from ...commands import Commands
from ...commands.access import Caller
from ...commands.buttons import buttons_for, press
from ...models import Notification

if TYPE_CHECKING:
    from .notifier import TelegramNotifier

log = logging.getLogger(__name__)


def markup(buttons: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup | None:
    """The timed mutes on one row and "until resolved" on the next; None for no buttons."""
    keys = [InlineKeyboardButton(label, callback_data=data) for label, data in buttons]
    if not keys:
        return None
    return InlineKeyboardMarkup([keys[:3], keys[3:]] if len(keys) > 3 else [keys])


def keyboard(notification: Notification) -> InlineKeyboardMarkup | None:
    return markup(buttons_for(notification))


def install(app: Application, commands: Commands, notifier: TelegramNotifier) -> None:  # type: ignore[type-arg]
    """Answer mute-button clicks on this application; from now on the notifier's alerts
    carry buttons (without a front-end nobody would hear the clicks)."""
    notifier.show_buttons = commands.config.chat.buttons

    async def on_click(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        message = query.message
        chat = str(message.chat.id) if message is not None else ""
        user = query.from_user
        caller = Caller("telegram", str(user.id), chat, user.username or user.first_name)
        pressed = await press(commands, caller, query.data or "")
        try:
            await query.answer(pressed.answer[:200], show_alert=pressed.note is None)
            if pressed.note is None or not isinstance(message, Message):
                return
            buttons = markup(pressed.buttons)
            if len(message.text or "") + len(pressed.note) + 2 > MessageLimit.MAX_TEXT_LENGTH:
                await message.edit_reply_markup(reply_markup=buttons)  # no room for the note
                return
            await message.edit_text(
                f"{message.text_html}\n\n{html.escape(pressed.note)}",
                parse_mode=ParseMode.HTML,
                reply_markup=buttons,
            )
        except TelegramError as exc:
            log.warning("telegram buttons: answering a click failed: %s", exc.message)

    app.add_handler(CallbackQueryHandler(on_click))
