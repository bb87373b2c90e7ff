"""A rate-limited long poll: PTB sleeps a `RetryAfter` out inside its polling loop, where
no error callback hears of it, so the wait Telegram asks for is capped and said."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from balancebot.integrations.telegram import notifier as telegram_notifier
from balancebot.testing.telegram import FakeTelegram, TelegramFault

from .test_chat import daemon, slack, socket_config, telegram, telegram_front  # noqa: F401


@pytest.mark.parametrize("asked", [1e12, 3600])
async def test_a_rate_limited_poll_waits_the_cap_and_says_so(
    telegram_front: Any,  # noqa: F811 - the fixture imported above
    telegram: FakeTelegram,  # noqa: F811 - the fixture imported above
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    asked: float,
) -> None:
    """`retry_after: 1e12` on getUpdates (an hour, once capped): commands went unanswered
    for that hour while the front-end said "connected", and no line said why."""
    monkeypatch.setattr(telegram_notifier, "POLL_WAIT_CAP", 0.5, raising=False)
    telegram.poll_failures.append(TelegramFault(429, "Too Many Requests", {"retry_after": asked}))
    await telegram.command("/help")
    sent = await telegram.wait_sent(1)  # the fake's wait_until fails after 30 s
    assert sent[0]["text"].startswith("📖 <b>Commands</b>")
    [said] = [r for r in caplog.records if "asked to wait" in r.getMessage()]
    assert said.levelno == logging.WARNING
    assert said.getMessage().endswith("asked to wait 3600 s before polling again; polling in 0.5 s")
