"""Mute buttons on Telegram alerts: an inline keyboard, and PTB's `CallbackQueryHandler`.

A click is answered (`answerCallbackQuery`), so the client stops spinning: a refusal or
failure only to the person who clicked, as an alert box; a stranger's clicks after the
first are not answered at all (the commands' refusal limiter). When the mute was set, the
message is edited (`editMessageText`, its HTML rebuilt from the entities) to say who muted
it until when (replacing what an earlier click said), and its buttons are swapped.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import MessageLimit, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from ...commands import Commands
from ...commands.access import Caller
from ...commands.buttons import NOTE_MARKS, buttons_for, press
from ...models import Notification

log = logging.getLogger(__name__)


def markup(buttons: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup | None:
    """The timed mutes on one row and "until resolved" on the next; None for no buttons."""
    keys = [InlineKeyboardButton(label, callback_data=data) for label, data in buttons]
    if not keys:
        return None
    return InlineKeyboardMarkup([keys[:3], keys[3:]] if len(keys) > 3 else [keys])


def without_note(text: str) -> str:
    """The message without the mute note an earlier click added (the alert itself has no
    blank line), so it shows only the mute state now, however many times it was clicked."""
    alert, _, note = text.rpartition("\n\n")
    return alert if alert and note.startswith(NOTE_MARKS) else text


def keyboard(notification: Notification) -> InlineKeyboardMarkup | None:
    return markup(buttons_for(notification))


async def show(message: Message, note: str, buttons: InlineKeyboardMarkup | None) -> None:
    """Put the click's note and buttons on the message, unless it says that already.
    Telegram refuses an edit that changes nothing (two people muting at once, each click
    carrying the message as it was before either), which is no failure here."""
    text, text_html = without_note(message.text or ""), without_note(message.text_html)
    try:
        if len(text) + len(note) + 2 > MessageLimit.MAX_TEXT_LENGTH:  # no room for the note
            if message.reply_markup != buttons:
                await message.edit_reply_markup(reply_markup=buttons)
            return
        edited = f"{text_html}\n\n{html.escape(note)}"
        if edited != message.text_html or message.reply_markup != buttons:
            await message.edit_text(edited, parse_mode=ParseMode.HTML, reply_markup=buttons)
    except BadRequest as exc:
        if "not modified" not in exc.message:
            raise
        log.debug("telegram buttons: the message already showed it")


def install(app: Application, commands: Commands) -> None:  # type: ignore[type-arg]
    """Answer mute-button clicks on this application."""

    async def on_click(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        message = query.message
        chat = str(message.chat.id) if message is not None else ""
        user = query.from_user
        name = user.username or user.first_name
        caller = Caller("telegram", str(user.id), chat, name, private=chat == str(user.id))
        pressed = await press(commands, caller, query.data or "")
        if pressed.answer is None:  # a stranger already told no: not even an answer
            return
        try:
            await query.answer(pressed.answer[:200], show_alert=pressed.note is None)
            if pressed.note is not None and isinstance(message, Message):
                await show(message, pressed.note, markup(pressed.buttons))
        except TelegramError as exc:
            log.warning("telegram buttons: answering a click failed: %s", exc.message)

    app.add_handler(CallbackQueryHandler(on_click))
