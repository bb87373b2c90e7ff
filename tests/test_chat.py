"""Chat commands: the command layer, then each platform end to end against local fakes."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from balancebot.commands import REFUSAL, REGISTRY
from balancebot.commands.access import Caller
from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.frontends import FrontEndState
from balancebot.integrations.slack import frontend as slack_front
from balancebot.integrations.slack.http import SlackHttpFrontEnd
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator, Fault
from balancebot.testing.slack import FakeSlack
from balancebot.testing.telegram import FakeTelegram, TelegramFault

from .conftest import API_KEY, SUMMARY

TG_TOKEN = "777:chat-test-token-xyz"
SLACK_TOKEN = "xoxb-chat-test"
APP_TOKEN = "xapp-1-chat-test"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"

OWNER = Caller("telegram", "42", "42", "owner", private=True)
DEV_ONLY = Caller("telegram", "51", "51", "dev person", private=True)
STRANGER = Caller("telegram", "666", "666", "stranger", private=True)


@pytest.fixture
async def telegram(clock: FakeClock) -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TG_TOKEN, clock) as fake:
        fake.add_chat(42)
        fake.add_chat(51)
        fake.add_chat(666)
        yield fake


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(SLACK_TOKEN, app_token=APP_TOKEN) as fake:
        fake.channels.add("C1")
        yield fake


def chat_config(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    telegram: FakeTelegram,
    slack: FakeSlack,
    slack_chat: dict[str, Any],
    **top: Any,
) -> Config:
    return make_config(
        **top,
        accounts=[
            {"name": name, "api_key": f"{API_KEY}-{name}", "base_url": simulator.base_url}
            for name in ("prod", "dev")
        ],
        rules=[
            {
                "name": "low",
                "type": "threshold",
                "repeat_interval": "1h",
                "thresholds": {"CNY": {"warning_below": "20", "critical_below": "10"}},
            },
        ],
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
        chat={
            "balance_max_age": "5m",
            "telegram": {"notifier": "oncall"},
            "slack": {"notifier": "team", **slack_chat},
            "allow": [
                {"platform": "telegram", "users": [42]},
                {"platform": "telegram", "chats": [51], "accounts": ["dev"]},
                {"platform": "slack", "chats": ["C1"]},
            ],
        },
    )


@pytest.fixture
def socket_config(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    telegram: FakeTelegram,
    slack: FakeSlack,
) -> Config:
    return chat_config(
        make_config, simulator, telegram, slack, {"mode": "socket", "app_token": APP_TOKEN}
    )


@pytest.fixture
async def daemon(
    socket_config: Config, clock: FakeClock, simulator: DeepSeekSimulator
) -> AsyncIterator[Daemon]:
    simulator.add_account(f"{API_KEY}-prod", {"CNY": ("0.00", "110.00")})
    simulator.add_account(f"{API_KEY}-dev", {"USD": ("2.00", "3.00")})
    async with Daemon.open(socket_config, clock) as opened:
        yield opened


# --- the command layer ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REGISTRY))
async def test_every_command_refuses_strangers(daemon: Daemon, name: str) -> None:
    replies = []
    for text in (f"/{name}", f"/{name} prod", f"/{name} 2h prod"):
        reply = await daemon.commands.handle(STRANGER, text)
        SUMMARY["unauthorized requests tried"] += 1
        if reply is not None and (reply.headline != REFUSAL or reply.details or reply.image):
            SUMMARY["unauthorized requests answered with data"] += 1
        replies.append(reply)
    first = replies[0]  # told once per chat per period, then nothing at all
    assert first is not None and first.headline == REFUSAL and first.details == ()
    assert first.image is None and replies[1:] == [None, None]


async def test_unknown_and_bad_input_get_usage_not_tracebacks(daemon: Daemon) -> None:
    handle = daemon.commands.handle
    assert (await handle(OWNER, "/frobnicate")).headline.startswith("Unknown command. Try: /")
    assert (await handle(OWNER, "/mute")).headline == "Usage: /mute <duration> [account|rule] [why]"
    bad = await handle(OWNER, "/mute forever prod")
    form = "a duration from 1m to 30d, like 30m, 2h or 1d12h"
    assert bad.details == (f"'forever' is not {form}",)
    assert (await handle(OWNER, "/mute 90d")).details == (f"'90d' is not {form}",)
    assert (await handle(OWNER, "/balance a b")).headline == "Usage: /balance [account]"
    assert (await handle(OWNER, "/status now")).headline == "Usage: /status"
    assert "too long" in (await handle(OWNER, "/balance " + "x" * 300)).headline


async def test_balance_is_fetched_when_stale_and_reused_when_fresh(
    daemon: Daemon, simulator: DeepSeekSimulator, clock: FakeClock
) -> None:
    first = await daemon.commands.handle(OWNER, "/balance")
    assert first.headline == "Balances"
    assert first.details == (
        "prod (checked now):",
        "  CNY: 110.00 (granted 0.00, topped-up 110.00)",
        "  CNY: not enough history yet (needs 6 h); spent today 0.00",
        "dev (checked now):",
        "  USD: 5.00 (granted 2.00, topped-up 3.00)",
        "  USD: not enough history yet (needs 6 h); spent today 0.00",
    )
    requests = len(simulator.requests)
    clock.advance(120)
    again = await daemon.commands.handle(OWNER, "/balance prod")
    assert again.details[0] == "prod (checked 2m 00s ago):"
    assert len(simulator.requests) == requests  # served from the fresh snapshot
    clock.advance(300)
    await daemon.commands.handle(OWNER, "/balance prod")
    assert len(simulator.requests) == requests + 1


async def test_access_rules_limit_accounts_and_reveal_nothing(daemon: Daemon) -> None:
    mine = await daemon.commands.handle(DEV_ONLY, "/balance")
    assert mine.headline == "Balance of dev"
    hidden = await daemon.commands.handle(DEV_ONLY, "/balance prod")
    missing = await daemon.commands.handle(DEV_ONLY, "/balance nosuch")
    assert hidden.details == ("no account 'prod' that you may see",)
    assert missing.details == ("no account 'nosuch' that you may see",)
    assert (await daemon.commands.handle(DEV_ONLY, "/mute 1h")).details == (
        "name one of your accounts",
    )
    status = await daemon.commands.handle(DEV_ONLY, "/status")
    assert not any("prod" in line for line in status.details)
    assert not any(line.startswith("Notifiers") for line in status.details)


async def test_refusals_are_logged_with_the_user_id(
    daemon: Daemon, caplog: pytest.LogCaptureFixture
) -> None:
    await daemon.commands.handle(STRANGER, "/balance")
    assert "refused telegram user 666 (stranger) in chat 666" in caplog.text


async def test_mute_suppresses_the_next_alert_and_unmute_restores_it(
    daemon: Daemon, simulator: DeepSeekSimulator, clock: FakeClock, slack: FakeSlack
) -> None:
    slack.clock = clock  # its per-channel rate limit on our time
    reply = await daemon.commands.handle(OWNER, "/mute 2h prod")
    assert reply.headline == "Muted prod for 2h 00m"
    simulator.add_account(f"{API_KEY}-prod", {"CNY": ("0.00", "15.00")})
    clock.advance(60)
    await daemon.pipeline.check("prod")
    assert await daemon.dispatcher.deliver_due() == 0
    status = await daemon.commands.handle(OWNER, "/status")
    assert any(line.startswith("  prod until") for line in status.details)
    assert (await daemon.commands.handle(OWNER, "/unmute prod")).headline == "Unmuted prod"
    assert (await daemon.commands.handle(OWNER, "/unmute prod")).headline == (
        "Nothing was muted for prod"
    )
    assert await daemon.dispatcher.deliver_due() == 2  # the warning it held back, at once
    simulator.add_account(f"{API_KEY}-prod", {"CNY": ("0.00", "5.00")})  # escalates
    clock.advance(60)
    await daemon.pipeline.check("prod")
    assert await daemon.dispatcher.deliver_due() == 2  # telegram chat + slack channel


async def test_mute_by_rule_and_everything_needs_full_access(daemon: Daemon) -> None:
    assert (await daemon.commands.handle(OWNER, "/mute 1h low")).headline == (
        "Muted rule low for 1h 00m"
    )
    assert (await daemon.commands.handle(OWNER, "/mute 30m")).headline == (
        "Muted all alerts for 30m 00s"
    )
    assert (await daemon.commands.handle(DEV_ONLY, "/mute 1h low")).details == (
        "no account or rule 'low' that you may mute",
    )


async def test_status_reports_checks_alerts_and_notifier_health(
    daemon: Daemon, simulator: DeepSeekSimulator, clock: FakeClock
) -> None:
    simulator.add_account(f"{API_KEY}-prod", {"CNY": ("0.00", "5.00")})
    await daemon.pipeline.check("prod")
    simulator.fail_next(*[Fault(status=500)] * 3)
    await daemon.pipeline.check("dev")
    daemon.dispatcher.problems["oncall:42"] = "Forbidden: bot was blocked by the user"
    clock.advance(90)
    status = await daemon.commands.handle(OWNER, "/status")
    assert status.headline == "Status: 1 alert firing"
    assert status.details[2].startswith("  prod: ok, 1m 3")  # plus dev's retry backoff
    assert status.details[:2] == ("Accounts:", "  dev: FAILED (unavailable), 1m 30s ago")
    assert status.details[4] == "  prod low CNY: critical, since 2026-01-01 00:00:00 UTC"
    assert status.details[3] == "Alerts firing: 1"
    assert "  oncall: oncall:42: Forbidden: bot was blocked by the user" in status.details
    assert "  team: ok" in status.details


async def test_help_lists_every_command(daemon: Daemon) -> None:
    reply = await daemon.commands.handle(OWNER, "/help@BalanceBot")
    assert [line.split()[0] for line in reply.details] == [f"/{n}" for n in REGISTRY]


# --- Telegram: the real PTB Application against the fake Bot API ---------------------------


@pytest.fixture
async def telegram_front(daemon: Daemon) -> AsyncIterator[Any]:
    from balancebot.integrations.telegram.frontend import TelegramFrontEnd

    front = next(f for f in daemon.front_ends if isinstance(f, TelegramFrontEnd))
    front.start()
    await front.wait_state(FrontEndState.CONNECTED)
    try:
        yield front
    finally:
        await front.stop()


async def test_telegram_commands_round_trip(telegram_front: Any, telegram: FakeTelegram) -> None:
    assert [c["command"] for c in telegram.commands] == list(REGISTRY)
    await telegram.command("/balance")
    await telegram.command("/balance@BalanceBot dev", user_id=51, chat_id=51)
    await telegram.command("/balance@SomeOtherBot")
    await telegram.command("/balance", user_id=666, chat_id=666)
    await telegram.command("/status", user_id=666, chat_id=666)
    sent = await telegram.wait_sent(3)
    by_chat = {m["chat_id"]: [] for m in sent}
    for m in sent:
        by_chat[m["chat_id"]].append(m["text"])
    assert "CNY: 110.00" in by_chat["42"][0] and len(by_chat["42"]) == 1
    assert "USD: 5.00" in by_chat["51"][0]
    assert by_chat["666"] == [f"⛔ <b>{REFUSAL}</b>"]  # once; the second is dropped
    assert all(m["parse_mode"] == "HTML" for m in sent)


@pytest.mark.slow
async def test_telegram_polling_survives_network_errors(
    telegram_front: Any, telegram: FakeTelegram
) -> None:
    telegram.poll_failures.extend([TelegramFault(502, "Bad Gateway")] * 2)
    await telegram.command("/help")
    sent = await telegram.wait_sent(1)
    assert sent[0]["text"].startswith("📖 <b>Commands</b>")
    assert telegram.calls.count("getUpdates") >= 3


async def test_telegram_mute_through_chat(
    telegram_front: Any,
    telegram: FakeTelegram,
    daemon: Daemon,
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    slack: FakeSlack,
) -> None:
    slack.clock = clock  # its per-channel rate limit on our time
    await telegram.command("/mute 2h prod")
    sent = await telegram.wait_sent(1)
    assert "Muted prod for 2h 00m" in sent[0]["text"]
    simulator.add_account(f"{API_KEY}-prod", {"CNY": ("0.00", "5.00")})
    await daemon.pipeline.check("prod")
    assert await daemon.dispatcher.deliver_due() == 0
    await telegram.command("/unmute prod")
    await telegram.wait_sent(2)
    assert await daemon.dispatcher.deliver_due() == 2  # what the mute held back, at once
    assert "CRITICAL: prod" in (await telegram.wait_sent(3))[2]["text"]
    clock.advance(3600)
    await daemon.pipeline.check("prod")  # the repeat is no longer muted
    assert await daemon.dispatcher.deliver_due() == 2
    assert "CRITICAL (still): prod" in (await telegram.wait_sent(4))[3]["text"]


# --- Slack over Socket Mode: the real SocketModeClient against the fake ------------------


@pytest.fixture
async def socket_front(daemon: Daemon, slack: FakeSlack) -> AsyncIterator[Any]:
    front = next(f for f in daemon.front_ends if isinstance(f, slack_front.SlackSocketFrontEnd))
    front.start()
    await front.wait_state(FrontEndState.CONNECTED)
    await slack.wait_connections(1)
    try:
        yield front
    finally:
        await front.stop()


async def test_slack_socket_mode_commands(socket_front: Any, slack: FakeSlack) -> None:
    allowed = await slack.ack_for(await slack.slash_command("/balance", "prod"))
    assert allowed is not None and allowed["response_type"] == "ephemeral"
    assert "CNY: 110.00" in allowed["blocks"][1]["text"]["text"]
    refused = await slack.ack_for(await slack.slash_command("/balance", channel_id="C9"))
    assert refused is not None and refused["text"] == f"⛔ {REFUSAL}"
    assert "110" not in str(refused)


async def test_slack_socket_mode_survives_disconnect(socket_front: Any, slack: FakeSlack) -> None:
    await slack.send_disconnect()
    await slack.wait_connections(2)
    reply = await slack.ack_for(await slack.slash_command("/help"))
    assert reply is not None and reply["text"].startswith("📖 Commands")


async def test_slow_answers_go_to_response_url(
    socket_front: Any,
    slack: FakeSlack,
    simulator: DeepSeekSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(slack_front, "ACK_BUDGET", 0.05)
    simulator.fail_next(Fault(keepalive_lines=3, line_interval=0.2))  # a slow upstream
    envelope = await slack.slash_command("/balance", "prod")
    assert await slack.ack_for(envelope) is None  # acknowledged empty, in time
    await slack.wait_responses(1)
    assert slack.responses[0]["id"] == envelope
    assert "CNY: 110.00" in slack.responses[0]["text"] + str(slack.responses[0]["blocks"])


# --- Slack over HTTP: signature checks -----------------------------------------------------


def signed(body: bytes, timestamp: int, secret: str = SIGNING_SECRET) -> dict[str, str]:
    base = f"v0:{timestamp}:".encode() + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


@pytest.fixture
async def http_daemon(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    telegram: FakeTelegram,
    slack: FakeSlack,
    clock: FakeClock,
) -> AsyncIterator[tuple[Daemon, str]]:
    """A daemon answering Slack over HTTP, and its server's base URL."""
    config = chat_config(
        make_config,
        simulator,
        telegram,
        slack,
        {"mode": "http", "signing_secret": SIGNING_SECRET},
        http={"enabled": True, "listen": "127.0.0.1:0"},
    )
    simulator.add_account(f"{API_KEY}-prod", {"CNY": ("0.00", "110.00")})
    async with Daemon.open(config, clock) as d:
        front = next(f for f in d.front_ends if isinstance(f, SlackHttpFrontEnd))
        assert d.server is not None
        front.start()
        url = await d.server.serve()
        try:
            yield d, url
        finally:
            await d.server.stop()
            await front.stop()


@pytest.fixture
def http_front(http_daemon: tuple[Daemon, str]) -> str:
    return f"{http_daemon[1]}{SlackHttpFrontEnd.PATH}"


BODY = urlencode(
    {
        "command": "/balance",
        "text": "prod",
        "user_id": "U1",
        "channel_id": "C1",
        "user_name": "a",
        "team_id": "T1",
        "response_url": "http://127.0.0.1:9/never",
    }
).encode()


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ("valid", 200),
        ("wrong-signature", 401),
        ("wrong-secret", 401),
        ("missing", 401),
        ("six-minutes-old", 401),
    ],
)
async def test_slack_http_signatures(
    http_front: str, clock: FakeClock, headers: str, status: int
) -> None:
    now = int(clock.now().timestamp())
    chosen = {
        "valid": signed(BODY, now),
        "wrong-signature": {**signed(BODY, now), "X-Slack-Signature": "v0=" + "0" * 64},
        "wrong-secret": signed(BODY, now, "not-the-secret"),
        "missing": {"Content-Type": "application/x-www-form-urlencoded"},
        "six-minutes-old": signed(BODY, now - 360),
    }[headers]
    async with (
        aiohttp.ClientSession() as session,
        session.post(http_front, data=BODY, headers=chosen) as response,
    ):
        assert response.status == status
        if status == 200:
            payload = await response.json()
            assert "CNY: 110.00" in payload["blocks"][1]["text"]["text"]
        else:
            assert "110" not in await response.text()


async def test_slack_http_rejects_replays(http_front: str, clock: FakeClock) -> None:
    headers = signed(BODY, int(clock.now().timestamp()))
    async with aiohttp.ClientSession() as session:
        for expected in (200, 401, 401):
            async with session.post(http_front, data=BODY, headers=headers) as response:
                assert response.status == expected
        clock.advance(1)
        fresh = signed(BODY, int(clock.now().timestamp()))
        async with session.post(http_front, data=BODY, headers=fresh) as response:
            assert response.status == 200


@pytest.mark.parametrize(
    ("chat", "problem"),
    [
        (
            {"slack": {"notifier": "console"}},
            "chat.slack: socket mode needs app_token (an xapp- app-level token)",
        ),
        (
            {"slack": {"notifier": "console", "mode": "http"}},
            "chat.slack: http mode needs signing_secret",
        ),
        (
            {"telegram": {"notifier": "console"}},
            "chat.telegram.notifier: no telegram notifier named 'console' "
            "(telegram notifiers configured: none)",
        ),
        (
            {"allow": [{"platform": "telegram", "chats": [1], "accounts": ["nope"]}]},
            "chat.allow[0].accounts: no account named 'nope' (configured: 'prod')",
        ),
        ({"allow": [{"platform": "slack"}]}, "chat.allow[0]: list chats, users or both"),
    ],
)
def test_chat_config_is_checked(
    make_config: Callable[..., Config], chat: dict[str, Any], problem: str
) -> None:
    from balancebot.errors import ConfigError

    with pytest.raises(ConfigError) as raised:
        make_config(chat=chat)
    assert problem in raised.value.problems
