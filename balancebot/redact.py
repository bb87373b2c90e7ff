"""Keeping secrets out of logs: every configured secret is masked in every log record.

Libraries log what they do (httpx and python-telegram-bot log request URLs, and the
Telegram bot token is part of the URL path). So masking happens twice, whatever logger
produced the line: when a record is created (its message is rendered and masked, so no
handler or test capture ever holds the secret), and again after formatting, for
tracebacks, which are only rendered then. A library's record also has every URL's query
values and password masked (`hide_url_secrets`), registered secrets or not.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from msgspec import Struct

from .config.values import Secret

MASK = "***"


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def variants(secret: str) -> set[str]:
    """The forms a secret takes in error text: as is, without surrounding whitespace, and
    escaped the way repr(), JSON and bytes reprs escape it (`sk-1\\n`, `sk-\\u201d`)."""
    found = {secret, secret.strip()}
    found |= {repr(form)[1:-1] for form in set(found)}
    found |= {json.dumps(form)[1:-1] for form in set(found)}
    found |= {json.dumps(form, ensure_ascii=False)[1:-1] for form in set(found)}
    found |= {repr(form.encode("utf-8", "backslashreplace"))[2:-1] for form in {secret}}
    return {form for form in found if len(form) >= 4}


def mask_runs(text: str, secrets: Iterable[str], shortest: int = 8) -> str:
    """`text` with each secret, and each run of `shortest` or more of its characters,
    masked: every character any of them covers, whichever is found first (so a piece of a
    decoded form cannot break up the encoded form around it), each covered stretch one ***.

    Linear work: a run of `shortest`+ characters of a secret is a chain of its
    `shortest`-character windows, so the secrets' windows go in a set and each window of
    the text is looked up once (trying every run of every length would be quadratic in the
    key)."""
    covered = bytearray(len(text))
    windows: set[str] = set()
    for secret in secrets:
        if len(secret) >= shortest:
            windows.update(secret[i : i + shortest] for i in range(len(secret) - shortest + 1))
            continue
        at = text.find(secret) if secret else -1
        while at >= 0:
            covered[at : at + len(secret)] = b"\1" * len(secret)
            at = text.find(secret, at + 1)
    if windows:
        whole = b"\1" * shortest
        for i in range(len(text) - shortest + 1):
            if text[i : i + shortest] in windows:
                covered[i : i + shortest] = whole
    parts: list[str] = []
    start = 0
    for stretch in re.finditer(b"\1+", covered):
        parts += (text[start : stretch.start()], MASK)
        start = stretch.end()
    return "".join([*parts, text[start:]]) if parts else text


_HEADER_VALUE = re.compile(r"(header value\s*)(b?(['\"]).*?\3|\S+)", re.IGNORECASE | re.DOTALL)


class SecretMask:
    """Every form of a set of secrets (`variants`), indexed once, masked in one pass.

    A replica may hold 10,000 API keys, 50,000 forms: replacing each in turn (and working
    out the forms again) cost milliseconds a log line and a failed check, most of a sweep's
    CPU. Here the forms are bucketed by their first `width` characters (the shortest form's
    length), and a text is scanned once, left to right, taking the longest form that starts
    at each position: a few microseconds however many secrets there are."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = frozenset(secrets)
        forms = sorted(
            {form for secret in self.secrets for form in variants(secret)}, key=len, reverse=True
        )
        self._width = min((len(form) for form in forms), default=0)
        self._by_head: dict[str, list[str]] = {}
        for form in forms:  # longest first within each bucket
            self._by_head.setdefault(form[: self._width], []).append(form)

    def __bool__(self) -> bool:
        return bool(self._by_head)

    def __call__(self, text: str) -> str:
        """`text` with every form of every secret masked."""
        width, by_head = self._width, self._by_head
        if not by_head or len(text) < width:
            return text
        parts: list[str] = []
        start = i = 0
        last = len(text) - width
        while i <= last:
            for form in by_head.get(text[i : i + width], ()):
                if text.startswith(form, i):
                    parts += (text[start:i], MASK)
                    i = start = i + len(form)
                    break
            else:
                i += 1
        if not parts:
            return text
        parts.append(text[start:])
        return "".join(parts)

    def safe_message(self, text: str) -> str:
        """A failure message fit to store, send or log: no header value (httpx/h11 quote the
        whole `Bearer ...` value when it is illegal) and no secret in any escaped form."""
        return self(_HEADER_VALUE.sub(r"\1(hidden)", text))


def secrets_in(value: Any) -> set[str]:
    """Every `Secret` inside a (nested) config struct, list or dict."""
    found: set[str] = set()
    if isinstance(value, Secret):
        secret = value.get_secret_value()
        if len(secret) >= 4:  # masking "" or "a" would shred every line
            found.add(secret)
    elif isinstance(value, Struct):
        for name in value.__struct_fields__:
            found |= secrets_in(getattr(value, name))
    elif isinstance(value, list | tuple):
        for item in value:
            found |= secrets_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            found |= secrets_in(item)
    return found


_installed = SecretMask()
"""What `install` was given: masked in every log record."""

LIBRARIES = frozenset(
    {"httpx", "httpcore", "h11", "h2", "telegram", "slack_sdk", "slack_bolt", "aiohttp"}
    | {"apscheduler", "urllib3", "asyncio"}
)
"""Loggers whose URLs are never shown with query values or a password."""
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s\"'<>]+", re.IGNORECASE)
_PASSWORD = re.compile(r"^([^/?#]*//[^/?#@:]*:)[^/?#@]*@")
_QUERY_VALUE = re.compile(r"=[^&#]*")


def _hide_in_url(match: re.Match[str]) -> str:
    head, mark, rest = match.group(0).partition("?")
    # a function, not a template: a template is parsed on first use, which imports, and
    # that fails in a record logged while the interpreter shuts down
    head = _PASSWORD.sub(lambda m: m.group(1) + "***@", head)
    return head + mark + _QUERY_VALUE.sub(lambda _: "=***", rest)


def hide_url_secrets(text: str) -> str:
    """`text` with every URL's query values and password masked (names and hosts stay)."""
    return _URL.sub(_hide_in_url, text) if "://" in text else text


def _masking_records(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def create(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logging's to report, not ours
            return record
        try:
            clean = _installed(message)
            if record.name.partition(".")[0] in LIBRARIES:
                clean = hide_url_secrets(clean)
        except Exception:  # never the unmasked text, and never a logging error instead
            clean = f"(a {record.name} message withheld: it could not be checked for secrets)"
            record.exc_info = record.exc_text = None
        if clean is not message:
            record.msg, record.args = clean, None
        return record

    create.masks_secrets = True  # type: ignore[attr-defined]
    return create


class RedactingFormatter(logging.Formatter):
    """Wraps a formatter; masks secrets in the finished line, tracebacks included."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self._inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return _installed(self._inner.format(record))


def install(secrets: Iterable[str]) -> None:
    """Mask `secrets` in every log record from now on, and on the root logger's handlers."""
    global _installed
    _installed = SecretMask(_installed.secrets | set(secrets))
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "masks_secrets", False):
        logging.setLogRecordFactory(_masking_records(factory))
    for handler in logging.getLogger().handlers:
        if not isinstance(handler.formatter, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(handler.formatter or logging.Formatter()))


def safe_message(text: str) -> str:
    """`SecretMask.safe_message` with every installed secret, for messages that do not go
    through logging."""
    return _installed.safe_message(text)
