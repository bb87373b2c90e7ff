"""WeCom (企业微信) group bot: each notification as a markdown message.

The protocol, from WeCom's group bot guide (developer.work.weixin.qq.com/document/path/
91770, 群机器人配置说明):
- `POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=<key>`, a JSON body with
  `msgtype` (`text`, `markdown`, `image`, `news`, `file`, `template_card`, ...). A
  `markdown` message is `{"content": ...}` of at most 4096 UTF-8 bytes; it shows headings,
  bold, quotes and `<font color="info|comment|warning">` (green, grey, orange-red).
- No signature: the key in the URL is the only credential.
- The answer is `{"errcode": 0, "errmsg": "ok"}`; a refusal is a non-zero `errcode`:
  93000 an unknown key, 45009 too many messages (a bot takes 20 a minute), 40058 a
  message too long, -1 the service busy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import SplitResult, parse_qs

from ...models import Notification
from ..groupbot import FOOTER, GroupBotNotifier, GroupBotOptions, Spec, fit, plain, title, tone

SPEC = Spec(
    platform="wecom",
    per_minute=20,
    per_second=1.0,
    code_field="errcode",
    message_field="errmsg",
    rate_limited={45009: 60.0},
    hints={93000: "the bot's webhook URL is wrong, or the bot was removed from the group"},
)
COLOURS = {"resolved": "info", "critical": "warning", "warning": "warning", "info": "comment"}
CONTENT_BYTES = 4096


class WeComOptions(GroupBotOptions, frozen=True, forbid_unknown_fields=True, kw_only=True):
    def shape_problem(self, parts: SplitResult) -> str | None:
        if parts.path.rstrip("/").endswith("/cgi-bin/webhook/send") and parse_qs(parts.query).get(
            "key"
        ):
            return None
        return (
            "is not a group bot webhook (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...)"
        )


def markdown(notification: Notification) -> dict[str, Any]:
    n = notification
    content = fit(
        f'### <font color="{COLOURS[tone(n)]}">{plain(title(n))}</font>',
        [f"> {plain(d)}" for d in n.details],
        f'<font color="comment">{FOOTER}</font>',
        CONTENT_BYTES,
    )
    return {"msgtype": "markdown", "markdown": {"content": content}}


class WeComNotifier(GroupBotNotifier):
    Options = WeComOptions
    spec = SPEC

    def request(
        self, notification: Notification, now: datetime
    ) -> tuple[dict[str, str], dict[str, Any]]:
        return {}, markdown(notification)
