"""What the group bots of Feishu/Lark, DingTalk and WeCom have in common.

Each is a custom bot's webhook: an HTTPS POST of one JSON message to a URL that holds the
bot's token, answered (almost always with HTTP 200) by a JSON result code, `code` on
Feishu and `errcode` on DingTalk and WeCom, which is 0 only when the message was posted.
A non-zero code is a failure whatever the HTTP status: `verdict` maps it to a retry
decision, once for the three. Each bot takes a bounded number of messages a minute (20 on
DingTalk and WeCom, 100 and 5 a second on Feishu); `slot` spaces a burst of alerts inside
that, because DingTalk answers the 21st message of a minute by blocking the bot for ten
minutes. A platform's module declares its result codes and limits (`Spec`) and how it
builds a request (`GroupBotNotifier.request`); the rest is here.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, cast
from urllib.parse import SplitResult, urlsplit

import httpx
from msgspec import Struct

from ..clock import Clock
from ..config import RequestTimeout, Secret
from ..errors import DeliveryError
from ..httpcap import ERROR_BODY_BYTES, event_hooks, snippet
from ..models import Notification, Severity, TransitionKind
from ..notifiers import Notifier
from ..redact import secrets_in
from ..retry import retry_after_seconds
from .answers import delivery_error
from .pacing import Pacer
from .targets import masked_url, url_secrets

FOOTER = "balancebot"  # on every message: a keyword a bot's keyword filter can ask for


@dataclass(frozen=True)
class Spec:
    """A platform: its name, its result codes (where the answer keeps them, what each
    means) and how many messages a bot takes."""

    platform: str
    per_minute: int
    per_second: float
    code_field: str  # "code" or "errcode"
    message_field: str  # "msg" or "errmsg"
    rate_limited: Mapping[int, float]  # code → seconds to wait when the answer says none
    transient: frozenset[int] = frozenset({-1})  # "system busy": try again
    hints: Mapping[int, str] = field(default_factory=dict)  # code → what to do about it


class GroupBotOptions(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    url: Secret  # the bot's webhook address, token included: kept out of logs
    timeout: RequestTimeout = RequestTimeout(seconds=10)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url.get_secret_value())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url: {masked_url(self.url.get_secret_value())} is not a URL")
        problem = self.shape_problem(parts)
        if problem is not None:
            raise ValueError(f"url: {masked_url(self.url.get_secret_value())} {problem}")

    def shape_problem(self, parts: SplitResult) -> str | None:
        """Why the address is not this platform's bot webhook (pasted from another one)."""
        return None


def result(response: httpx.Response, spec: Spec) -> tuple[int, str] | None:
    """The answer's result code and message, or None when it holds none."""
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get(spec.code_field) if isinstance(body, dict) else None
    if not isinstance(code, int) or isinstance(code, bool):
        return None
    message = str(body.get(spec.message_field, ""))
    return code, message.split(", hint: [")[0]  # WeCom's request id, IP and doc link


def verdict(
    where: str, spec: Spec, response: httpx.Response, now: datetime
) -> DeliveryError | None:
    """None when the bot posted the message; otherwise the error and whether to retry."""
    waited = retry_after_seconds(response.headers.get("retry-after"), now)
    answer = result(response, spec)
    if answer is not None and answer[0] != 0:
        code, message = answer
        said = f"{where}: {spec.code_field} {code} {snippet(message, 120)}".rstrip()
        if code in spec.rate_limited:
            wait = waited if waited is not None else spec.rate_limited[code]
            return DeliveryError(f"{said} (rate limited)", permanent=False, retry_after=wait)
        if code in spec.transient:
            return DeliveryError(said, permanent=False, retry_after=waited)
        hint = spec.hints.get(code)
        return DeliveryError(f"{said}: {hint}" if hint else said, permanent=True)
    status = response.status_code
    if response.is_success:
        if answer is not None:
            return None
        return DeliveryError(
            f"{where}: HTTP {status} without a result code (not the bot's answer: a proxy?)",
            permanent=True,
        )
    return delivery_error(where, response, waited)  # 429 and 5xx retried, the rest not


def fit(head: str, lines: list[str], tail: str, limit: int) -> str:
    """`head`, the lines and `tail`, one a line, in at most `limit` UTF-8 bytes: trailing
    lines are dropped (an ellipsis says so) rather than cut mid-character."""
    text = "\n".join([head, *lines, tail])
    while len(text.encode()) > limit and lines:
        lines = lines[:-1]
        text = "\n".join([head, *lines, "…", tail])
    encoded = text.encode()
    return text if len(encoded) <= limit else encoded[:limit].decode(errors="ignore")


def plain(text: str) -> str:
    """User text (account names, provider messages) inside markdown that also reads HTML
    tags: angle brackets shown, never taken as a tag."""
    return text.replace("<", "\u2039").replace(">", "\u203a")  # single angle quotes


def title(notification: Notification) -> str:
    """The headline behind its severity icon: the title every platform shows first."""
    n = notification
    return f"{n.icon} {n.headline}" if n.icon else n.headline


def tone(notification: Notification) -> str:
    """The message's colour class: `resolved`, or the severity (`critical`, `warning`,
    `info`; a digest is `info`)."""
    if notification.kind is TransitionKind.RESOLVED:
        return "resolved"
    if notification.kind is TransitionKind.DIGEST:
        return Severity.INFO.label
    return notification.severity.label


class GroupBotNotifier(Notifier):
    """One bot (one webhook URL) is one target, named by its masked URL."""

    Options: ClassVar[type[Struct]] = GroupBotOptions
    spec: ClassVar[Spec]

    def __init__(self, name: str, options: Struct, clock: Clock | None = None) -> None:
        super().__init__(name, options, clock)
        self.settings = cast(GroupBotOptions, options)
        self._url = self.settings.url.get_secret_value()
        self._target = masked_url(self._url)
        self._pacer = Pacer(self.clock, lambda _: 60 / self.spec.per_minute, self.spec.per_second)
        self._http: httpx.AsyncClient | None = None

    @classmethod
    def secrets(cls, options: Struct) -> set[str]:
        url = cast(GroupBotOptions, options).url.get_secret_value()
        return secrets_in(options) | url_secrets(url)

    def targets(self) -> list[str]:
        return [self._target]

    def describe(self) -> str:
        return f"{self.name} ({self.spec.platform}, {self._target})"

    async def start(self) -> None:
        self._http = httpx.AsyncClient(
            timeout=self.settings.timeout.total_seconds(),
            follow_redirects=False,
            headers={"User-Agent": "balancebot"},
            event_hooks=event_hooks(ERROR_BODY_BYTES),
        )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def slot(self, target: str) -> None:
        await self._pacer.grant(target)

    @abc.abstractmethod
    def request(
        self, notification: Notification, now: datetime
    ) -> tuple[dict[str, str], dict[str, Any]]:
        """Query parameters to add to the URL (a signature) and the JSON body."""

    async def send(self, notification: Notification, target: str) -> None:
        where = f"{self.spec.platform} {target}"
        if target != self._target:
            raise DeliveryError(f"{where}: no longer configured", permanent=True)
        await self._pacer.wait(target)
        if self._http is None:
            await self.start()
        assert self._http is not None
        now = self.clock.now()
        params, body = self.request(notification, now)
        try:
            response = await self._http.post(
                httpx.URL(self._url).copy_merge_params(params),  # beside the URL's token
                content=json.dumps(body, ensure_ascii=False).encode(),
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
        except httpx.HTTPError as exc:  # timeouts, refused and reset connections
            raise DeliveryError(f"{where}: {type(exc).__name__}", permanent=False) from None
        error = verdict(where, self.spec, response, now)
        if error is not None:
            raise error
