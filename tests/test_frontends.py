"""Issue 11 §1: a chat service never gates monitoring. Front-ends connect in the background,
say their state once per change, come up when their service does, and never hold up a stop."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from balancebot.clock import SystemClock
from balancebot.config import Config
from balancebot.config.values import NoOptions
from balancebot.daemon import Daemon, build_notifiers
from balancebot.frontends import FrontEndState, ReconnectBackoff
from balancebot.integrations.console.notifier import ConsoleNotifier
from balancebot.models import Notification
from balancebot.plugins import FRONTENDS, available
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.netfaults import refused_port
from balancebot.testing.slack import FakeSlack
from balancebot.testing.telegram import FakeTelegram

from .conftest import API_KEY
from .test_ops import get, samples

TG_TOKEN = "777:frontend-test-token"
SLACK_TOKEN = "xoxb-frontend-test"
APP_TOKEN = "xapp-1-frontend-test"


@pytest.fixture
def chat_ports() -> Iterator[tuple[int, int]]:
    """Telegram's and Slack's ports: connections refused until a fake starts on one."""
    with refused_port() as telegram, refused_port() as slack:
        yield telegram, slack


def chat_config(make_config: Callable[..., Config], api: str, tg: int, sl: int) -> Config:
    return make_config(
        accounts=[{"name": "prod", "api_key": API_KEY, "base_url": api, "check_interval": "1h"}],
        rules=[
            {"name": "low", "type": "threshold", "thresholds": {"CNY": {"critical_below": "10"}}}
        ],
        notifiers=[
            {"name": "console", "type": "console"},
            {
                "name": "oncall",
                "type": "telegram",
                "bot_token": TG_TOKEN,
                "chat_ids": [42],
                "base_url": f"http://127.0.0.1:{tg}/bot",
                "timeout": "2s",
            },
            {
                "name": "team",
                "type": "slack",
                "bot_token": SLACK_TOKEN,
                "channels": ["C1"],
                "base_url": f"http://127.0.0.1:{sl}/api/",
            },
        ],
        routes=[{"notifiers": ["console"]}],
        chat={
            "telegram": {"notifier": "oncall"},
            "slack": {"notifier": "team", "mode": "socket", "app_token": APP_TOKEN},
            "allow": [
                {"platform": "telegram", "users": [42]},
                {"platform": "slack", "chats": ["C1"]},
            ],
        },
        http={"enabled": True, "listen": "127.0.0.1:0"},
    )


def test_front_ends_are_entry_point_plugins() -> None:
    assert {"telegram", "slack"} <= set(available(FRONTENDS))


async def test_chat_services_down_never_gate_checks(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    caplog: pytest.LogCaptureFixture,
    chat_ports: tuple[int, int],
) -> None:
    simulator.add_account(API_KEY, {"CNY": ("0.00", "5.00")})
    tg_port, slack_port = chat_ports
    config = chat_config(make_config, simulator.base_url, tg_port, slack_port)
    console = io.StringIO()
    notifiers = build_notifiers(config, SystemClock())
    notifiers["console"] = ConsoleNotifier("console", NoOptions(), stream=console)
    alerted = asyncio.Event()

    def delivered(name: str, _: Notification) -> None:
        if name == "console":
            alerted.set()

    stop = asyncio.Event()
    caplog.set_level(logging.INFO)
    async with Daemon.open(config, notifiers=notifiers) as daemon:
        fronts = {f.name: f for f in daemon.front_ends}
        assert set(fronts) == {"telegram", "slack"}
        for front in fronts.values():
            front.backoff = ReconnectBackoff(first=0.01, cap=0.05)  # type: ignore[attr-defined]
        daemon.dispatcher.listeners.append(delivered)
        serving = asyncio.create_task(daemon.serve(stop))
        # the check runs and the alert goes out while both chat services are unreachable
        await asyncio.wait_for(alerted.wait(), 30)
        assert "CRITICAL" in console.getvalue()
        for front in fronts.values():
            await asyncio.wait_for(front.wait_state(FrontEndState.DISCONNECTED), 30)
        assert daemon.server is not None
        base = daemon.server.url
        ready_status, ready = await get(f"{base}/readyz")
        down = samples((await get(f"{base}/metrics"))[1])
        # the services come up: the front-ends connect by themselves and answer commands
        telegram_fake = FakeTelegram(TG_TOKEN)
        slack_fake = FakeSlack(SLACK_TOKEN, app_token=APP_TOKEN)
        try:
            await telegram_fake.start(port=tg_port)
            await slack_fake.start(port=slack_port)
            telegram_fake.add_chat(42)
            for front in fronts.values():
                await asyncio.wait_for(front.wait_state(FrontEndState.CONNECTED), 30)
            up = samples((await get(f"{base}/metrics"))[1])
            await telegram_fake.command("/status")
            status_reply = (await telegram_fake.wait_sent(1))[0]["text"]
            slack_reply = await slack_fake.ack_for(await slack_fake.slash_command("/help"))
            _, ready_up = await get(f"{base}/readyz")
            stop.set()
            await asyncio.wait_for(serving, 10)
        finally:
            await telegram_fake.stop()
            await slack_fake.stop()
    assert ready_status == 200  # checks succeed: a chat service down is shown, not fatal
    assert "chat telegram: connected" not in ready and "chat telegram: " in ready
    assert "chat telegram: connected\n" in ready_up and "chat slack: connected\n" in ready_up
    for name in ("telegram", "slack"):
        assert down[("balancebot_frontend_up", (("frontend", name),))] == 0
        assert up[("balancebot_frontend_up", (("frontend", name),))] == 1
    assert "telegram: connected" in status_reply and "slack: connected" in status_reply
    assert slack_reply is not None and slack_reply["text"].startswith("📖 Commands")
    assert_one_line_per_state(caplog.records)


def assert_one_line_per_state(records: list[logging.LogRecord]) -> None:
    """No traceback from the chat libraries, and no repeated state line while retrying."""
    assert not [r for r in records if r.exc_info and r.levelno >= logging.WARNING]
    for name in ("telegram", "slack"):
        lines = [r.getMessage() for r in records if r.getMessage().startswith(f"{name} commands:")]
        assert lines[-1] == f"{name} commands: stopped"
        # connecting, disconnected (why), connected, stopped: not a line per attempt
        assert lines[0] == f"{name} commands: connecting"
        assert lines[1].startswith(f"{name} commands: disconnected (")
        assert lines[2:] == [f"{name} commands: connected", f"{name} commands: stopped"], lines


async def test_a_lost_socket_is_reconnected_under_our_backoff(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator, chat_ports: tuple[int, int]
) -> None:
    config = chat_config(make_config, simulator.base_url, *chat_ports)
    async with FakeSlack(SLACK_TOKEN, app_token=APP_TOKEN) as fake:
        slack = config.notifiers[2].options
        options: dict[str, Any] = {**slack, "base_url": fake.api_url}
        notifiers = build_notifiers(config, SystemClock())
        notifiers["team"] = type(notifiers["team"]).from_options("team", options)
        async with Daemon.open(config, notifiers=notifiers) as daemon:
            front = next(f for f in daemon.front_ends if f.name == "slack")
            front.backoff = ReconnectBackoff(first=0.01, cap=0.05)  # type: ignore[attr-defined]
            front.watch_interval = 0.01  # type: ignore[attr-defined]
            await notifiers["team"].start()
            front.start()
            await asyncio.wait_for(front.wait_state(FrontEndState.CONNECTED), 30)
            await fake.drop_socket()  # the server goes away mid-connection
            lost = await asyncio.wait_for(front.wait_state(FrontEndState.DISCONNECTED), 30)
            await asyncio.wait_for(front.wait_state(FrontEndState.CONNECTED), 30)
            reply = await fake.ack_for(await fake.slash_command("/help"))
            await front.stop()
    assert "socket closed" in lost.detail
    assert reply is not None and fake.connections_opened >= 2
