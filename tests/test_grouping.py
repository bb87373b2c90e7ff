"""Grouped alerts end to end: 30 accounts behind one provider that answers 503 are one
message per route (Telegram and Slack, through their fake APIs) and, once it recovers, one
resolved notice per route; `group_by = ["..."]` keeps one message per alert."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from balancebot.commands.access import Caller
from balancebot.commands.buttons import buttons_for, press
from balancebot.config import Config
from balancebot.config.chat import AllowRule
from balancebot.daemon import Daemon
from balancebot.delivery_groups import prepared
from balancebot.integrations.alertmanager.notifier import AlertmanagerNotifier
from balancebot.integrations.pagerduty.notifier import PagerDutyNotifier
from balancebot.models import AlertKey, Notification, Severity, TransitionKind
from balancebot.notify import labelled, labels_of
from balancebot.notify.grouped import SHOWN
from balancebot.silences import release_unmuted
from balancebot.store import OutboxEntry, Store
from balancebot.store.codec import Grouping
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator, Fault
from balancebot.testing.slack import FakeSlack
from balancebot.testing.telegram import FakeTelegram

from .conftest import API_KEY

TG_TOKEN = "4242:grouping-token"
SLACK_TOKEN = "xoxb-grouping-0123456789"
ACCOUNTS = [f"acct-{n:02d}" for n in range(30)]
CALLER = Caller("cli", "cli", "cli", "ann")


@pytest.fixture
async def telegram(clock: FakeClock) -> AsyncIterator[FakeTelegram]:
    # flood control on the test's clock: on the real one it depended on the machine's speed
    async with FakeTelegram(TG_TOKEN, clock) as fake:
        fake.add_chat(42)
        yield fake


@pytest.fixture
async def slack(clock: FakeClock) -> AsyncIterator[FakeSlack]:
    async with FakeSlack(SLACK_TOKEN, clock) as fake:
        fake.channels.add("C1")
        yield fake


def outage_config(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    telegram: FakeTelegram,
    slack: FakeSlack,
    group_by: list[str],
) -> Config:
    routes: list[dict[str, Any]] = [
        {
            "notifiers": [name],
            "group_by": group_by,
            "matchers": ['team="search"'],
            # longer than the outage takes to show: each check's retries wait on the clock
            "group_wait": "5m",
            "group_interval": "10m",
        }
        for name in ("oncall", "team")
    ]
    return make_config(
        accounts=[
            {
                "name": name,
                "api_key": f"{API_KEY}-{name}",
                "base_url": simulator.base_url,
                "timeout": "15s",
                "labels": {"team": "search"},
            }
            for name in ACCOUNTS
        ],
        rules=[{"name": "failing", "type": "check_failed", "after_failures": 2}],
        notifiers=[
            {
                "name": "oncall",
                "type": "telegram",
                "bot_token": TG_TOKEN,
                "chat_ids": [42],
                "base_url": telegram.base_url,
            },
            {
                "name": "team",
                "type": "slack",
                "bot_token": SLACK_TOKEN,
                "channels": ["C1"],
                "base_url": slack.api_url,
            },
        ],
        routes=routes,
    )


async def check_all(daemon: Daemon, clock: FakeClock, seconds: float) -> None:
    clock.advance(seconds)
    for name in ACCOUNTS:
        await daemon.pipeline.check(name)


async def each_alert_its_own_message(daemon: Daemon, clock: FakeClock, texts: list[str]) -> None:
    """Every alert has a row of its own to each route, and each message sent names one."""
    for name in ACCOUNTS:
        rows = await daemon.store.alert_rows(name, "failing", clock.now() - timedelta(days=1))
        assert sorted(row.notifier for row in rows) == ["oncall", "team"]
    assert texts
    assert all(sum(name in text for name in ACCOUNTS) == 1 for text in texts)


async def grouped_message(
    daemon: Daemon, simulator: DeepSeekSimulator, clock: FakeClock
) -> Notification:
    """The provider fails for every account: the first grouped message sent."""
    heard: list[Notification] = []
    daemon.dispatcher.listeners.append(lambda notifier, n: heard.append(n))
    simulator.fail_next(*[Fault(status=503) for _ in range(10_000)])
    await check_all(daemon, clock, 60)
    await check_all(daemon, clock, 60)
    clock.advance(300)
    await daemon.dispatcher.deliver_due()
    return heard[0]


def sent(telegram: FakeTelegram, slack: FakeSlack) -> tuple[list[str], list[str]]:
    return [m["text"] for m in telegram.sent], [m["text"] for m in slack.posted]


@pytest.mark.parametrize(
    ("group_by", "per_route"),
    [(["alertname", "provider", "severity"], 1), (["..."], len(ACCOUNTS))],
)
async def test_a_provider_outage_is_one_message_per_route_and_one_resolved(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    telegram: FakeTelegram,
    slack: FakeSlack,
    clock: FakeClock,
    group_by: list[str],
    per_route: int,
) -> None:
    for name in ACCOUNTS:
        simulator.add_account(f"{API_KEY}-{name}")
    config = outage_config(make_config, simulator, telegram, slack, group_by)
    async with Daemon.open(config, clock) as daemon:
        await check_all(daemon, clock, 0)
        simulator.fail_next(*[Fault(status=503) for _ in range(10_000)])
        await check_all(daemon, clock, 60)
        await check_all(daemon, clock, 60)  # the second failure in a row fires every account
        await daemon.dispatcher.deliver_due()
        grouped = per_route == 1
        if grouped:  # a new group waits group_wait for the rest of the outage
            assert sent(telegram, slack) == ([], [])
            clock.advance(300)
            await daemon.dispatcher.deliver_due()
        tg, sl = sent(telegram, slack)
        if not grouped:  # one message per alert: the platforms' flood control paces them
            await each_alert_its_own_message(daemon, clock, tg + sl)
            return
        assert (len(tg), len(sl)) == (1, 1)
        text = tg[0]
        assert "30 alerts" in text and "provider=deepseek" in text, text
        assert all(name in text for name in ACCOUNTS[:SHOWN])
        assert ACCOUNTS[SHOWN] not in text and "and 10 more" in text
        assert "503" in text and "since" in text
        assert "30 alerts" in sl[0]

        simulator.faults.clear()
        telegram.sent.clear()
        slack.posted.clear()
        await check_all(daemon, clock, 60)  # every account answers again: all resolve
        await daemon.dispatcher.deliver_due()
        assert sent(telegram, slack) == ([], [])  # changes to a told group wait group_interval
        clock.advance(600)
        await daemon.dispatcher.deliver_due()
        tg, sl = sent(telegram, slack)
        assert (len(tg), len(sl)) == (1, 1)
        assert all("RESOLVED" in text and "30 alerts" in text for text in tg + sl)
        assert "lasted" in tg[0]
        assert await daemon.store.due_deliveries(clock.now() + daemon.dispatcher.lease * 100) == []


async def test_a_grouped_messages_buttons_mute_and_unmute_the_whole_group(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    telegram: FakeTelegram,
    slack: FakeSlack,
    clock: FakeClock,
) -> None:
    for name in ACCOUNTS:
        simulator.add_account(f"{API_KEY}-{name}")
    config = outage_config(make_config, simulator, telegram, slack, ["alertname", "provider"])
    async with Daemon.open(config, clock) as daemon:
        message = await grouped_message(daemon, simulator, clock)
        assert message.group and message.account == ""
        data = dict(buttons_for(message))["Mute 4h"]
        assert data == f"g4h:{message.group}" and len(data.encode()) <= 64

        pressed = await press(daemon.commands, CALLER, data)
        assert pressed.answer == "Muted for 4h 00m"
        assert pressed.note is not None
        assert pressed.note.startswith("🔕 30 alert(s) muted by ann until 2026-")
        # one mute by the group's labels, however many accounts: newcomers are muted too
        [silence] = await daemon.store.active_silences(clock.now())
        assert (silence.account, silence.rule, silence.subject) == (None, None, None)
        assert [str(m) for m in silence.matchers] == [
            'team="search"',
            'alertname="failing"',
            'provider="deepseek"',
        ]
        again = await press(daemon.commands, CALLER, data)  # a second click adds none
        assert again.answer == "Muted for 4h 00m"
        assert len(await daemon.store.active_silences(clock.now())) == 1
        [(label, unmute)] = pressed.buttons
        assert (label, unmute) == ("Unmute", f"v{message.group}")

        ended = await press(daemon.commands, CALLER, unmute)
        assert ended.answer == "Unmuted"
        assert await daemon.store.active_silences(clock.now()) == []
        again = await press(daemon.commands, CALLER, unmute)
        assert again.answer == "That mute has already ended."


async def test_a_group_mute_by_someone_who_sees_some_accounts_mutes_only_theirs(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    telegram: FakeTelegram,
    slack: FakeSlack,
    clock: FakeClock,
) -> None:
    for name in ACCOUNTS:
        simulator.add_account(f"{API_KEY}-{name}")
    config = outage_config(make_config, simulator, telegram, slack, ["alertname", "provider"])
    mine = ACCOUNTS[:3]
    allow = [AllowRule(platform="telegram", chats=[7], accounts=mine)]
    config = msgspec.structs.replace(config, chat=msgspec.structs.replace(config.chat, allow=allow))
    bob = Caller("telegram", "7", "7", "bob")
    async with Daemon.open(config, clock) as daemon:
        message = await grouped_message(daemon, simulator, clock)
        pressed = await press(daemon.commands, bob, dict(buttons_for(message))["Mute 1h"])
        assert pressed.note is not None and pressed.note.startswith("🔕 3 alert(s) muted by bob")
        [silence] = await daemon.store.active_silences(clock.now())
        assert str(silence.matchers[-1]) == 'account=~"acct-00|acct-01|acct-02"'
        assert silence.accounts(ACCOUNTS) == set(mine)
        now = clock.now()
        for name in ACCOUNTS:
            key = AlertKey(name, "failing")
            labels = labels_of(config, key, Severity.WARNING)
            assert silence.mutes(TransitionKind.REPEAT, key, Severity.WARNING, now, labels) == (
                name in mine
            )
        # bob sees his mute (and may end it); someone who sees every account does too
        listed = await press(daemon.commands, bob, f"v{message.group}")
        assert listed.answer == "Unmuted"
        assert await daemon.store.active_silences(clock.now()) == []


async def test_alerts_a_mute_held_back_are_released_as_one_group(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    telegram: FakeTelegram,
    slack: FakeSlack,
    clock: FakeClock,
) -> None:
    for name in ACCOUNTS:
        simulator.add_account(f"{API_KEY}-{name}")
    group_by = ["alertname", "provider", "severity"]
    config = outage_config(make_config, simulator, telegram, slack, group_by)
    async with Daemon.open(config, clock) as daemon:
        hour = clock.now() + timedelta(hours=1)
        await daemon.store.add_silence(None, "failing", hour, "cli:ann", clock.now())
        simulator.fail_next(*[Fault(status=503) for _ in range(10_000)])
        await check_all(daemon, clock, 60)
        await check_all(daemon, clock, 60)
        clock.advance(300)
        await daemon.dispatcher.deliver_due()
        assert sent(telegram, slack) == ([], [])  # muted

        assert await daemon.store.end_silences(None, "failing", clock.now()) == 1
        remember = daemon.memory.remember_told
        assert await release_unmuted(daemon.store, clock.now(), remember, config) == 60
        clock.advance(300)  # the released group waits group_wait like any new group
        await daemon.dispatcher.deliver_due()
        tg, sl = sent(telegram, slack)
        assert (len(tg), len(sl)) == (1, 1)
        assert "30 alerts" in tg[0] and "30 alerts" in sl[0]


async def test_a_notifier_that_groups_alerts_itself_gets_each_alert_of_a_group(
    tmp_path: Path,
) -> None:
    """A notifier with `merges_groups = False` gets each alert of a group as its own row;
    the others get one message (Alertmanager and PagerDuty read each alert of it from
    `Notification.alerts`: tests/test_oncall.py)."""
    assert AlertmanagerNotifier.merges_groups and PagerDutyNotifier.merges_groups
    store = await Store.open(f"sqlite:///{tmp_path / 'groups.db'}")
    try:
        now = FakeClock().now()
        grouping = Grouping("g" * 32, timedelta(0), timedelta(minutes=5))
        await store.enqueue(
            [
                OutboxEntry("am", "", labelled(notice(name, now), "deepseek"), group=grouping)
                for name in ACCOUNTS[:3]
            ],
            now,
        )
        rows = await store.due_deliveries(now)
        assert len(await prepared(store, rows, UTC, merge=False)) == 3
        [merged] = await prepared(store, rows, UTC)
        assert len(merged.ids) == 3 and merged.notification.group == "g" * 32
    finally:
        await store.close()


def notice(account: str, now: datetime) -> Notification:
    return Notification(
        TransitionKind.FIRING, Severity.WARNING, account, "failing", "", "down", ("x",), now, now
    )
