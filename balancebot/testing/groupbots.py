"""A loopback Feishu/Lark, DingTalk and WeCom: their custom group bots' webhooks.

Each route answers as the platform documents it, always HTTP 200 with a JSON result code.
Sources: Feishu's custom bot guide (open.feishu.cn/document/client-docs/bot-v3/
add-custom-bot), DingTalk's (open.dingtalk.com/document/robots/custom-robot-access and
.../customize-robot-security-settings), WeCom's group bot guide (developer.work.weixin.qq.
com/document/path/91770); the notifiers' docstrings (integrations/feishu, dingtalk, wecom)
say the same in short.
- Feishu `POST /open-apis/bot/v2/hook/<token>`: `{"code": 0, "msg": "success", "data": {}}`.
  A bot with a secret wants `timestamp` (seconds, within an hour) and `sign` =
  base64(HMAC-SHA256(key="<timestamp>\\n<secret>", msg="")) in the body, else 19021; an
  unknown token is 19001, a keyword missing 19024, a body that is not a message 9499,
  more than 5 messages a second or 100 a minute 11232.
- DingTalk `POST /robot/send?access_token=<token>[&timestamp=<ms>&sign=<sign>]`:
  `{"errcode": 0, "errmsg": "ok"}`. The sign is base64(HMAC-SHA256(key=secret,
  msg="<timestamp>\\n<secret>")), URL-encoded; a bad or missing one, or a keyword missing,
  is 310000; an unknown token 300001; the 21st message of a minute 130101, and every
  message for the ten minutes after it too.
- WeCom `POST /cgi-bin/webhook/send?key=<key>`: `{"errcode": 0, "errmsg": "ok"}`; an
  unknown key is 93000, the 21st message of a minute 45009, markdown content over 4096
  bytes 40058.
The error texts are the platforms' own as users report them. Which code a malformed
message gets (9499, 40035, 40008) is the fake's choice where the platforms document none.
`answers` are given first, one per request, whatever the route (a busy `-1`, an HTTP 502).
Time is the injected clock's, so tests move a minute without waiting one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from ..clock import Clock, SystemClock
from ..httpserver import LoopbackServer

SKEW = timedelta(hours=1)  # how far a signed timestamp may be from the platform's clock
MINUTE = timedelta(minutes=1)
DINGTALK_BLOCK = timedelta(minutes=10)
WECOM_MARKDOWN_BYTES = 4096


@dataclass
class Bot:
    """One custom bot: its security settings and what it has posted to its group."""

    secret: str | None = None
    keywords: tuple[str, ...] = ()
    posted: list[dict[str, Any]] = field(default_factory=list)
    sent_at: deque[datetime] = field(default_factory=deque)  # accepted, last minute
    blocked_until: datetime | None = None


@dataclass
class Answer:
    status: int
    body: dict[str, Any] | str


class GroupBots(LoopbackServer):
    def __init__(self, clock: Clock | None = None) -> None:
        super().__init__()
        self.clock = clock or SystemClock()
        self.feishu: dict[str, Bot] = {}
        self.dingtalk: dict[str, Bot] = {}
        self.wecom: dict[str, Bot] = {}
        self.answers: deque[Answer] = deque()
        self.requests: list[web.Request] = []
        self.app.router.add_post("/open-apis/bot/v2/hook/{token}", self._feishu)
        self.app.router.add_post("/robot/send", self._dingtalk)
        self.app.router.add_post("/cgi-bin/webhook/send", self._wecom)

    def feishu_url(self, token: str) -> str:
        return f"{self.url}/open-apis/bot/v2/hook/{token}"

    def dingtalk_url(self, token: str) -> str:
        return f"{self.url}/robot/send?access_token={token}"

    def wecom_url(self, key: str) -> str:
        return f"{self.url}/cgi-bin/webhook/send?key={key}"

    async def _read(self, request: web.Request) -> tuple[Answer | None, Any]:
        self.requests.append(request)
        if self.answers:
            return self.answers.popleft(), None
        try:
            return None, json.loads(await request.read())
        except ValueError:
            return None, None

    # --- Feishu / Lark ---------------------------------------------------------------

    async def _feishu(self, request: web.Request) -> web.Response:
        given, body = await self._read(request)
        if given is not None:
            return _answer(given)

        def code(code: int, msg: str) -> web.Response:
            return web.json_response({"code": code, "msg": msg, "data": {}})

        bot = self.feishu.get(request.match_info["token"])
        if bot is None:
            return code(19001, "param invalid: incoming webhook access token invalid")
        if not isinstance(body, dict) or not _feishu_message(body):
            return code(9499, "Bad Request")
        now = self.clock.now()
        if bot.secret is not None:
            stamp = str(body.get("timestamp", ""))
            expected = _b64(hmac.new(f"{stamp}\n{bot.secret}".encode(), b"", hashlib.sha256))
            if not _fresh(stamp, now, 1) or not hmac.compare_digest(
                str(body.get("sign", "")), expected
            ):
                return code(
                    19021, "sign match fail or timestamp is not within one hour from current time"
                )
        if not _has_keyword(bot, body):
            return code(19024, "Key Words Not Found")
        recent = _window(bot, now)
        if recent >= 100 or sum(1 for t in bot.sent_at if now - t < timedelta(seconds=1)) >= 5:
            return code(11232, "frequency limited psm[lark.oapi.app_platform_runtime]")
        _accept(bot, body, now)
        return web.json_response({"code": 0, "msg": "success", "data": {}})

    # --- DingTalk ----------------------------------------------------------------------

    async def _dingtalk(self, request: web.Request) -> web.Response:
        given, body = await self._read(request)
        if given is not None:
            return _answer(given)
        bot = self.dingtalk.get(request.query.get("access_token", ""))
        if bot is None:
            return _errcode(300001, "token is not exist")
        now = self.clock.now()
        if bot.secret is not None:
            stamp = request.query.get("timestamp", "")
            message = f"{stamp}\n{bot.secret}".encode()
            expected = _b64(hmac.new(bot.secret.encode(), message, hashlib.sha256))
            if not _fresh(stamp, now, 1000) or not hmac.compare_digest(
                request.query.get("sign", ""), expected
            ):
                return _errcode(310000, "sign not match")
        if not isinstance(body, dict) or not _dingtalk_message(body):
            return _errcode(40035, "缺少参数 json")
        if not _has_keyword(bot, body):
            return _errcode(310000, "keywords not in content")
        if bot.blocked_until is not None and now < bot.blocked_until:
            return _errcode(130101, "send too fast, exceed 20 times per minute")
        if _window(bot, now) >= 20:
            bot.blocked_until = now + DINGTALK_BLOCK
            return _errcode(130101, "send too fast, exceed 20 times per minute")
        _accept(bot, body, now)
        return _errcode(0, "ok")

    # --- WeCom -------------------------------------------------------------------------

    async def _wecom(self, request: web.Request) -> web.Response:
        given, body = await self._read(request)
        if given is not None:
            return _answer(given)
        bot = self.wecom.get(request.query.get("key", ""))
        if bot is None:
            return _errcode(93000, "invalid webhook url, hint: [fake], more info at wecom docs")
        if not isinstance(body, dict) or not _wecom_message(body):
            return _errcode(40008, "invalid message type")
        markdown = body.get("markdown")
        if isinstance(markdown, dict) and len(str(markdown["content"]).encode()) > (
            WECOM_MARKDOWN_BYTES
        ):
            return _errcode(40058, "markdown.content exceed max length 4096")
        now = self.clock.now()
        if _window(bot, now) >= 20:
            return _errcode(45009, "api freq out of limit")
        _accept(bot, body, now)
        return _errcode(0, "ok")


def _answer(given: Answer) -> web.Response:
    if isinstance(given.body, str):
        return web.Response(status=given.status, text=given.body)
    return web.json_response(given.body, status=given.status)


def _errcode(code: int, message: str) -> web.Response:
    return web.json_response({"errcode": code, "errmsg": message})


def _b64(mac: hmac.HMAC) -> str:
    return base64.b64encode(mac.digest()).decode()


def _fresh(stamp: str, now: datetime, per_second: int) -> bool:
    """A timestamp in seconds (Feishu) or milliseconds (DingTalk) within the skew."""
    if not stamp.isdigit():
        return False
    return abs(int(stamp) / per_second - now.timestamp()) <= SKEW.total_seconds()


def _window(bot: Bot, now: datetime) -> int:
    """Messages the bot accepted in the last minute."""
    while bot.sent_at and now - bot.sent_at[0] >= MINUTE:
        bot.sent_at.popleft()
    return len(bot.sent_at)


def _accept(bot: Bot, body: dict[str, Any], now: datetime) -> None:
    bot.sent_at.append(now)
    bot.posted.append(body)


def _has_keyword(bot: Bot, body: dict[str, Any]) -> bool:
    text = json.dumps(body, ensure_ascii=False)
    return not bot.keywords or any(k in text for k in bot.keywords)


def _feishu_message(body: dict[str, Any]) -> bool:
    kind = body.get("msg_type")
    if kind == "text":
        return isinstance(body.get("content"), dict) and bool(body["content"].get("text"))
    if kind == "interactive":
        card = body.get("card")
        return isinstance(card, dict) and isinstance(card.get("elements"), list)
    return kind in ("post", "image", "share_chat") and isinstance(body.get("content"), dict)


def _dingtalk_message(body: dict[str, Any]) -> bool:
    kind = body.get("msgtype")
    if kind == "markdown":
        markdown = body.get("markdown")
        return isinstance(markdown, dict) and all(
            isinstance(markdown.get(k), str) and markdown[k] for k in ("title", "text")
        )
    if kind == "text":
        return isinstance(body.get("text"), dict) and bool(body["text"].get("content"))
    return kind in ("link", "actionCard", "feedCard")


def _wecom_message(body: dict[str, Any]) -> bool:
    kind = body.get("msgtype")
    if kind in ("text", "markdown"):
        part = body.get(kind)
        return isinstance(part, dict) and isinstance(part.get("content"), str)
    return kind in ("image", "news", "file", "voice", "template_card", "markdown_v2")
