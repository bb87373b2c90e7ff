"""A fake Telegram Bot API: `POST /bot<token>/<method>`, form or JSON bodies, and the
`{"ok": ..., "result" | "error_code"+"description"+"parameters"}` envelope."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

from balancebot.clock import Clock, SystemClock
from balancebot.httpserver import LoopbackServer

from .telegram_buttons import CallbackMethods, markup_problem

ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "span",
    "tg-spoiler",
    "blockquote",
    "tg-emoji",
}
BARE_AMPERSAND = re.compile(r"&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)")


class _EntityChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.problem: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problem = self.problem or f'Unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.problem = self.problem or f'Unexpected end tag "{tag}"'

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data:
            self.problem = self.problem or "Unsupported start tag"


def html_problem(text: str) -> str | None:
    """Why Telegram would reject `text` in HTML parse mode, or None."""
    if BARE_AMPERSAND.search(text):
        return "Can't parse entities: unsupported entity"
    checker = _EntityChecker()
    checker.feed(text)
    checker.close()
    if checker.problem is None and checker.stack:
        checker.problem = f'Can\'t find end tag corresponding to start tag "{checker.stack[-1]}"'
    return None if checker.problem is None else f"Can't parse entities: {checker.problem}"


@dataclass
class TelegramFault:
    error_code: int
    description: str
    parameters: dict[str, Any] = field(default_factory=dict)


class FakeTelegram(CallbackMethods, LoopbackServer):
    def __init__(self, token: str, clock: Clock | None = None) -> None:
        super().__init__()
        self.token = token
        self.clock = clock or SystemClock()
        self.chats: dict[str, str] = {}  # chat id → type
        self.migrated: dict[str, int] = {}
        self.blocked: set[str] = set()
        self.faults: deque[TelegramFault] = deque()
        self.sent: list[dict[str, Any]] = []
        self.photos: list[dict[str, Any]] = []
        self.calls: list[str] = []
        self.commands: list[dict[str, str]] = []
        self.rate_limited = 0
        self.enforce_limits = True  # benchmarks measure us, not the flood control
        self._last_sent: dict[str, datetime] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_arrived = asyncio.Condition()
        self._next_message_id = 1
        self.poll_failures: deque[TelegramFault] = deque()
        self.conflicts = 0
        """getUpdates requests ended by another one (two bot instances polling)."""
        self._polling: asyncio.Event | None = None
        self._init_callbacks()
        self.app.router.add_post("/bot{token}/{method}", self._dispatch)

    def html_problem(self, text: str) -> str | None:
        return html_problem(text)

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    def add_chat(self, chat_id: int | str, kind: str = "private") -> None:
        self.chats[str(chat_id)] = kind

    async def push_update(self, update: dict[str, Any]) -> None:
        async with self._update_arrived:
            self._updates.append(update)
            self._update_arrived.notify_all()

    @staticmethod
    def ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def error(
        code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=code)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            data: dict[str, Any] = await request.json()
            return data
        form = await request.post()
        return {k: v for k, v in form.items()}

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        self.calls.append(method)
        if request.match_info["token"] != self.token:
            return self.error(401, "Unauthorized")
        params = await self._params(request)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self.error(404, "Not Found: method not found")
        response: web.StreamResponse = await handler(params)
        return response

    async def _m_getMe(self, _: dict[str, Any]) -> web.Response:
        return self.ok(
            {
                "id": 1000,
                "is_bot": True,
                "first_name": "Balance",
                "username": "BalanceBot",
                "can_join_groups": True,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        )

    async def _m_deleteWebhook(self, _: dict[str, Any]) -> web.Response:
        return self.ok(True)

    async def _m_setMyCommands(self, params: dict[str, Any]) -> web.Response:
        commands = params["commands"]
        self.commands = json.loads(commands) if isinstance(commands, str) else commands
        return self.ok(True)

    async def _m_getUpdates(self, params: dict[str, Any]) -> web.Response:
        if self.poll_failures:
            fault = self.poll_failures.popleft()
            return self.error(fault.error_code, fault.description, fault.parameters)
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        async with self._update_arrived:
            # Telegram allows one consumer: a second getUpdates ends the one waiting
            if self._polling is not None:
                self._polling.set()
                self.conflicts += 1
                self._update_arrived.notify_all()
            mine = self._polling = asyncio.Event()
            try:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                if not self._updates and timeout > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            self._update_arrived.wait_for(
                                lambda: bool(self._updates) or mine.is_set()
                            ),
                            timeout,
                        )
                if mine.is_set():
                    return self.error(
                        409,
                        "Conflict: terminated by other getUpdates request; make sure that "
                        "only one bot instance is running",
                    )
                return self.ok([u for u in self._updates if u["update_id"] >= offset])
            finally:
                if self._polling is mine:
                    self._polling = None

    def _check_chat(self, chat: str) -> web.Response | None:
        if self.faults:
            fault = self.faults.popleft()
            return self.error(fault.error_code, fault.description, fault.parameters)
        if chat in self.migrated:
            return self.error(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self.migrated[chat]},
            )
        if chat in self.blocked:
            return self.error(403, "Forbidden: bot was blocked by the user")
        if chat not in self.chats:
            return self.error(400, "Bad Request: chat not found")
        now = self.clock.now()
        interval = 1.0 if self.chats[chat] == "private" else 3.0
        last = self._last_sent.get(chat)
        if self.enforce_limits and last is not None and (now - last).total_seconds() < interval:
            self.rate_limited += 1
            wait = math.ceil(interval - (now - last).total_seconds())
            return self.error(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        self._last_sent[chat] = now
        return None

    def _message(self, chat: str, **extra: Any) -> dict[str, Any]:
        message = {
            "message_id": self._next_message_id,
            "date": int(self.clock.now().timestamp()),
            "chat": {
                "id": int(chat) if chat.lstrip("-").isdigit() else 0,
                "type": self.chats.get(chat, "private"),
            },
            **extra,
        }
        self._next_message_id += 1
        return message

    async def _m_sendMessage(self, params: dict[str, Any]) -> web.Response:
        chat, text = str(params["chat_id"]), str(params.get("text", ""))
        refused = self._check_chat(chat)
        if refused is not None:
            return refused
        if not text.strip():
            return self.error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return self.error(400, "Bad Request: message is too long")
        if params.get("parse_mode") == "HTML" and (problem := html_problem(text)):
            return self.error(400, f"Bad Request: {problem}")
        if problem := markup_problem(params.get("reply_markup")):
            return self.error(400, problem)
        async with self._update_arrived:
            self.sent.append(
                {
                    "chat_id": chat,
                    "text": text,
                    "parse_mode": params.get("parse_mode"),
                    "at": time.perf_counter(),
                }
            )
            self._update_arrived.notify_all()
        message = self._message(chat, text=text)
        self.remember(message, text, params.get("reply_markup"))
        return self.ok(message)

    async def wait_until(self, done: Callable[[], bool], within: float = 30) -> None:
        """Until `done()` holds, looked at whenever something arrives or is sent."""
        async with self._update_arrived:
            await asyncio.wait_for(self._update_arrived.wait_for(done), within)

    async def wait_sent(self, count: int) -> list[dict[str, Any]]:
        async with self._update_arrived:
            await asyncio.wait_for(
                self._update_arrived.wait_for(lambda: len(self.sent) >= count), 30
            )
        return self.sent

    async def wait_sent_unique(
        self, count: int, key: Callable[[str], str], within: float = 30
    ) -> None:
        """Until `count` distinct messages (by `key` of their text) have arrived."""
        async with self._update_arrived:
            await asyncio.wait_for(
                self._update_arrived.wait_for(
                    lambda: len({key(m["text"]) for m in self.sent}) >= count
                ),
                within,
            )

    async def wait_photos(self, count: int) -> list[dict[str, Any]]:
        async with self._update_arrived:
            await asyncio.wait_for(
                self._update_arrived.wait_for(lambda: len(self.photos) >= count), 30
            )
        return self.photos

    async def command(self, text: str, user_id: int = 42, chat_id: int = 42) -> None:
        """Queue a command message for getUpdates, as Telegram delivers one."""
        self._update_id = getattr(self, "_update_id", 0) + 1
        command_length = len(text.split()[0])
        chat_type = "private" if chat_id > 0 else "group"
        await self.push_update(
            {
                "update_id": self._update_id,
                "message": {
                    "message_id": 500 + self._update_id,
                    "date": int(self.clock.now().timestamp()),
                    "from": {
                        "id": user_id,
                        "is_bot": False,
                        "first_name": "Ann",
                        "username": "ann",
                    },
                    "chat": {"id": chat_id, "type": chat_type},
                    "text": text,
                    "entities": [{"type": "bot_command", "offset": 0, "length": command_length}],
                },
            }
        )

    async def _m_sendPhoto(self, params: dict[str, Any]) -> web.Response:
        chat = str(params["chat_id"])
        refused = self._check_chat(chat)
        if refused is not None:
            return refused
        photo = params.get("photo")
        data = photo.file.read() if isinstance(photo, web.FileField) else b""
        caption = str(params.get("caption", ""))
        if len(caption) > 1024:
            return self.error(400, "Bad Request: message caption is too long")
        async with self._update_arrived:
            self.photos.append({"chat_id": chat, "caption": caption, "data": data})
            self._update_arrived.notify_all()
        return self.ok(
            self._message(
                chat, photo=[{"file_id": "p1", "file_unique_id": "u1", "width": 1, "height": 1}]
            )
        )
