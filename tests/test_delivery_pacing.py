"""A burst to many chats of one bot waits for the platform's pacing before each send's
deadline starts: every target gets its message once, none times out into a retry. Pacing
has to take real loop time for the deadline to notice, so this runs on the system clock
with 1 s deadlines, against the fake Slack and Telegram servers."""

from __future__ import annotations

import time
from pathlib import Path

from balancebot.clock import SystemClock
from balancebot.delivery import Dispatcher
from balancebot.integrations.slack.notifier import SlackNotifier
from balancebot.integrations.telegram.notifier import TelegramNotifier
from balancebot.models import Notification, Severity, TransitionKind
from balancebot.store import OutboxEntry, Store
from balancebot.testing.slack import FakeSlack
from balancebot.testing.telegram import FakeTelegram

TOKEN = "4242:pacing-token"
SLACK_TOKEN = "xoxb-pacing-0123456789"
CHANNELS = [f"C{n:04d}" for n in range(15)]  # 10/s overall: the last waits ~1.4 s
CHATS = list(range(1001, 1041))  # 25/s overall: the last waits ~1.6 s


async def test_a_burst_longer_than_the_deadline_by_pacing_alone_goes_out_once(
    tmp_path: Path,
) -> None:
    clock = SystemClock()
    async with FakeSlack(SLACK_TOKEN) as slack, FakeTelegram(TOKEN) as telegram:
        slack.channels.update(CHANNELS)
        for chat in CHATS:
            telegram.add_chat(chat)
        notifiers = {
            "slack": SlackNotifier.from_options(
                "slack",
                {
                    "bot_token": SLACK_TOKEN,
                    "channels": CHANNELS,
                    "base_url": slack.api_url,
                    "timeout": "1s",
                },
            ),
            "tg": TelegramNotifier.from_options(
                "tg",
                {
                    "bot_token": TOKEN,
                    "chat_ids": CHATS,
                    "base_url": telegram.base_url,
                    "timeout": "1s",
                },
            ),
        }
        store = await Store.open(f"sqlite:///{tmp_path / 'pacing.db'}")
        try:
            for notifier in notifiers.values():
                await notifier.start()
            now = clock.now()
            alert = Notification(
                TransitionKind.FIRING, Severity.WARNING, "prod", "low", "CNY", "low", (), now, now
            )
            await store.enqueue(
                [
                    OutboxEntry(name, target, alert)
                    for name, notifier in notifiers.items()
                    for target in notifier.targets()
                ],
                now,
            )
            dispatcher = Dispatcher(store, notifiers, clock)
            started = time.monotonic()
            delivered = await dispatcher.deliver_due()
            took = time.monotonic() - started
            due = await store.due_deliveries(clock.now() + dispatcher.lease * 100)
        finally:
            for notifier in notifiers.values():
                await notifier.close()
            await store.close()
    assert delivered == len(CHANNELS) + len(CHATS)  # before: ~half timed out into a retry
    assert due == []
    assert sorted(m["channel"] for m in slack.posted) == CHANNELS
    assert sorted(int(m["chat_id"]) for m in telegram.sent) == CHATS
    assert slack.rate_limited == telegram.rate_limited == 0
    assert took > 1.2  # paced, not sent at once
    print(f"\n{delivered} paced sends with 1 s deadlines: all delivered once in {took:.1f} s")
