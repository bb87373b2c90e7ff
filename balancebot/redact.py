"""Keeping secrets out of logs: every configured secret is masked in every log record.

Libraries log what they do (httpx and python-telegram-bot log request URLs, and the
Telegram bot token is part of the URL path), so masking happens on the root handlers,
after formatting, whatever logger produced the line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, SecretStr

MASK = "***"


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


def secrets_in(value: Any) -> set[str]:
    """Every `SecretStr` inside a (nested) pydantic model, list or dict."""
    found: set[str] = set()
    if isinstance(value, SecretStr):
        secret = value.get_secret_value()
        if len(secret) >= 4:  # masking "" or "a" would shred every line
            found.add(secret)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            found |= secrets_in(getattr(value, name))
    elif isinstance(value, list | tuple):
        for item in value:
            found |= secrets_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            found |= secrets_in(item)
    return found


class RedactingFormatter(logging.Formatter):
    """Wraps a formatter; masks secrets in the finished line, tracebacks included."""

    def __init__(self, inner: logging.Formatter, secrets: set[str]) -> None:
        super().__init__()
        self._inner = inner
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        return redact(self._inner.format(record), sorted(self.secrets, key=len, reverse=True))


def install(secrets: Iterable[str]) -> None:
    """Mask `secrets` on every handler of the root logger."""
    for handler in logging.getLogger().handlers:
        formatter = handler.formatter
        if isinstance(formatter, RedactingFormatter):
            formatter.secrets |= set(secrets)
        else:
            handler.setFormatter(RedactingFormatter(formatter or logging.Formatter(), set(secrets)))
