"""Issue 21 §4: the secrets a json provider's options carry (a token in the URL's query, a
token header) are masked everywhere, as `api_key` is.

An upstream answers 500 and echoes the URL and every header it got. Through the real
daemon, store and Telegram notifier, at DEBUG with every library logging: no token in any
log line (httpx logs request URLs), in the store (snapshots, outbox: the whole file is
dumped), or in the alert the fake Telegram received."""

from __future__ import annotations

import base64
import io
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from balancebot import redact
from balancebot.config import Config, convert
from balancebot.configure import config_secrets
from balancebot.daemon import Daemon
from balancebot.errors import ConfigError
from balancebot.httpserver import LoopbackServer
from balancebot.logs import JsonFormatter, TextFormatter
from balancebot.providers.json import JsonOptions, JsonProvider
from balancebot.testing.clock import FakeClock
from balancebot.testing.telegram import FakeTelegram

from .conftest import API_KEY

QUERY_TOKEN = "qtok-5f1e2d3c4b5a6978"
HEADER_TOKEN = "htok-0a9b8c7d6e5f4a3b"
ESCAPED_TOKEN = "a+b/c=d%e"  # written percent-encoded in the URL: a%2Bb%2Fc%3Dd%25e
PASSWORD = "pw-7e6d5c4b3a29"
TG_TOKEN = "123456:TEST-telegram-token-abcdef"
BASIC = base64.b64encode(f"user:{PASSWORD}".encode()).decode()  # httpx sends the password so
SECRETS = [QUERY_TOKEN, HEADER_TOKEN, ESCAPED_TOKEN, "a%2Bb%2Fc%3Dd%25e", PASSWORD, BASIC, API_KEY]


class Echo(LoopbackServer):
    """An upstream that says, in its 500, exactly what it was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.app.router.add_get("/bal", self._echo)
        self.app.router.add_get("/cut", self._cut)

    async def _echo(self, request: web.Request) -> web.Response:
        said = f"bad {request.url} {request.headers['Authorization']} {dict(request.headers)}"
        return web.json_response({"error": {"message": said}}, status=500)

    async def _cut(self, request: web.Request) -> web.Response:
        """The token where the provider cuts an error message (200 characters): half of
        it is left, which no whole-secret mask finds."""
        said = "x" * 190 + request.headers["X-Api-Token"]
        return web.json_response({"error": {"message": said}}, status=500)


@pytest.fixture
async def echo() -> AsyncIterator[Echo]:
    async with Echo() as server:
        yield server


@pytest.fixture
async def telegram(clock: FakeClock) -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(TG_TOKEN, clock) as fake:
        fake.add_chat(42)
        yield fake


def options(echo: Echo, path: str = "/bal") -> dict[str, Any]:
    host = echo.url.removeprefix("http://")
    return {
        "url": f"http://user:{PASSWORD}@{host}{path}?access_token={QUERY_TOKEN}"
        "&sig=a%2Bb%2Fc%3Dd%25e&currency=USD",
        "balance": "balance",
        "currency": "USD",
        "headers": {"X-Api-Token": HEADER_TOKEN, "X-Client": "balancebot-tests"},
        "public_headers": ["x-client"],
    }


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """Every log record at DEBUG, through both formatters, as `run` sets logging up."""
    root = logging.getLogger()
    saved = root.level, root.handlers[:], logging.getLogRecordFactory()
    out = io.StringIO()
    handlers = [logging.StreamHandler(out), logging.StreamHandler(out)]
    handlers[0].setFormatter(TextFormatter())
    handlers[1].setFormatter(JsonFormatter())
    root.handlers[:] = handlers
    root.setLevel(logging.DEBUG)
    libraries = [logging.getLogger(name) for name in ("httpx", "httpcore", "telegram", "aiohttp")]
    levels = [library.level for library in libraries]
    for library in libraries:
        library.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        for library, level in zip(libraries, levels, strict=True):
            library.setLevel(level)
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
        logging.setLogRecordFactory(saved[2])


def leaked(text: str, run: int = 9) -> list[str]:
    """The secrets `text` holds whole, or `run` characters of in a row (an error message
    cut in the middle of one)."""
    return [
        secret
        for secret in SECRETS
        if any(secret[i : i + run] in text for i in range(max(1, len(secret) - run + 1)))
    ]


Check = Callable[[dict[str, Any]], Awaitable[tuple[str, str, str]]]


@pytest.fixture
def failed_once(
    telegram: FakeTelegram,
    lines: io.StringIO,
    make_config: Callable[..., Config],
    clock: FakeClock,
    tmp_path: Path,
) -> Check:
    """What the log, the store and the chat hold after one failed check of a json account
    with the options given, through the real daemon, with its alert delivered."""

    async def check(given: dict[str, Any]) -> tuple[str, str, str]:
        config = make_config(
            accounts=[{"name": "prod", "provider": "json", "api_key": API_KEY, "options": given}],
            rules=[{"name": "failing", "type": "check_failed", "after_failures": 1}],
            notifiers=[
                {"name": "tg", "type": "telegram", "bot_token": TG_TOKEN, "chat_ids": [42]}
                | {"base_url": telegram.base_url}
            ],
        )
        redact.install(config_secrets(config))  # as every command does on loading its config
        async with Daemon.open(config, clock) as daemon:
            await daemon.pipeline.check("prod")
            assert await daemon.dispatcher.deliver_due() == 1
        with sqlite3.connect(tmp_path / "state.db") as db:
            stored = "\n".join(db.iterdump())
        assert "balancebot-tests" not in config_secrets(config)  # a public header: not masked
        return lines.getvalue(), stored, str(telegram.sent)

    return check


@pytest.mark.parametrize("path", ["/bal", "/cut"])
async def test_no_json_option_secret_reaches_log_store_or_chat(
    path: str, echo: Echo, failed_once: Check
) -> None:
    logged, stored, sent = await failed_once(options(echo, path))
    assert "/bal?access_token=***&sig=***&currency=***" in logged or path == "/cut"  # httpx
    assert "server error (HTTP 500" in logged
    assert "server error (HTTP 500" in stored
    assert "HTTP 500" in sent
    assert (leaked(logged), leaked(stored), leaked(sent)) == ([], [], [])


async def test_a_decoded_piece_masked_first_leaves_no_rest_of_the_encoded_form(
    echo: Echo, failed_once: Check
) -> None:
    """`QUERYTOK-abc%2Fdef` decodes to `QUERYTOK-abc/def`: when the 12 characters both
    share were masked first, `token=***%2Fdef` was left in the alert, the store and the
    log. Which form went first followed set order (the hash seed): with eight such tokens
    the old scrub left a rest of at least one in 255 runs of 256 (`t0=QT0***`)."""
    tokens = [f"QT{n}-abcde%2Fz" for n in range(8)]
    query = "&".join(f"t{n}={token}" for n, token in enumerate(tokens))
    texts = await failed_once(options(echo) | {"url": f"{echo.url}/bal?{query}&currency=USD"})
    for text in texts:
        assert [part for part in ("QT", "abcde", "%2Fz", "2Fz") if part in text] == []
    assert all("server error (HTTP 500" in text for text in texts[:2])
    assert all("t7=***" in text for text in texts)  # the upstream's echo, masked


def test_what_the_json_provider_calls_secret() -> None:
    given = {
        "url": "https://u:pw-secret-1@example.com/b?token=tok-secret-1&x=ab%20cd&flag",
        "balance": "b",
        "currency": "USD",
        "headers": {"X-Token": "Token hdr-secret-1", "Accept-Language": "en-US"},
        "public_headers": ["ACCEPT-language"],
    }
    found = JsonProvider().secrets(convert(given, JsonOptions))
    assert {"pw-secret-1", "tok-secret-1", "Token hdr-secret-1", "hdr-secret-1"} <= found
    assert {"ab cd", "ab%20cd"} <= found  # as written and as decoded
    assert "en-US" not in found


def test_a_public_header_must_be_one_of_the_headers() -> None:
    given = {"url": "https://x.example/b", "balance": "b", "currency": "USD"}
    with pytest.raises(ConfigError, match="public_headers"):
        convert({**given, "public_headers": ["X-Nope"]}, JsonOptions)


def test_library_loggers_never_show_a_query_value() -> None:
    """Even a secret nobody registered: httpx's, PTB's, slack-sdk's... URL lines."""
    line = 'HTTP Request: GET https://u:pw@h.example/p?token=abc&x=1 "HTTP/1.1 200 OK"'
    assert redact.hide_url_secrets(line) == (
        'HTTP Request: GET https://u:***@h.example/p?token=***&x=*** "HTTP/1.1 200 OK"'
    )
