"""Issue 21 §1: every `Retry-After`, from any channel, read strictly and capped at an hour.

One parser (`retry.retry_after_seconds`) and its table; then each channel's real client
against its loopback fake, answering 429 with hostile values: the notifier's
`DeliveryError` carries the parser's verdict, never a traceback, `inf` or 1e12 seconds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from balancebot.integrations.slack.notifier import SlackNotifier
from balancebot.integrations.telegram.notifier import TelegramNotifier
from balancebot.integrations.webhook.notifier import WebhookNotifier
from balancebot.retry import RETRY_AFTER_CAP, retry_after_seconds
from balancebot.testing.clock import FakeClock
from balancebot.testing.receiver import Fault, Receiver
from balancebot.testing.slack import FakeSlack, SlackFault
from balancebot.testing.telegram import FakeTelegram, TelegramFault

from .channels import refused

NOW = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
HOUR = RETRY_AFTER_CAP
TG_TOKEN = "123456:TEST-telegram-token-abcdef"

TABLE: list[tuple[object, float | None]] = [
    # a header's delta-seconds: digits, perhaps a fraction
    ("7", 7.0),
    (" 7 ", 7.0),
    ("0", 0.0),
    ("0.5", 0.5),
    ("3600", HOUR),
    ("3601", HOUR),
    ("1000000000000", HOUR),  # huge: the cap
    ("9" * 400, HOUR),
    # not delta-seconds: ignored, the caller's own backoff
    (None, None),
    ("", None),
    ("-3", None),
    ("+5", None),
    ("1e12", None),
    ("nan", None),
    ("inf", None),
    ("Infinity", None),
    ("0x10", None),
    (".5", None),
    ("٣", None),  # a digit, but not an ASCII one
    ("soon", None),
    # an HTTP date
    ("Wed, 25 Nov 2026 20:01:00 GMT", 60.0),
    ("Wed, 25 Nov 2026 19:00:00 GMT", 0.0),  # already past
    ("Fri, 31 Dec 9999 23:59:59 GMT", HOUR),
    ("Wed, 32 Nov 2026 20:01:00 GMT", None),
    ("Wed, 25 Nov 99999 20:01:00 GMT", None),
    # a number from a JSON answer (Telegram's parameters.retry_after)
    (5, 5.0),
    (2.5, 2.5),
    (1e12, HOUR),
    (10**400, HOUR),
    (-5, None),
    (float("inf"), None),
    (float("-inf"), None),
    (float("nan"), None),
    (True, None),
    ([1], None),
    ({"s": 1}, None),
    (timedelta(seconds=9), 9.0),
    (timedelta(days=-1), None),
]


@pytest.mark.parametrize(("value", "expected"), TABLE, ids=[repr(v)[:24] for v, _ in TABLE])
def test_the_parser(value: object, expected: float | None) -> None:
    assert retry_after_seconds(value, NOW) == expected


HEADERS = [("7", 7.0), ("1e12", None), ("99999999999999", HOUR), ("-1", None), ("inf", None)]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as server:
        yield server


@pytest.mark.parametrize(("header", "expected"), HEADERS)
async def test_webhook_retry_after(receiver: Receiver, header: str, expected: float | None) -> None:
    receiver.faults.append(Fault(429, {"Retry-After": header}))
    options = {"urls": [f"{receiver.url}/hook/a"], "secret": "s" * 16}
    error = await refused(WebhookNotifier.from_options("w", options, FakeClock(NOW)))
    assert error.retry_after == expected


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack("xoxb-test-1") as server:
        yield server


@pytest.mark.parametrize("web_api", [True, False])
@pytest.mark.parametrize(("header", "expected"), HEADERS)
async def test_slack_retry_after(
    slack: FakeSlack, header: str, expected: float | None, web_api: bool
) -> None:
    slack.faults.append(SlackFault("ratelimited", 429, {"Retry-After": header}))
    options: dict[str, Any] = (
        {"bot_token": "xoxb-test-1", "channels": ["C1"], "base_url": slack.api_url}
        if web_api
        else {"webhook_url": slack.hook_url("H1")}
    )
    error = await refused(SlackNotifier.from_options("s", options, FakeClock(NOW)))
    assert error.retry_after == expected


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TG_TOKEN) as server:
        server.add_chat(42)
        yield server


@pytest.mark.parametrize(
    ("value", "expected"),
    [(7, 7.0), (1e12, HOUR), (1e20, HOUR), (-5, None), ("soon", None), ([3], None), (0, None)],
)
async def test_telegram_retry_after(
    telegram: FakeTelegram, value: object, expected: float | None
) -> None:
    """PTB turns `retry_after` into a timedelta itself: 1e20 raised OverflowError and
    "soon" a TypeError out of `send_message`, a traceback instead of a retry."""
    telegram.faults.append(TelegramFault(429, "Too Many Requests", {"retry_after": value}))
    options = {"bot_token": TG_TOKEN, "chat_ids": [42], "base_url": telegram.base_url}
    error = await refused(TelegramNotifier.from_options("tg", options, FakeClock(NOW)))
    assert error.retry_after == expected
