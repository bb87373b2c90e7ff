"""Issue 11 §5: Slack's HTTP mode against hostile unauthenticated requests, and a slow reply
whose client hangs up after the acknowledgement."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlencode

import pytest

from balancebot.integrations.slack import frontend as slack_front
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator, Fault
from balancebot.testing.slack import FakeSlack

from .conftest import SUMMARY
from .test_chat import BODY, http_daemon, http_front, signed, slack, telegram  # noqa: F401 - fixtures
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
