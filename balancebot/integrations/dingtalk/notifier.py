"""DingTalk (钉钉) custom bot: each notification as a markdown message.

The protocol, from DingTalk's guide to custom bots (open.dingtalk.com/document/robots/
custom-robot-access and .../customize-robot-security-settings):
- `POST https://oapi.dingtalk.com/robot/send?access_token=<token>`, a JSON body with
  `msgtype` (`text`, `link`, `markdown`, `actionCard`, `feedCard`). A `markdown` message has
  a `title` (what the conversation list and the notification show) and a `text`.
- With signing (加签) on, the query also carries `timestamp` (Unix milliseconds, within an
  hour of DingTalk's clock) and `sign` = base64(HMAC-SHA256 with the secret as key over
  "<timestamp>\\n<secret>"), URL-encoded.
- The answer is `{"errcode": 0, "errmsg": "ok"}`; a refusal is a non-zero `errcode`:
  310000 a bad signature, a keyword missing or an IP not allowed (errmsg says which),
  300001 an unknown token, 130101 too many messages: a bot takes 20 a minute, and the
  21st blocks it for ten minutes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any, cast
from urllib.parse import SplitResult, parse_qs

from ...config import Secret
from ...models import Notification
from ..groupbot import FOOTER, GroupBotNotifier, GroupBotOptions, Spec, fit, plain, title

SPEC = Spec(
    platform="dingtalk",
    per_minute=20,
    per_second=1.0,
    code_field="errcode",
    message_field="errmsg",
    rate_limited={130101: 600.0},  # blocked for ten minutes
    hints={
        300001: "the bot's webhook URL is wrong, or the bot was removed from the group",
        310000: "as errmsg says: the signing secret (SEC...) or this host's clock, a keyword "
        f"({FOOTER!r} is in every message), or the IP allow list",
    },
)
TEXT_BYTES = 4000  # DingTalk shows long messages folded; an alert fits well within


class DingTalkOptions(GroupBotOptions, frozen=True, forbid_unknown_fields=True, kw_only=True):
    secret: Secret | None = None  # the signing secret (加签, SEC...), when the bot has one

    def shape_problem(self, parts: SplitResult) -> str | None:
        if parts.path.rstrip("/").endswith("/robot/send") and parse_qs(parts.query).get(
            "access_token"
        ):
            return None
        return "is not a custom bot webhook (https://oapi.dingtalk.com/robot/send?access_token=...)"


def sign(secret: str, timestamp_ms: int) -> str:
    message = f"{timestamp_ms}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def markdown(notification: Notification) -> dict[str, Any]:
    n = notification
    text = fit(
        f"#### {plain(title(n))}\n",
        [f"- {plain(d)}" for d in n.details],
        f"\n###### {FOOTER}",
        TEXT_BYTES,
    )
    return {"msgtype": "markdown", "markdown": {"title": title(n), "text": text}}


class DingTalkNotifier(GroupBotNotifier):
    Options = DingTalkOptions
    spec = SPEC

    def request(
        self, notification: Notification, now: datetime
    ) -> tuple[dict[str, str], dict[str, Any]]:
        secret = cast(DingTalkOptions, self.settings).secret
        params = {}
        if secret is not None:
            timestamp = int(now.timestamp() * 1000)
            params = {
                "timestamp": str(timestamp),
                "sign": sign(secret.get_secret_value(), timestamp),
            }
        return params, markdown(notification)
