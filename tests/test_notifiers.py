"""Telegram and Slack delivery through the real PTB and slack-sdk clients, against local
fakes of the Bot API and the Slack Web API / webhooks, on fake time."""

from __future__ import annotations

import asyncio
import dataclasses
import html
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.errors import DeliveryError
from balancebot.integrations.slack.notifier import SlackNotifier
from balancebot.integrations.slack.rendering import slack_blocks, slack_text
from balancebot.integrations.telegram.notifier import TelegramNotifier
from balancebot.integrations.telegram.rendering import telegram_html
from balancebot.models import Notification, Severity, TransitionKind
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.processes import spawn
from balancebot.testing.slack import FakeSlack, SlackFault
from balancebot.testing.telegram import FakeTelegram, TelegramFault

from .conftest import API_KEY

TG_TOKEN = "123456:TEST-telegram-token-abcdef"
SLACK_TOKEN = "xoxb-test-slack-token-123"
HOSTILE = '<b>&"x"</b>'


@pytest.fixture
async def telegram(clock: FakeClock) -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TG_TOKEN, clock) as fake:
        fake.add_chat(42)
        fake.add_chat(-100200, "group")
        yield fake


@pytest.fixture
async def slack(clock: FakeClock) -> AsyncIterator[FakeSlack]:
    async with FakeSlack(SLACK_TOKEN, clock) as fake:
        fake.channels.add("C1")
        fake.hooks["H1"] = "C2"
        yield fake


@pytest.fixture
def config(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    telegram: FakeTelegram,
    slack: FakeSlack,
) -> Config:
    return make_config(
        accounts=[
            {"name": name, "api_key": f"{API_KEY}-{name}", "base_url": simulator.base_url}
            for name in ("prod", "dev", HOSTILE)
        ],
        rules=[
            {
                "name": "low",
                "type": "threshold",
                "repeat_interval": "1h",
                "thresholds": {"CNY": {"warning_below": "20", "critical_below": "10"}},
            }
        ],
        notifiers=[
            {
                "name": "oncall",
                "type": "telegram",
                "bot_token": TG_TOKEN,
                "chat_ids": [42, -100200],
                "base_url": telegram.base_url,
            },
            {
                "name": "team",
                "type": "slack",
                "bot_token": SLACK_TOKEN,
                "channels": ["C1"],
                "base_url": slack.api_url,
            },
            {"name": "hook", "type": "slack", "webhook_url": slack.hook_url("H1")},
        ],
    )


@pytest.fixture
async def daemon(config: Config, clock: FakeClock) -> AsyncIterator[Daemon]:
    async with Daemon.open(config, clock) as opened:
        yield opened


def balance(simulator: DeepSeekSimulator, account: str, total: str) -> None:
    simulator.add_account(f"{API_KEY}-{account}", {"CNY": ("0.00", total)})


async def check(d: Daemon, clock: FakeClock, minutes: float = 5, account: str = "prod") -> int:
    clock.advance(minutes * 60)
    await d.pipeline.check(account)
    return await d.dispatcher.deliver_due()


def first_lines(messages: list[dict[str, Any]], key: str = "text") -> list[str]:
    return [m[key].splitlines()[0] for m in messages]


async def test_firing_repeat_resolved_arrive_in_order_everywhere(
    daemon: Daemon,
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    telegram: FakeTelegram,
    slack: FakeSlack,
) -> None:
    for total, minutes in (("15.00", 5), ("14.00", 30), ("13.00", 30), ("50.00", 5)):
        balance(simulator, "prod", total)
        await check(daemon, clock, minutes)
    expected = [
        "WARNING: prod DeepSeek balance 15.00 CNY < 20.00",
        "WARNING (still): prod DeepSeek balance 13.00 CNY < 20.00",
        "RESOLVED: prod DeepSeek balance 50.00 CNY ≥ 20.00 (topped up +37.00 CNY)",
    ]
    for chat in ("42", "-100200"):
        got = [m for m in telegram.sent if m["chat_id"] == chat]
        assert [html.unescape(line) for line in first_lines(got)] == [
            f"{icon} <b>{line}</b>" for icon, line in zip(("🟠", "🟠", "✅"), expected, strict=True)
        ]
        assert all(m["parse_mode"] == "HTML" for m in got)
    assert [html.unescape(t) for t in first_lines(slack.posted)] == [
        f"{icon} {line}" for icon, line in zip(("🟠", "🟠", "✅"), expected, strict=True)
    ]
    assert [p["text"] for p in slack.hook_posts] == [p["text"] for p in slack.posted]
    blocks = slack.posted[-1]["blocks"]
    assert blocks[0]["text"]["type"] == "mrkdwn"
    assert "Lasted: 1h 05m" in blocks[1]["text"]["text"]
    assert telegram.rate_limited == 0 and slack.rate_limited == 0


async def test_a_burst_to_one_chat_is_paced_under_the_limits(
    daemon: Daemon,
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    telegram: FakeTelegram,
    slack: FakeSlack,
) -> None:
    for account in ("prod", "dev", HOSTILE):
        balance(simulator, account, "5.00")
        clock.advance(0.01)
        await daemon.pipeline.check(account)
    assert await daemon.dispatcher.deliver_due() == 3 * 4  # 3 alerts x (2 chats + 2 slack)
    assert telegram.rate_limited == 0 and slack.rate_limited == 0
    assert len([m for m in telegram.sent if m["chat_id"] == "-100200"]) == 3


async def test_retry_after_is_waited_out_then_delivered_once(
    daemon: Daemon,
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    telegram: FakeTelegram,
    slack: FakeSlack,
) -> None:
    telegram.faults.append(
        TelegramFault(429, "Too Many Requests: retry after 7", {"retry_after": 7})
    )
    slack.faults.append(SlackFault("ratelimited", 429, {"Retry-After": "9"}))
    balance(simulator, "prod", "5.00")
    await check(daemon, clock)
    assert len(telegram.sent) == 1 and slack.posted == []  # each fake failed one call
    clock.advance(6.5)
    assert await daemon.dispatcher.deliver_due() == 0
    clock.advance(0.5)
    assert await daemon.dispatcher.deliver_due() == 1
    clock.advance(2)
    assert await daemon.dispatcher.deliver_due() == 1
    clock.advance(3600)
    assert await daemon.dispatcher.deliver_due() == 0
    assert sorted(m["chat_id"] for m in telegram.sent) == ["-100200", "42"]
    assert len(slack.posted) == 1 and len(slack.hook_posts) == 1


async def test_chat_migration_is_followed(
    daemon: Daemon, simulator: DeepSeekSimulator, clock: FakeClock, telegram: FakeTelegram
) -> None:
    telegram.migrated["-100200"] = -1009999
    telegram.add_chat(-1009999, "supergroup")
    balance(simulator, "prod", "15.00")
    await check(daemon, clock)
    balance(simulator, "prod", "5.00")
    await check(daemon, clock)
    assert [m["chat_id"] for m in telegram.sent if m["chat_id"] != "42"] == ["-1009999"] * 2
    calls_to_old_chat = telegram.calls.count("sendMessage") - len(telegram.sent)
    assert calls_to_old_chat == 1  # the second alert went straight to the new id


async def test_permanent_error_is_reported_and_blocks_nothing(
    daemon: Daemon,
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    telegram: FakeTelegram,
    slack: FakeSlack,
) -> None:
    telegram.blocked.add("42")
    slack.archived.add("C1")
    balance(simulator, "prod", "15.00")
    await check(daemon, clock)
    balance(simulator, "prod", "5.00")
    await check(daemon, clock)
    assert [m["chat_id"] for m in telegram.sent] == ["-100200", "-100200"]
    assert len(slack.hook_posts) == 2
    assert daemon.dispatcher.problems == {
        "oncall:42": "telegram chat 42: Forbidden: bot was blocked by the user",
        "team:C1": "slack channel C1: is_archived",
    }
    clock.advance(86400)
    assert await daemon.dispatcher.deliver_due() == 0  # failed rows are not retried


async def test_restart_delivers_undelivered_rows_exactly_once(
    config: Config,
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    telegram: FakeTelegram,
    slack: FakeSlack,
) -> None:
    balance(simulator, "prod", "15.00")
    async with Daemon.open(config, clock) as first:
        telegram.faults.append(TelegramFault(502, "Bad Gateway"))
        await first.pipeline.check("prod")
        assert await first.dispatcher.deliver_due() == 3  # one Telegram chat failed
    # "crash": the failed row and nothing else is pending
    async with Daemon.open(config, clock) as second:
        clock.advance(600)
        assert await second.dispatcher.deliver_due() == 1
        clock.advance(600)
        assert await second.dispatcher.deliver_due() == 0
    assert sorted(m["chat_id"] for m in telegram.sent) == ["-100200", "42"]
    assert len(slack.posted) == 1 and len(slack.hook_posts) == 1


def notification(account: str = HOSTILE) -> Notification:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Notification(
        TransitionKind.FIRING,
        Severity.CRITICAL,
        account,
        "low",
        "CNY",
        f"CRITICAL: {account} DeepSeek balance 8.20 CNY < 10.00",
        (f"error: <script>alert('{account}')</script> & more",),
        now,
        now,
    )


def test_hostile_names_are_escaped_for_telegram_html() -> None:
    text = telegram_html(notification())
    assert "&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;" in text
    assert "<script>" not in text and "<b>&" not in text
    assert text.count("<b>") == 1 and text.count("</b>") == 1


def test_hostile_names_are_escaped_for_slack() -> None:
    assert slack_text(notification()) == (
        '🔴 CRITICAL: &lt;b&gt;&amp;"x"&lt;/b&gt; DeepSeek balance 8.20 CNY &lt; 10.00'
    )


async def test_hostile_names_are_accepted_by_both_platforms(
    daemon: Daemon,
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    telegram: FakeTelegram,
    slack: FakeSlack,
) -> None:
    balance(simulator, HOSTILE, "5.00")
    await check(daemon, clock, account=HOSTILE)
    assert daemon.dispatcher.problems == {}
    assert html.unescape(first_lines(telegram.sent)[0]).startswith(
        f"🔴 <b>CRITICAL: {HOSTILE} DeepSeek"
    )
    assert (
        HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        in (slack.posted[0]["text"])
    )


def test_long_details_are_cut_to_platform_limits() -> None:
    long = dataclasses.replace(notification(), details=tuple("x" * 200 for _ in range(50)))
    text = telegram_html(long)
    assert len(text) <= 4096 and text.endswith("…")
    assert all(len(b["text"]["text"]) <= 3000 for b in slack_blocks(long))


async def test_bad_tokens_are_permanent_and_never_shown(
    telegram: FakeTelegram, slack: FakeSlack, clock: FakeClock
) -> None:
    wrong_tg = "999:WRONG-token-never-shown"
    tg = TelegramNotifier.from_options(
        "tg", {"bot_token": wrong_tg, "chat_ids": [42], "base_url": telegram.base_url}, clock
    )
    wrong_slack = "xoxb-wrong-never-shown"
    sl = SlackNotifier.from_options(
        "sl", {"bot_token": wrong_slack, "channels": ["C1"], "base_url": slack.api_url}, clock
    )
    for notifier, secret in ((tg, wrong_tg), (sl, wrong_slack)):
        await notifier.start()
        try:
            with pytest.raises(DeliveryError) as raised:
                await notifier.send(notification("prod"), notifier.targets()[0])
        finally:
            await notifier.close()
        assert raised.value.permanent
        assert secret not in str(raised.value) and secret not in repr(notifier.options)


async def test_unreachable_platforms_are_transient(clock: FakeClock) -> None:
    tg = TelegramNotifier.from_options(
        "tg",
        {
            "bot_token": TG_TOKEN,
            "chat_ids": [42],
            "base_url": "http://127.0.0.1:9/bot",
            "timeout": 2,
        },
        clock,
    )
    hook = SlackNotifier.from_options("h", {"webhook_url": "http://127.0.0.1:9/hooks/x"}, clock)
    for notifier in (tg, hook):
        await notifier.start()
        try:
            with pytest.raises(DeliveryError) as raised:
                await notifier.send(notification("prod"), notifier.targets()[0])
        finally:
            await notifier.close()
        assert not raised.value.permanent
        assert TG_TOKEN not in raised.value.message


@pytest.mark.parametrize(
    ("fault", "permanent", "retry_after"),
    [
        (SlackFault("invalid_payload", 400), True, None),
        (SlackFault("action_prohibited", 403), True, None),
        (SlackFault("channel_not_found", 404), True, None),
        (SlackFault("channel_is_archived", 410), True, None),
        (SlackFault("rate_limited", 429, {"Retry-After": "12"}), False, 12.0),
        (SlackFault("internal_error", 500), False, None),
    ],
)
async def test_webhook_answers_are_classified(
    slack: FakeSlack,
    clock: FakeClock,
    fault: SlackFault,
    permanent: bool,
    retry_after: float | None,
) -> None:
    hook = SlackNotifier.from_options("h", {"webhook_url": slack.hook_url("H1")}, clock)
    await hook.start()
    slack.faults.append(fault)
    try:
        with pytest.raises(DeliveryError) as raised:
            await hook.send(notification("prod"), "")
    finally:
        await hook.close()
    assert (raised.value.permanent, raised.value.retry_after) == (permanent, retry_after)
    assert fault.error in raised.value.message


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        ("invalid_auth", True),
        ("not_in_channel", True),
        ("channel_not_found", True),
        ("is_archived", True),
        ("account_inactive", True),
        ("fatal_error", False),
    ],
)
async def test_web_api_errors_are_classified(
    slack: FakeSlack, clock: FakeClock, error: str, permanent: bool
) -> None:
    notifier = SlackNotifier.from_options(
        "s", {"bot_token": SLACK_TOKEN, "channels": ["C1"], "base_url": slack.api_url}, clock
    )
    await notifier.start()
    slack.faults.append(SlackFault(error))
    try:
        with pytest.raises(DeliveryError) as raised:
            await notifier.send(notification("prod"), "C1")
    finally:
        await notifier.close()
    assert raised.value.permanent is permanent


async def test_notify_test_command_reports_each_target(
    tmp_path: Path, telegram: FakeTelegram, slack: FakeSlack
) -> None:
    telegram.blocked.add("7")
    path = tmp_path / "config.toml"
    path.write_text(f"""
[[accounts]]
name = "prod"
api_key = "sk-x"

[[notifiers]]
name = "oncall"
type = "telegram"
bot_token = "${{TG_TOKEN}}"
chat_ids = [42, 7]
base_url = "{telegram.base_url}"

[[notifiers]]
name = "team"
type = "slack"
bot_token = "{SLACK_TOKEN}"
channels = ["C1"]
base_url = "{slack.api_url}"
""")
    process = await spawn(
        "notify-test",
        "-c",
        str(path),
        env={"TG_TOKEN": TG_TOKEN},
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    lines = out.decode().splitlines()
    assert process.returncode == 1, err.decode()
    assert lines == [
        "ok      oncall → 42: delivered",
        "FAILED  oncall → 7: telegram chat 7: Forbidden: bot was blocked by the user (permanent)",
        "ok      team → C1: delivered",
    ]
    assert telegram.sent[0]["text"].startswith("🔵 <b>TEST: balancebot can deliver here</b>")
    assert TG_TOKEN not in (out + err).decode()


async def test_daemon_debug_logs_never_show_the_bot_token(
    tmp_path: Path, simulator: DeepSeekSimulator, telegram: FakeTelegram
) -> None:
    """httpx logs Telegram request URLs at DEBUG, and the token is part of the path."""
    simulator.add_account(API_KEY, {"CNY": ("0.00", "5.00")})
    path = tmp_path / "config.toml"
    path.write_text(f"""
[[accounts]]
name = "prod"
api_key = "${{KEY}}"
base_url = "{simulator.base_url}"
check_interval = "1h"

[[rules]]
name = "low"
type = "threshold"
thresholds = {{ CNY = {{ critical_below = "10" }} }}

[[notifiers]]
name = "oncall"
type = "telegram"
bot_token = "${{TG_TOKEN}}"
chat_ids = [42]
base_url = "{telegram.base_url}"
""")
    process = await spawn(
        "--log-level",
        "debug",
        "run",
        "-c",
        str(path),
        env={"TG_TOKEN": TG_TOKEN, "KEY": API_KEY},
    )
    assert process.stderr is not None
    log = b""
    while b"delivered firing to oncall:42" not in log:
        line = await asyncio.wait_for(process.stderr.readline(), timeout=30)
        assert line, log.decode()
        log += line
    process.terminate()
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    everything = (log + out + err).decode()
    assert process.returncode == 0, everything
    assert "/bot***/sendMessage" in everything  # the URL was logged, masked
    assert TG_TOKEN not in everything and API_KEY not in everything
    assert len(telegram.sent) == 1
