"""Issue 11 §4: user-controlled text cannot forge a line in text logs."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timedelta

import pytest

from balancebot.commands.access import Caller
from balancebot.daemon import Daemon
from balancebot.logs import JsonFormatter, TextFormatter

from .test_chat import daemon, slack, socket_config, telegram  # noqa: F401 - fixtures

FORGED = "Eve\n2026-11-25 09:00:00,000 INFO    balancebot.daemon: balancebot stopped"


@pytest.mark.parametrize(
    "caller",
    [
        Caller("telegram", "666", "666", FORGED, private=True),  # a first_name or username
        Caller("slack", "U9", "C9", FORGED + "\r\u2028\x1b[2J"),  # a user_name
    ],
    ids=["telegram", "slack"],
)
async def test_names_and_commands_are_escaped_in_text_logs(
    daemon: Daemon,  # noqa: F811 - the fixture imported above
    caplog: pytest.LogCaptureFixture,
    caller: Caller,
) -> None:
    caplog.set_level(logging.INFO)
    await daemon.commands.handle(caller, "/balance\nforged line")
    lines = [TextFormatter().format(r) for r in caplog.records]
    refused = [line for line in lines if "refused" in line]
    assert refused and all("\n" not in line and "\r" not in line for line in lines)
    assert "Eve\\n2026-11-25" in refused[0]
    assert "\x1b" not in refused[0] and "\u2028" not in refused[0]


def test_tracebacks_keep_their_lines() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, "", 0, "a\nb", (), None)
        record.exc_info = sys.exc_info()
    text = TextFormatter().format(record)
    assert text.splitlines()[0].endswith("x: a\\nb") and "Traceback" in text.splitlines()[1]


def test_text_and_json_timestamps_carry_their_zone() -> None:
    record = logging.LogRecord(
        "balancebot.daemon", logging.INFO, "", 0, "balancebot running", (), None
    )
    record.created = 1764061201.204  # 2025-11-25 09:00:01.204 UTC
    text = TextFormatter().format(record)
    assert text == "2025-11-25T09:00:01.204+00:00 INFO    balancebot.daemon: balancebot running"
    logged = json.loads(JsonFormatter().format(record))["time"]
    assert logged == "2025-11-25T09:00:01.204+00:00"
    assert datetime.fromisoformat(logged).utcoffset() == timedelta(0)
