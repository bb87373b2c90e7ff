"""Apprise notifier (`pip install 'balancebot[apprise]'`): one apprise URL per target.

One URL reaches any of apprise's ~100 services: Discord, Microsoft Teams, e-mail, Feishu/Lark,
DingTalk, WeCom, ntfy, Gotify, Bark, ... The URLs hold tokens, so they are `Secret`s: a
target is named by apprise's own masked form (`gotify://host/A...6/`), and the pieces that
form masks are added to the log redaction, because apprise logs the addresses it posts to.

What apprise loses: its `notify()` answers only True or False. balancebot reads the HTTP
status apprise logs with a failure (`error=NNN`, most plugins do): a 4xx other than 408 or
429 is permanent, anything else is retried with the dispatcher's backoff. There is no
`Retry-After` and no per-platform rate-limit knowledge. apprise is synchronous: each send
runs on a worker thread, bounded by `timeout`.

apprise's plugins call `requests`, which reads and inflates a whole answer; on our worker
threads requests' adapter hands them a body capped at 1 MiB (16 KiB of an error), inflated
with a bound (`httpcap`), whatever the service sends back.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import threading
from typing import TYPE_CHECKING, Annotated, Any, cast

from msgspec import Meta, Struct

from ...clock import Clock
from ...config import RequestTimeout, Secret
from ...errors import DeliveryError
from ...httpcap import ERROR_BODY_BYTES, CappedBody
from ...models import Notification, Severity, TransitionKind
from ...notifiers import Notifier
from ...redact import secrets_in
from ..targets import unique

if TYPE_CHECKING:
    from apprise import NotifyBase

INSTALL_HINT = "the apprise notifier needs the extra: pip install 'balancebot[apprise]'"
_STATUS = re.compile(r"\berror=(\d{3})(?:\d{2})?\b")  # ntfy's codes: 40101 is a 401
_URL_PIECE = re.compile(r"[^/:@?&=,]+")
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]{0,15}")


class AppriseOptions(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    urls: Annotated[list[Secret], Meta(min_length=1)]
    timeout: RequestTimeout = RequestTimeout(
        seconds=30
    )  # one send, however many connections it makes

    def __post_init__(self) -> None:
        for i, url in enumerate(self.urls):
            if instantiate(url.get_secret_value()) is None:
                scheme, sep, _ = url.get_secret_value().partition("://")
                what = f"this {scheme}:// URL" if sep and _SCHEME.fullmatch(scheme) else "this"
                raise ValueError(
                    f"urls[{i}]: apprise cannot use {what} (unknown service, or a token "
                    "missing; see apprise's wiki for the service's URL form)"
                )


class _AppriseLog(logging.Filter):
    """On apprise's logger: silences it while URLs are parsed (it logs bad URLs whole) and
    keeps each worker thread's warnings, the only account apprise gives of a failure."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()
        self.managed = False

    def filter(self, record: logging.LogRecord) -> bool:
        captured: list[str] | None = getattr(self.local, "captured", None)
        if captured is not None and record.levelno >= logging.WARNING:
            captured.append(record.getMessage())
        shown = record.levelno >= logging.getLogger().getEffectiveLevel()  # as configured
        return shown and not getattr(self.local, "quiet", False)

    def hear_warnings(self) -> None:
        """apprise's warnings must be created to be kept, whatever the log level; the
        filter still shows only what the root logger's level lets through."""
        logger = logging.getLogger("apprise")
        if logger.level == logging.NOTSET or self.managed:  # unless someone else set it
            logger.setLevel(min(logging.WARNING, logging.getLogger().getEffectiveLevel()))
            self.managed = True


_log_filter = _AppriseLog()

ANSWER_BYTES = 1024 * 1024
_capping = threading.local()  # set on the worker threads that run apprise's sends


class _CappedRaw:
    """Stands in for a urllib3 response as requests' `Response.raw`: requests reads it as a
    plain file (no `stream`), so only what `CappedBody` kept is ever inflated or held."""

    def __init__(self, raw: Any, limit: int) -> None:
        self._raw = raw
        self._body = CappedBody(raw.headers.get("content-encoding", ""), limit)
        self._out: io.BytesIO | None = None

    def read(self, amt: int | None = None, *_: Any, **__: Any) -> bytes:
        if self._out is None:
            try:
                while chunk := self._raw.read(64 * 1024, decode_content=False):
                    if not self._body.feed(chunk):
                        self._raw.close()  # dropped, not drained
                        break
            except Exception:  # a broken body after the status: the status says enough
                self._raw.close()
            self._out = io.BytesIO(self._body.content)
        return self._out.read(amt if amt and amt > 0 else -1)

    def close(self) -> None:
        self._raw.close()

    def release_conn(self) -> None:
        self._raw.release_conn()


def _cap_requests() -> None:
    """Once per process: requests' adapter caps the bodies it builds on our workers."""
    from requests.adapters import HTTPAdapter

    original = HTTPAdapter.build_response
    if getattr(original, "balancebot_capped", False):
        return

    def build_response(self: HTTPAdapter, req: Any, resp: Any) -> Any:
        response = original(self, req, resp)
        if getattr(_capping, "on", False):
            response.raw = _CappedRaw(resp, ANSWER_BYTES if response.ok else ERROR_BODY_BYTES)
        return response

    build_response.balancebot_capped = True  # type: ignore[attr-defined]
    HTTPAdapter.build_response = build_response  # type: ignore[method-assign]


def _apprise() -> Any:
    try:
        import apprise
    except ImportError:
        raise ValueError(INSTALL_HINT) from None
    logger = logging.getLogger("apprise")
    if _log_filter not in logger.filters:
        logger.addFilter(_log_filter)
    _cap_requests()
    return apprise


def instantiate(url: str) -> NotifyBase | None:
    """apprise's plugin for `url` (redirects not followed), or None if it cannot parse it."""
    apprise = _apprise()
    _log_filter.local.quiet = True
    try:
        asset = apprise.AppriseAsset(http_redirects=False)
        plugin: NotifyBase | None = apprise.Apprise.instantiate(url, asset=asset)
        return plugin
    finally:
        _log_filter.local.quiet = False


def label(plugin: NotifyBase) -> str:
    """apprise's privacy form of the URL, without the query of default settings."""
    return _url(plugin, privacy=True).partition("?")[0]


def hidden_pieces(plugin: NotifyBase) -> set[str]:
    """What apprise's privacy form hides (tokens, passwords): masked in every log line."""
    shown = set(_URL_PIECE.findall(_url(plugin, privacy=True)))
    return {p for p in _URL_PIECE.findall(_url(plugin)) if p not in shown and len(p) >= 4}


def _url(plugin: NotifyBase, privacy: bool = False) -> str:
    url: Any = plugin.url  # untyped in apprise
    return str(url(privacy=privacy))


def notify_type(notification: Notification) -> str:
    if notification.kind is TransitionKind.RESOLVED:
        return "success"
    return {Severity.CRITICAL: "failure", Severity.WARNING: "warning"}.get(
        notification.severity, "info"
    )


def classify(where: str, warnings: list[str]) -> DeliveryError:
    """apprise said False: its last logged warning is the reason; a 4xx status in it
    (other than 408 and 429) means retrying cannot help."""
    reason = warnings[-1] if warnings else "apprise reported a failure"
    message = f"apprise {where}: {reason}"
    statuses = [int(s) for w in warnings for s in _STATUS.findall(w)]
    permanent = bool(statuses) and 400 <= statuses[-1] < 500 and statuses[-1] not in (408, 429)
    return DeliveryError(message, permanent=permanent)


class AppriseNotifier(Notifier):
    Options = AppriseOptions

    def __init__(self, name: str, options: Struct, clock: Clock | None = None) -> None:
        super().__init__(name, options, clock)
        self.settings = cast(AppriseOptions, options)
        plugins = [instantiate(url.get_secret_value()) for url in self.settings.urls]
        usable = [p for p in plugins if p is not None]  # validated at load: all of them
        self._plugins = dict(zip(unique([label(p) for p in usable]), usable, strict=True))

    @classmethod
    def secrets(cls, options: Struct) -> set[str]:
        found = secrets_in(options)
        for url in cast(AppriseOptions, options).urls:
            plugin = instantiate(url.get_secret_value())
            if plugin is not None:
                found |= hidden_pieces(plugin)
        return found

    def targets(self) -> list[str]:
        return list(self._plugins)

    def describe(self) -> str:
        return f"{self.name} (apprise, {', '.join(self._plugins)})"

    async def send(self, notification: Notification, target: str) -> None:
        plugin = self._plugins.get(target)
        if plugin is None:
            raise DeliveryError(f"apprise {target}: no longer configured", permanent=True)
        title = f"{notification.icon} {notification.headline}"
        body = "\n".join(notification.details) or notification.headline
        timeout = self.settings.timeout.total_seconds()
        _log_filter.hear_warnings()
        call = asyncio.to_thread(_notify, plugin, title, body, notify_type(notification))
        try:
            ok, warnings = await asyncio.wait_for(call, timeout)
        except TimeoutError:
            raise DeliveryError(
                f"apprise {target}: no answer within {timeout:g} s", permanent=False
            ) from None
        if not ok:
            raise classify(target, warnings)


def _notify(plugin: NotifyBase, title: str, body: str, kind: str) -> tuple[bool, list[str]]:
    """On a worker thread: one apprise send, with the warnings it logged."""
    _log_filter.local.captured = warnings = []
    _capping.on = True
    try:
        ok = bool(plugin.notify(body=body, title=title, notify_type=kind, body_format="text"))
    except Exception as exc:  # a plugin bug is a failed send, not a dead worker
        warnings.append(f"{type(exc).__name__} in apprise")
        ok = False
    finally:
        _log_filter.local.captured = None
        _capping.on = False
    return ok, warnings
