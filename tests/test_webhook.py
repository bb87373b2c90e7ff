"""The webhook notifier against a loopback receiver, through the real daemon, dispatcher and
outbox on fake time; signatures are checked by an implementation written from the docs."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from balancebot.config import Config
from balancebot.configure import config_secrets
from balancebot.daemon import Daemon
from balancebot.errors import ConfigError
from balancebot.redact import install
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.receiver import Fault, Receiver

from .channels import alert, daemon_with, shown

SECRET = "whsec-0123456789abcdef-test"
TOKEN = "tok-9f8e7d6c5b4a"  # a token in a webhook URL is a secret too


def verify(secret: str, header: str, body: bytes, now: float, tolerance: float = 300) -> bool:
    """What a receiver does (docs/webhook.md), written without balancebot's code."""
    fields = dict(part.split("=", 1) for part in header.split(","))
    timestamp = int(fields["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), fields["v1"]) and (
        abs(now - timestamp) <= tolerance
    )


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as server:
        yield server


@pytest.fixture
async def daemon(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    receiver: Receiver,
) -> AsyncIterator[Daemon]:
    notifier = {
        "name": "hooks",
        "type": "webhook",
        "urls": [f"HTTP://{receiver.host}/hook/a?token={TOKEN}", f"{receiver.url}/hook/b"],
        "secret": SECRET,
    }
    async with daemon_with(make_config, simulator, clock, notifier) as opened:
        yield opened


async def test_signed_payload_reaches_every_url(
    daemon: Daemon, simulator: DeepSeekSimulator, clock: FakeClock, receiver: Receiver
) -> None:
    assert await alert(daemon, simulator, clock, "8.00") == 2
    assert await alert(daemon, simulator, clock, "50.00") == 2
    for route in ("hook/a", "hook/b"):
        got = receiver.on(route)
        bodies: list[dict[str, Any]] = [r.json() for r in got]
        assert [(b["version"], b["kind"], b["severity"]) for b in bodies] == [
            (1, "firing", "critical"),
            (1, "resolved", "critical"),
        ]
        first = bodies[0]
        assert first["account"] == "prod" and first["rule"] == "low" and first["subject"] == "CNY"
        assert first["headline"] == "CRITICAL: prod DeepSeek balance 8.00 CNY < 10.00"
        assert isinstance(first["details"], list)
        assert first["at"].endswith("+00:00") and first["started_at"] == first["at"]
        for request in got:
            assert request.headers["Content-Type"] == "application/json"
            assert verify(
                SECRET,
                request.headers["X-Balancebot-Signature"],
                request.body,
                clock.now().timestamp(),
            )
            assert not verify(
                "another-secret-entirely",
                request.headers["X-Balancebot-Signature"],
                request.body,
                clock.now().timestamp(),
            )
    tampered = receiver.on("hook/a")[0].body.replace(b"8.00", b"9.00")
    assert not verify(
        SECRET,
        receiver.on("hook/a")[0].headers["X-Balancebot-Signature"],
        tampered,
        clock.now().timestamp(),
    )
    assert receiver.on("hook/a")[0].json()["id"] == receiver.on("hook/b")[0].json()["id"]


@pytest.mark.parametrize(
    ("fault", "retried_after", "permanent"),
    [
        (Fault(429, {"Retry-After": "7"}), 7.0, False),
        (Fault(503), None, False),
        (Fault(500, body="boom"), None, False),
        (Fault(404), None, True),
        (Fault(401), None, True),
        (Fault(302, {"Location": "http://elsewhere.example/steal"}), None, True),
    ],
)
async def test_answers_are_retried_or_not(
    daemon: Daemon,
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    receiver: Receiver,
    fault: Fault,
    retried_after: float | None,
    permanent: bool,
) -> None:
    receiver.faults.append(fault)
    assert await alert(daemon, simulator, clock, "8.00") == 1  # hook/a failed, hook/b got it
    assert receiver.requests == 2
    problems = daemon.dispatcher.problems
    if permanent:
        assert list(problems) == ["hooks:http://" + receiver.host + "/…"]
        clock.advance(86400)
        assert await daemon.dispatcher.deliver_due() == 0
        assert receiver.requests == 2  # never again, and the redirect was not followed
        return
    if retried_after is not None:
        clock.advance(retried_after - 0.5)
        assert await daemon.dispatcher.deliver_due() == 0
        clock.advance(0.5)
    else:
        clock.advance(5)  # the first backoff delay is between 1 and 2 s
    assert await daemon.dispatcher.deliver_due() == 1
    clock.advance(3600)
    assert await daemon.dispatcher.deliver_due() == 0
    assert len(receiver.on("hook/a")) == 1 and len(receiver.on("hook/b")) == 1
    assert problems == {}


async def test_unreachable_receiver_is_transient(
    make_config: Callable[..., Config], clock: FakeClock
) -> None:
    config = make_config(
        notifiers=[
            {"name": "h", "type": "webhook", "urls": ["http://127.0.0.1:9/x"], "secret": SECRET}
        ]
    )
    async with Daemon.open(config, clock) as daemon:
        notifier = daemon.notifiers["h"]
        from balancebot.errors import DeliveryError

        from .test_notifiers import notification

        with pytest.raises(DeliveryError) as caught:
            await notifier.send(notification(), notifier.targets()[0])
        assert not caught.value.permanent and "ConnectError" in caught.value.message


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"urls": ["ftp://x/y"], "secret": SECRET}, "is not an http(s) URL"),
        ({"urls": [], "secret": SECRET}, "urls"),
        ({"urls": ["https://x.example/y"], "secret": "short"}, "at least 16 characters"),
        ({"urls": ["https://x.example/y"]}, "secret"),
        ({"urls": ["https://x.example/y"], "secret": SECRET, "retries": 3}, "retries"),
        ({"urls": ["https://x.example/y"], "secret": SECRET, "format": "json"}, "format"),
    ],
)
def test_bad_options_are_config_errors(
    make_config: Callable[..., Config], options: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_config(notifiers=[{"name": "h", "type": "webhook", **options}])
    assert problem in str(caught.value) and "notifiers[0]" in str(caught.value)


async def test_secret_and_url_token_stay_out_of_logs_and_status(
    daemon: Daemon,
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    install(config_secrets(daemon.config))
    receiver.faults.append(Fault(404))
    caplog.set_level(logging.DEBUG)
    await alert(daemon, simulator, clock, "8.00")
    visible = shown(daemon, "hooks")
    assert "hook/a" not in visible and "HTTP 404" in visible
    for text in (caplog.text, visible):
        assert SECRET not in text and TOKEN not in text


def test_secret_file_is_read(make_config: Callable[..., Config], tmp_path: Path) -> None:
    (tmp_path / "hook.secret").write_text(SECRET + "\n")
    (tmp_path / "hook.secret").chmod(0o600)
    config = make_config(
        notifiers=[
            {
                "name": "h",
                "type": "webhook",
                "urls": ["https://x.example/"],
                "secret_file": "hook.secret",
            }
        ]
    )
    assert SECRET in config_secrets(config)


async def test_the_alertmanager_format_sends_no_digest(
    make_config: Callable[..., Config], clock: FakeClock, receiver: Receiver
) -> None:
    """A digest is no alert: Alertmanager's receivers are not sent one."""
    from dataclasses import replace

    from balancebot.integrations.webhook.notifier import WebhookNotifier
    from balancebot.models import TransitionKind

    from .channels import notification

    options = {"urls": [f"{receiver.url}/hook/am"], "secret": SECRET, "format": "alertmanager"}
    notifier = WebhookNotifier.from_options("h", options, clock)
    await notifier.start()
    try:
        digest = replace(notification(), kind=TransitionKind.DIGEST)
        await notifier.send(digest, notifier.targets()[0])
        assert receiver.requests == 0
        await notifier.send(notification(), notifier.targets()[0])
        [sent] = receiver.on("hook/am")
        assert sent.json()["alerts"][0]["labels"]["alertname"] == "low"
        signed = sent.headers["X-Balancebot-Signature"]
        assert verify(SECRET, signed, sent.body, clock.now().timestamp())
    finally:
        await notifier.close()
