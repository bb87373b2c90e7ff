"""Issue 11 §5: Slack's HTTP mode against hostile unauthenticated requests, and a slow reply
whose client hangs up after the acknowledgement."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlencode

import pytest

from balancebot.daemon import Daemon
from balancebot.integrations.slack import frontend as slack_front
from balancebot.integrations.slack.http import SlackHttpFrontEnd
from balancebot.integrations.slack.notifier import SlackNotifier
from balancebot.testing.bigbody import BigBody, gzip_bomb
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator, Fault
from balancebot.testing.slack import FakeSlack, SlackFault

from .conftest import SUMMARY
from .test_body_caps import HUGE, IN_MEMORY, ON_THE_WIRE, peak_while
from .test_chat import (  # noqa: F401 - fixtures
    BODY,
    daemon,
    http_daemon,
    http_front,
    signed,
    slack,
    socket_config,
    telegram,
)
from .test_httpserver import exchange


def raw(path: str, headers: dict[str, str | bytes], body: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1".encode(), b"Host: x"]
    for name, value in {**headers, "Content-Length": str(len(body))}.items():
        lines.append(
            name.encode() + b": " + (value if isinstance(value, bytes) else value.encode())
        )
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


HOSTILE = {
    "timestamp abc": ({"X-Slack-Request-Timestamp": "abc"}, None, 401),
    "fractional timestamp": ({"X-Slack-Request-Timestamp": "1795635634.5"}, None, 401),
    "5,000-digit timestamp": ({"X-Slack-Request-Timestamp": "9" * 5000}, None, 401),
    "non-ASCII signature": ({"X-Slack-Signature": "v0=é".encode() + b"0" * 62}, None, 401),
    "non-UTF-8 body": ({}, b"text=\xff\xfe", 400),
    "bad Content-Encoding": ({"Content-Encoding": "gzip"}, b"\x00not gzip", 400),
}


@pytest.mark.parametrize("case", list(HOSTILE))
async def test_hostile_requests_get_a_4xx_and_one_debug_line(
    http_front: str,  # noqa: F811 - the fixture imported above
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    case: str,
) -> None:
    override, body, status = HOSTILE[case]
    body = BODY if body is None else body
    headers: dict[str, str | bytes] = {**signed(body, int(clock.now().timestamp())), **override}
    url, _, path = http_front.removeprefix("http://").partition("/")
    caplog.set_level(logging.DEBUG)
    reply = await exchange(f"http://{url}", raw(f"/{path}", headers, body))
    SUMMARY["unauthorized requests tried"] += 1
    assert reply.startswith(f"HTTP/1.1 {status}".encode()), reply[:80]
    assert b"110" not in reply
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    rejected = [
        r for r in caplog.records if "rejected" in r.getMessage() or "unreadable" in r.getMessage()
    ]
    assert len(rejected) == 1 and rejected[0].levelno == logging.DEBUG


async def test_a_slow_reply_survives_the_client_hanging_up_after_the_ack(
    http_front: str,  # noqa: F811 - the fixture imported above
    slack: FakeSlack,  # noqa: F811 - the fixture imported above
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(slack_front, "ACK_BUDGET", 0.05)
    simulator.fail_next(Fault(keepalive_lines=3, line_interval=0.2))  # a slow upstream
    body = urlencode(
        {
            "command": "/balance",
            "text": "prod",
            "user_id": "U1",
            "channel_id": "C1",
            "user_name": "a",
            "response_url": f"{slack.url}/commands/late",
        }
    ).encode()
    headers = signed(body, int(clock.now().timestamp()))
    url, _, path = http_front.removeprefix("http://").partition("/")
    host, port = url.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(raw(f"/{path}", dict(headers), body))
    ack = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    writer.close()  # as nginx does once it has the answer
    assert ack.startswith(b"HTTP/1.1 200")
    await slack.wait_responses(1)  # the reply still went to response_url
    assert "CNY: 110.00" in slack.responses[0]["text"] + str(slack.responses[0]["blocks"])


# --- the front-ends' own calls read a bounded answer (issue 21 §1) -------------------------


@pytest.mark.parametrize("shape", ["huge", "bomb"])
async def test_socket_mode_reads_a_bounded_connections_open_answer(
    daemon: Daemon,  # noqa: F811 - the fixture imported above
    clock: FakeClock,
    shape: str,
) -> None:
    """apps.connections.open went through a plain aiohttp session: all 64 MiB of an error
    page were read, and a 64 KiB gzip bomb was inflated whole."""
    known = next(f for f in daemon.front_ends if isinstance(f, slack_front.SlackSocketFrontEnd))
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    status, body = (500, {"size": HUGE}) if shape == "huge" else (200, {"body": gzip_bomb(HUGE)})
    async with BigBody(status=status, headers=headers if shape == "bomb" else {}, **body) as api:
        options = {"bot_token": "xoxb-1", "channels": ["C1"], "base_url": f"{api.url}/api/"}
        notifier = SlackNotifier.from_options("s", options, clock)
        front = slack_front.SlackSocketFrontEnd(known._commands, "xapp-1-A-1-x", notifier)

        async def connect() -> None:
            with pytest.raises(ConnectionError, match=r"^apps\.connections\.open: "):
                await front.connect()
            await front.disconnect()

        peak = await peak_while(connect)
    assert api.requests == 1
    assert api.sent < ON_THE_WIRE, f"{api.sent / 2**20:.0f} MiB read"
    assert peak < IN_MEMORY, f"{peak / 2**20:.0f} MiB allocated"


async def test_a_slow_reply_reads_a_bounded_response_url_answer(
    http_daemon: tuple[Daemon, str],  # noqa: F811 - the fixture imported above
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """HTTP mode's response_url posts read all 64 MiB of an error answer."""
    d, base = http_daemon
    monkeypatch.setattr(slack_front, "ACK_BUDGET", 0.05)
    simulator.fail_next(Fault(keepalive_lines=3, line_interval=0.2))  # a slow upstream
    async with BigBody(status=500, size=HUGE) as late:
        fields = {"command": "/balance", "text": "prod", "user_id": "U1", "channel_id": "C1"}
        body = urlencode({**fields, "user_name": "a", "response_url": f"{late.url}/l"}).encode()
        headers = signed(body, int(clock.now().timestamp()))
        url = base.removeprefix("http://")
        reply = await exchange(f"http://{url}", raw(SlackHttpFrontEnd.PATH, dict(headers), body))
        assert reply.startswith(b"HTTP/1.1 200")
        front = next(f for f in d.front_ends if isinstance(f, SlackHttpFrontEnd))
        await front.stop()  # lets the detached reply finish
    assert late.requests == 1
    assert late.sent < ON_THE_WIRE, f"{late.sent / 2**20:.0f} MiB read"
    assert "response_url answered HTTP 500" in caplog.text


@pytest.mark.parametrize("retry_after", ["0", "-1", "1e12"])
async def test_a_rate_limited_connections_open_is_asked_once(
    daemon: Daemon,  # noqa: F811 - the fixture imported above
    slack: FakeSlack,  # noqa: F811 - the fixture imported above
    clock: FakeClock,
    retry_after: str,
) -> None:
    """slack-sdk retried a rate-limited apps.connections.open by recursing: `0` made ~1,000
    calls in a third of a second and a RecursionError, `1e12` a ValueError, every attempt."""
    known = next(f for f in daemon.front_ends if isinstance(f, slack_front.SlackSocketFrontEnd))
    slack.open_fault = SlackFault("ratelimited", 429, {"Retry-After": retry_after})
    options = {"bot_token": "xoxb-1", "channels": ["C1"], "base_url": slack.api_url}
    notifier = SlackNotifier.from_options("s", options, clock)
    front = slack_front.SlackSocketFrontEnd(known._commands, slack.app_token, notifier)
    expected = r"^apps.connections.open: ratelimited \(HTTP 429\)$"
    try:
        with pytest.raises(ConnectionError, match=expected):
            await front.connect()
    finally:
        await front.disconnect()
    assert slack.opens == 1
