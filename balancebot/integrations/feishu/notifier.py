"""Feishu (飞书) and Lark custom bot: each notification as an interactive card.

The protocol, from Feishu's guide to custom bots (open.feishu.cn/document/client-docs/
bot-v3/add-custom-bot; Lark's is the same at open.larksuite.com):
- `POST https://open.feishu.cn/open-apis/bot/v2/hook/<token>` (Lark:
  `open.larksuite.com`), a JSON body with `msg_type` (`text`, `post`, `interactive`, ...).
  An `interactive` card has a coloured header, which shows the severity before any word.
- With signature verification (签名校验) on, the body also carries `timestamp` (Unix
  seconds, within an hour of Feishu's clock) and `sign` = base64(HMAC-SHA256 with the key
  "<timestamp>\\n<secret>" over an empty message).
- The answer is `{"code": 0, "msg": "success", "data": {}}`; a refusal is a non-zero
  `code`: 19021 bad signature or timestamp, 19022 IP not allowed, 19024 a keyword missing,
  19001 an unknown token, 9499 a bad request, 11232 too many messages (a bot takes 100 a
  minute and 5 a second).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime
from typing import Any, cast
from urllib.parse import SplitResult

from ...config import Secret
from ...models import Notification
from ..groupbot import FOOTER, GroupBotNotifier, GroupBotOptions, Spec, fit, title, tone

SPEC = Spec(
    platform="feishu",
    per_minute=100,
    per_second=5.0,
    code_field="code",
    message_field="msg",
    rate_limited={11232: 60.0},
    hints={
        19001: "the bot's webhook URL is wrong, or the bot was removed from the group",
        19021: "the secret is not the bot's signing secret, or this host's clock is off by "
        "more than an hour",
        19022: "this host's address is not in the bot's IP allow list",
        19024: f"the bot's keyword filter wants a word the message lacks; add {FOOTER!r}",
    },
)
TEMPLATES = {"resolved": "green", "critical": "red", "warning": "orange", "info": "blue"}
BODY_BYTES = 16 * 1024  # a request body may be 20 KB; the card's frame is well under 4
_HOOK_PATH = re.compile(r"/open-apis/bot/v2/hook/[\w-]+/?")


class FeishuOptions(GroupBotOptions, frozen=True, forbid_unknown_fields=True, kw_only=True):
    secret: Secret | None = None  # the signing secret (签名校验), when the bot has one

    def shape_problem(self, parts: SplitResult) -> str | None:
        if _HOOK_PATH.fullmatch(parts.path):
            return None
        return "is not a custom bot webhook (https://open.feishu.cn/open-apis/bot/v2/hook/...)"


def sign(secret: str, timestamp: int) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def card(notification: Notification) -> dict[str, Any]:
    n = notification
    details = fit("", list(n.details), "", BODY_BYTES).strip("\n")
    elements: list[dict[str, Any]] = []
    if details:
        elements.append({"tag": "div", "text": {"tag": "plain_text", "content": details}})
    elements.append({"tag": "note", "elements": [{"tag": "plain_text", "content": FOOTER}]})
    return {
        "config": {"wide_screen_mode": True},
        "header": {
            "title": {"tag": "plain_text", "content": title(n)},
            "template": TEMPLATES[tone(n)],
        },
        "elements": elements,
    }


class FeishuNotifier(GroupBotNotifier):
    Options = FeishuOptions
    spec = SPEC

    def request(
        self, notification: Notification, now: datetime
    ) -> tuple[dict[str, str], dict[str, Any]]:
        body: dict[str, Any] = {"msg_type": "interactive", "card": card(notification)}
        secret = cast(FeishuOptions, self.settings).secret
        if secret is not None:
            timestamp = int(now.timestamp())
            body = {
                "timestamp": str(timestamp),
                "sign": sign(secret.get_secret_value(), timestamp),
                **body,
            }
        return {}, body
