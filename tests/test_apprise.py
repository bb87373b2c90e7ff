"""The apprise notifier: the real apprise client over real HTTP to a loopback receiver that
plays a generic JSON/form endpoint, Gotify and ntfy, through the daemon's dispatcher."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from balancebot.config import Config
from balancebot.configure import config_secrets
from balancebot.daemon import Daemon
from balancebot.errors import ConfigError, DeliveryError
from balancebot.integrations.apprise.notifier import AppriseNotifier, notify_type
from balancebot.models import Severity, TransitionKind
from balancebot.redact import install
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.processes import spawn
from balancebot.testing.receiver import Fault, Receiver

from .channels import alert, daemon_with, shown
from .test_notifiers import notification

GOTIFY_TOKEN = "AbCdEfGh12345678"
API_CONFIG_KEY = "cfgKey20261125secret"  # apprise API v1 puts it in the path it logs
NTFY_PASSWORD = "ntfy-pass-5678"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as server:
        server.gotify_tokens.add(GOTIFY_TOKEN)
        server.ntfy_users["alice"] = NTFY_PASSWORD
        yield server


def urls(receiver: Receiver) -> list[str]:
    host = receiver.host
    return [
        f"json://{host}/hook/json",
        f"form://{host}/hook/form",
        f"gotify://{host}/{GOTIFY_TOKEN}",
        f"ntfy://alice:{NTFY_PASSWORD}@{host}/balance-alerts",
        f"apprise://{host}/{API_CONFIG_KEY}?version=1",
    ]


@pytest.fixture
async def daemon(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    receiver: Receiver,
) -> AsyncIterator[Daemon]:
    notifier = {"name": "team", "type": "apprise", "urls": urls(receiver)}
    async with daemon_with(make_config, simulator, clock, notifier) as opened:
        yield opened


HEADLINE = "CRITICAL: prod DeepSeek balance 8.00 CNY < 10.00"


async def test_each_url_gets_title_and_body_in_its_own_protocol(
    daemon: Daemon, simulator: DeepSeekSimulator, clock: FakeClock, receiver: Receiver
) -> None:
    assert await alert(daemon, simulator, clock, "8.00") == 5  # one each: apprise spaces
    # further sends to one ntfy or form URL by 5.5 s of real time (its own throttle)
    sent: dict[str, Any] = receiver.on("hook/json")[0].json()
    assert sent["title"] == f"🔴 {HEADLINE}" and sent["type"] == "failure"
    assert "8.00" in sent["message"]
    form = receiver.on("hook/form")[0]
    assert form.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert b"title=" in form.body and b"message=" in form.body
    (gotify,) = receiver.on("gotify")
    assert gotify.json()["title"] == f"🔴 {HEADLINE}" and "8.00" in gotify.json()["message"]
    assert receiver.on("gotify")[0].headers["X-Gotify-Key"] == GOTIFY_TOKEN
    ntfy = receiver.on("ntfy")[0]
    assert ntfy.json()["topic"] == "balance-alerts" and ntfy.json()["title"] == f"🔴 {HEADLINE}"
    expected = base64.b64encode(f"alice:{NTFY_PASSWORD}".encode()).decode()
    assert ntfy.headers["Authorization"] == f"Basic {expected}"
    assert len(receiver.on("ntfy")) == 1 and len(receiver.on("gotify")) == 1
    assert b"title=" in receiver.on(f"apprise-api/{API_CONFIG_KEY}")[0].body


def test_notification_kinds_map_to_apprise_types() -> None:
    firing = notification("prod")
    assert notify_type(firing) == "failure"
    assert notify_type(dataclasses.replace(firing, severity=Severity.WARNING)) == "warning"
    assert notify_type(dataclasses.replace(firing, severity=Severity.INFO)) == "info"
    resolved = dataclasses.replace(firing, kind=TransitionKind.RESOLVED)
    assert notify_type(resolved) == "success"


async def test_a_failed_send_is_retried_through_the_outbox_once(
    daemon: Daemon,
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver.faults.append(Fault(503))  # the first target, json://
    assert await alert(daemon, simulator, clock, "8.00") == 4
    assert "(attempt 1), retrying in" in caplog.text and "error=503" in caplog.text
    clock.advance(5)
    assert await daemon.dispatcher.deliver_due() == 1
    clock.advance(3600)
    assert await daemon.dispatcher.deliver_due() == 0
    assert len(receiver.on("hook/json")) == 1 and daemon.dispatcher.problems == {}


@pytest.mark.parametrize(
    ("url", "permanent", "said"),
    [
        ("gotify://{host}/WrongToken9999", True, "error=401"),
        ("ntfy://alice:wrong-password@{host}/t", True, "error=40101"),
        ("json://127.0.0.1:9/down", False, "Connection error"),
    ],
)
async def test_failures_say_whether_to_retry(
    receiver: Receiver,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    url: str,
    permanent: bool,
    said: str,
) -> None:
    caplog.set_level(logging.ERROR)  # `--log-level error`: apprise's warnings still heard
    options = AppriseNotifier.Options(urls=[_secret(url.format(host=receiver.host))])
    notifier = AppriseNotifier("team", options, clock)
    with pytest.raises(DeliveryError) as caught:
        await notifier.send(notification("prod"), notifier.targets()[0])
    assert caught.value.permanent is permanent and said in caught.value.message
    assert "WrongToken9999" not in caught.value.message and "wrong-password" not in str(
        caught.value.message
    )


def _secret(value: str) -> Any:
    from balancebot.config import Secret

    return Secret(value)


async def test_a_receiver_that_never_answers_times_out(clock: FakeClock) -> None:
    release = asyncio.Event()
    app = web.Application()

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(text="late")

    app.router.add_post("/slow", hang)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        options = AppriseNotifier.Options(
            urls=[_secret(f"json://127.0.0.1:{port}/slow")], timeout=_seconds(0.3)
        )
        notifier = AppriseNotifier("team", options, clock)
        with pytest.raises(DeliveryError) as caught:
            await notifier.send(notification("prod"), notifier.targets()[0])
        assert not caught.value.permanent and "no answer within 0.3 s" in caught.value.message
    finally:
        release.set()
        await runner.cleanup()


def _seconds(value: float) -> Any:
    from balancebot.config import Duration

    return Duration(seconds=value)


def test_unparseable_urls_are_config_errors_without_the_url(
    make_config: Callable[..., Config], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for url in (
        "nosuchservice://secret-token-4242/x",
        "gotify://example.com/",
        "secret-token-4242",  # no scheme: nothing of it is quoted
    ):
        with pytest.raises(ConfigError) as caught:
            make_config(notifiers=[{"name": "a", "type": "apprise", "urls": [url]}])
        assert "notifiers[0]" in str(caught.value) and "urls[0]" in str(caught.value)
        assert url not in str(caught.value) and "secret-token-4242" not in str(caught.value)
    assert "secret-token-4242" not in caplog.text


def test_missing_extra_is_a_clear_config_error(
    make_config: Callable[..., Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "apprise", None)  # as if `balancebot[apprise]` were absent
    with pytest.raises(ConfigError) as caught:
        make_config(notifiers=[{"name": "a", "type": "apprise", "urls": ["json://x/"]}])
    assert "pip install 'balancebot[apprise]'" in str(caught.value)


async def test_tokens_stay_out_of_logs_targets_and_status(
    daemon: Daemon,
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    receiver: Receiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    install(config_secrets(daemon.config))
    receiver.gotify_tokens.clear()  # every gotify send now fails, naming the reason
    caplog.set_level(logging.DEBUG)
    await alert(daemon, simulator, clock, "8.00")
    visible = shown(daemon, "team")
    assert "gotify" in visible and "error=401" in visible
    assert "Apprise API POST URL" in caplog.text  # apprise's own debug lines, redacted
    for text in (caplog.text, visible):
        for secret in (GOTIFY_TOKEN, NTFY_PASSWORD, API_CONFIG_KEY):
            assert secret not in text


async def test_notify_test_reaches_webhook_and_apprise_targets(
    tmp_path: Path, receiver: Receiver
) -> None:
    """Both plugins through the installed entry points, in a real `balancebot` process."""
    path = tmp_path / "config.toml"
    path.write_text(f"""
accounts = [{{ name = "prod", api_key = "sk-x" }}]

[[notifiers]]
name = "hooks"
type = "webhook"
urls = ["{receiver.url}/hook/signed"]
secret = "${{WEBHOOK_SECRET}}"

[[notifiers]]
name = "team"
type = "apprise"
urls = ["gotify://{receiver.host}/${{GOTIFY_TOKEN}}", "gotify://{receiver.host}/WrongToken9999"]
""")
    env = {"WEBHOOK_SECRET": "whsec-0123456789abcdef", "GOTIFY_TOKEN": GOTIFY_TOKEN}
    process = await spawn("notify-test", "-c", str(path), env=env)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    lines = out.decode().splitlines()
    assert process.returncode == 1, err.decode()
    assert lines[:2] == [
        f"ok      hooks → {receiver.url}/…: delivered",
        f"ok      team → gotify://{receiver.host}/A...8/: delivered",
    ]
    assert lines[2].startswith(f"FAILED  team → gotify://{receiver.host}/W...9/: apprise")
    assert lines[2].endswith("error=401. (permanent)")
    assert receiver.on("hook/signed")[0].json()["rule"] == "notify-test"
    for secret in (GOTIFY_TOKEN, "WrongToken9999", env["WEBHOOK_SECRET"]):
        assert secret not in (out + err).decode()
