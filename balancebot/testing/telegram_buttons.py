"""The fake Telegram's inline keyboards: callback queries as Telegram sends them, and
`answerCallbackQuery`, `editMessageText`, `editMessageReplyMarkup` with their errors.

A message in an Update carries plain `text` and `entities` (offsets in UTF-16 code units),
never the HTML it was sent with; `html_entities` turns one into the other as Telegram does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "tg-spoiler": "spoiler",
    "blockquote": "blockquote",
}
CALLBACK_DATA_MAX_BYTES = 64


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _Entities(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = ""
        self.open: list[tuple[str, int, dict[str, str | None]]] = []
        self.entities: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open.append((tag, _utf16(self.text), dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        name, offset, attrs = self.open.pop()
        length = _utf16(self.text) - offset
        if length and name in ENTITY_TYPES:
            entity: dict[str, Any] = {"type": ENTITY_TYPES[name], "offset": offset}
            entity["length"] = length
            if name == "a":
                entity["url"] = attrs.get("href") or ""
            self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        self.text += data


def html_entities(text: str) -> tuple[str, list[dict[str, Any]]]:
    """HTML parse-mode text → (plain text, entities), as Telegram stores a message."""
    parser = _Entities()
    parser.feed(text)
    parser.close()
    return parser.text, sorted(parser.entities, key=lambda e: (e["offset"], -e["length"]))


def markup_problem(markup: Any) -> str | None:
    """Why Telegram would reject this reply_markup, or None."""
    if markup is None:
        return None
    if isinstance(markup, str):
        markup = json.loads(markup)
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if not button.get("text"):
                return "Bad Request: text buttons are unallowed in the inline keyboard"
            if data is not None and not 1 <= len(data.encode()) <= CALLBACK_DATA_MAX_BYTES:
                return "Bad Request: BUTTON_DATA_INVALID"
    return None


class CallbackMethods:
    """Mixed into FakeTelegram: needs its `messages`, `ok`, `error`, `push_update`."""

    ok: Callable[[Any], web.Response]
    error: Callable[..., web.Response]

    def _init_callbacks(self) -> None:
        self.messages: dict[int, dict[str, Any]] = {}  # what the bot sent, by message id
        self.answers: list[dict[str, Any]] = []
        self.edits: list[dict[str, Any]] = []
        self._pending_queries: set[str] = set()
        self._changed = asyncio.Condition()

    async def push_update(self, update: dict[str, Any]) -> None:
        raise NotImplementedError

    def html_problem(self, text: str) -> str | None:
        """Why Telegram would reject this HTML (the fake's own check)."""
        raise NotImplementedError

    def _next_update_id(self) -> int:
        self._update_id: int = getattr(self, "_update_id", 0) + 1
        return self._update_id

    def remember(self, message: dict[str, Any], text: str, markup: Any) -> None:
        """Keep a sent message (its HTML and buttons) for clicks and edits."""
        self.messages[message["message_id"]] = {
            **message,
            "text": text,
            "reply_markup": _markup(markup),
        }

    async def click(
        self, message_id: int, data: str, user_id: int = 42, username: str = "ann"
    ) -> str:
        """A user presses an inline button under a message the bot sent; returns the
        callback query id."""
        sent = self.messages[message_id]
        update_id = self._next_update_id()
        query_id = f"{update_id}{message_id}00"
        self._pending_queries.add(query_id)
        text, entities = html_entities(sent["text"])
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": sent["date"],
            "chat": sent["chat"],
            "from": {"id": 1000, "is_bot": True, "first_name": "Balance", "username": "BalanceBot"},
            "text": text,
        }
        if entities:
            message["entities"] = entities
        if sent.get("reply_markup"):
            message["reply_markup"] = sent["reply_markup"]
        await self.push_update(
            {
                "update_id": update_id,
                "callback_query": {
                    "id": query_id,
                    "from": {
                        "id": user_id,
                        "is_bot": False,
                        "first_name": username.title(),
                        "username": username,
                    },
                    "message": message,
                    "chat_instance": "-100200300",
                    "data": data,
                },
            }
        )
        return query_id

    async def _m_answerCallbackQuery(self, params: dict[str, Any]) -> web.Response:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._pending_queries:
            return self.error(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        text = str(params.get("text", ""))
        if len(text) > 200:
            return self.error(400, "Bad Request: MESSAGE_TOO_LONG")
        self._pending_queries.discard(query_id)
        show_alert = params.get("show_alert") in (True, "true", "True")
        async with self._changed:
            self.answers.append({"id": query_id, "text": text, "show_alert": show_alert})
            self._changed.notify_all()
        return self.ok(True)

    def _edited(self, params: dict[str, Any]) -> dict[str, Any] | web.Response:
        try:
            message = self.messages[int(params["message_id"])]
        except (KeyError, ValueError):
            return self.error(400, "Bad Request: message to edit not found")
        if str(message["chat"]["id"]) != str(params.get("chat_id")):
            return self.error(400, "Bad Request: message to edit not found")
        problem = markup_problem(params.get("reply_markup"))
        if problem:
            return self.error(400, problem)
        return message

    async def _m_editMessageText(self, params: dict[str, Any]) -> web.Response:
        message = self._edited(params)
        if isinstance(message, web.Response):
            return message
        text = str(params.get("text", ""))
        if params.get("parse_mode") == "HTML" and (problem := self.html_problem(text)):
            return self.error(400, f"Bad Request: {problem}")
        if len(html_entities(text)[0]) > 4096:
            return self.error(400, "Bad Request: MESSAGE_TOO_LONG")
        markup = _markup(params.get("reply_markup"))
        if text == message["text"] and markup == message.get("reply_markup"):
            return self.error(
                400,
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message",
            )
        message.update(text=text, reply_markup=markup)
        return await self._record_edit("editMessageText", message)

    async def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> web.Response:
        message = self._edited(params)
        if isinstance(message, web.Response):
            return message
        message["reply_markup"] = _markup(params.get("reply_markup"))
        return await self._record_edit("editMessageReplyMarkup", message)

    async def _record_edit(self, method: str, message: dict[str, Any]) -> web.Response:
        async with self._changed:
            self.edits.append({"method": method, **message})
            self._changed.notify_all()
        text, entities = html_entities(message["text"])
        result = {k: v for k, v in message.items() if k != "reply_markup" or v}
        return self.ok({**result, "text": text, "entities": entities})

    async def wait_answers(self, count: int) -> list[dict[str, Any]]:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.answers) >= count), 30)
        return self.answers

    async def wait_edits(self, count: int) -> list[dict[str, Any]]:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.edits) >= count), 30)
        return self.edits


def _markup(value: Any) -> dict[str, Any] | None:
    markup = json.loads(value) if isinstance(value, str) else value
    return markup or None
