"""Issue 11 §1 as a real process: with Telegram and Slack refusing connections, never
answering, or going away after connecting, `balancebot run` still starts, and SIGTERM
stops it within 10 s in every state."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.netfaults import refused_port
from balancebot.testing.processes import start_daemon
from balancebot.testing.slack import FakeSlack
from balancebot.testing.telegram import FakeTelegram

from ..conftest import API_KEY, SUMMARY

TG_TOKEN = "5151:outage-token"
SLACK_TOKEN = "xoxb-outage"
APP_TOKEN = "xapp-1-outage"
STOP_WITHIN = 10.0


def write_config(path: Path, api: str, telegram: str, slack: str) -> Path:
    path.write_text(
        f"""
[store]
path = {json.dumps(str(path.parent / "state.db"))}

[[accounts]]
name = "prod"
api_key = {json.dumps(API_KEY)}
base_url = {json.dumps(api)}

[[notifiers]]
name = "oncall"
type = "telegram"
bot_token = {json.dumps(TG_TOKEN)}
chat_ids = [42]
base_url = {json.dumps(telegram + "/bot")}

[[notifiers]]
name = "team"
type = "slack"
bot_token = {json.dumps(SLACK_TOKEN)}
channels = ["C1"]
base_url = {json.dumps(slack + "/api/")}

[chat.telegram]
notifier = "oncall"

[chat.slack]
notifier = "team"
app_token = {json.dumps(APP_TOKEN)}

[[chat.allow]]
platform = "telegram"
users = [42]
"""
    )
    return path


@asynccontextmanager
async def refusing() -> AsyncIterator[str]:
    """An address where connections are refused (and stay refused: see `refused_port`)."""
    with refused_port() as port:
        yield f"http://127.0.0.1:{port}"


@asynccontextmanager
async def silent() -> AsyncIterator[str]:
    """A server that accepts connections (in its backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


async def stop_time(process: asyncio.subprocess.Process) -> float:
    started = time.perf_counter()
    process.send_signal(signal.SIGTERM)
    try:
        code = await asyncio.wait_for(process.wait(), STOP_WITHIN + 5)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert code == 0
    return time.perf_counter() - started


@pytest.mark.parametrize(
    ("service", "logged"),
    [
        (refusing, (b"telegram commands: disconnected", b"slack commands: disconnected")),
        (silent, (b"telegram commands: connecting", b"slack commands: connecting")),
    ],
    ids=["refused", "silent"],
)
async def test_sigterm_while_chat_services_are_down(
    tmp_path: Path,
    simulator: DeepSeekSimulator,
    service: Callable[[], AsyncIterator[str]],
    logged: tuple[bytes, ...],
) -> None:
    simulator.add_account(API_KEY)
    async with service() as telegram, service() as slack:  # type: ignore[attr-defined]
        config = write_config(tmp_path / "config.toml", simulator.base_url, telegram, slack)
        # it checks although no chat service is there
        process = await start_daemon(config, until=(*logged, b"check prod ok"))
        seconds = await stop_time(process)
    SUMMARY["fault cases tried"] += 1
    print(f"STOPTIME {seconds:.2f}")
    assert seconds < STOP_WITHIN


async def test_sigterm_after_the_chat_services_went_away(
    tmp_path: Path, simulator: DeepSeekSimulator
) -> None:
    simulator.add_account(API_KEY)
    telegram, slack = FakeTelegram(TG_TOKEN), FakeSlack(SLACK_TOKEN, app_token=APP_TOKEN)
    await telegram.start()
    await slack.start()
    try:
        config = write_config(tmp_path / "config.toml", simulator.base_url, telegram.url, slack.url)
        process = await start_daemon(
            config, until=(b"telegram commands: connected", b"slack commands: connected")
        )
    finally:
        await telegram.stop()
        await slack.stop()
    seconds = await stop_time(process)
    SUMMARY["fault cases tried"] += 1
    print(f"STOPTIME {seconds:.2f}")
    assert seconds < STOP_WITHIN
