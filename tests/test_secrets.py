"""No secret in any log record or JSON log line: the DeepSeek fault matrix and full
Telegram and Slack exchanges, at DEBUG, with every library's logging on."""

from __future__ import annotations

import io
import json
import logging
import random
from collections.abc import Iterator
from datetime import timedelta

import httpx
import msgspec
import pytest

from balancebot import redact
from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.logs import JsonFormatter
from balancebot.providers import Fetcher, fetch_result
from balancebot.providers.deepseek import DeepSeekProvider
from balancebot.retry import Backoff
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.slack import FakeSlack
from balancebot.testing.telegram import FakeTelegram

from .conftest import API_KEY, SUMMARY
from .test_chat import APP_TOKEN, SLACK_TOKEN, TG_TOKEN, slack, socket_config, telegram  # noqa: F401 - fixtures
from .test_chat import daemon as chat_daemon  # noqa: F401 - fixture
from .test_deepseek import FAILURES

SECRETS = [API_KEY, f"{API_KEY}-prod", TG_TOKEN, SLACK_TOKEN, APP_TOKEN]


class Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def captured() -> Iterator[tuple[Keep, io.StringIO]]:
    root = logging.getLogger()
    saved_level, saved_handlers = root.level, root.handlers[:]
    saved_factory = logging.getLogRecordFactory()
    keep, out = Keep(), io.StringIO()
    json_handler = logging.StreamHandler(out)
    json_handler.setFormatter(JsonFormatter())
    root.handlers[:] = [keep, json_handler]
    root.setLevel(logging.DEBUG)
    redact.install(SECRETS)
    try:
        yield keep, out
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        logging.setLogRecordFactory(saved_factory)


def leaks(keep: Keep, out: io.StringIO) -> list[str]:
    texts = [out.getvalue()]
    for record in keep.records:
        texts.append(record.getMessage())
        texts.append(repr(vars(record)))
    return [secret for secret in SECRETS for text in texts if secret in text]


@pytest.mark.slow
async def test_no_secret_in_any_log_line(
    captured: tuple[Keep, io.StringIO],
    simulator: DeepSeekSimulator,
    chat_daemon: Daemon,  # noqa: F811
    socket_config: Config,  # noqa: F811
    telegram: FakeTelegram,  # noqa: F811
    slack: FakeSlack,  # noqa: F811
) -> None:
    keep, out = captured
    account = msgspec.structs.replace(socket_config.accounts[0], timeout=timedelta(seconds=1))
    async with httpx.AsyncClient() as http:
        provider = Fetcher(DeepSeekProvider(), http, FakeClock())
        for _name, fault, _error, _says in FAILURES:
            simulator.fail_next(fault, fault)
            result = await fetch_result(
                provider, account, FakeClock(), Backoff(attempts=2), random.Random(1)
            )
            logging.getLogger("balancebot.test").warning("fault case result: %r", result)
            simulator.faults.clear()  # a permanent failure leaves its retry's fault unused

    # a full Telegram exchange: alert out, command in, reply out

    simulator.add_account(f"{API_KEY}-prod", {"CNY": ("0.00", "5.00")})
    await chat_daemon.pipeline.check("prod")
    assert await chat_daemon.dispatcher.deliver_due() == 2
    for front in chat_daemon.front_ends:
        front.start()  # connects in the background; the waits below are on the fakes
    try:
        await telegram.command("/balance")
        await telegram.wait_sent(2)
        await slack.wait_connections(1)
        await slack.ack_for(await slack.slash_command("/balance"))
        await slack.send_disconnect()
        await slack.wait_connections(2)
    finally:
        for front in chat_daemon.front_ends:
            await front.stop()

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    loggers = {line["logger"] for line in lines}
    assert {"httpx", "balancebot.delivery"} <= loggers  # the libraries did log
    assert any("/bot***/" in line["message"] for line in lines)  # URLs with the token
    leaked = leaks(keep, out)
    SUMMARY["secrets leaked"] += len(leaked)
    assert leaked == []
