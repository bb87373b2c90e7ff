"""Logging set-up: human-readable by default, one JSON object per line for log shippers.
Either way every configured secret is masked (see `redact`)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

# attributes every LogRecord has; anything else was passed with `extra=` and is a field
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


# control characters (C0, DEL, C1, Unicode line separators) as visible escapes
_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))} | {
    ord("\n"): "\\n",
    ord("\r"): "\\r",
    ord("\t"): "\\t",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def timestamp(record: logging.LogRecord) -> str:
    """ISO 8601 in UTC with its offset (`2026-11-25T09:00:01.204+00:00`): a line read on
    another machine, or beside another zone's logs, says when it happened."""
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    """One record, one line: a newline in user-controlled text (a Telegram first name, a
    Slack user name, a command) cannot forge a log line. Tracebacks stay multi-line."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return timestamp(record)

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = record.message.translate(_ESCAPES)
        return super().formatMessage(record)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(level: str, fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet = logging.WARNING if level.upper() != "DEBUG" else logging.DEBUG
    for noisy in ("httpx", "apscheduler", "telegram", "slack_sdk", "aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(quiet)  # per-request lines only when debugging
