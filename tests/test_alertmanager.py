"""The alertmanager notifier against a real Prometheus Alertmanager on a loopback port, through
the real daemon, dispatcher and outbox: an alert appears in Alertmanager's `/api/v2/alerts`,
is posted again while it fires, survives a restart of balancebot, resolves, and
Alertmanager's own webhook receiver (a loopback receiver) gets it firing and resolved."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from balancebot.config import Config
from balancebot.configure import config_secrets
from balancebot.daemon import Daemon
from balancebot.errors import ConfigError, DeliveryError
from balancebot.httpserver import LoopbackServer
from balancebot.integrations.alertmanager.notifier import AlertmanagerNotifier
from balancebot.redact import install
from balancebot.reload import reload_config
from balancebot.testing.alertmanager import binary, running_alertmanager
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.receiver import Receiver

from .channels import LOW_RULE, alert, daemon_with, notification, one_account, shown
from .conftest import API_KEY

TOKEN = "am-bearer-5f4e3d2c1b0a"
LABELS = {
    "alertname": "low",
    "account": "prod",
    "provider": "deepseek",
    "severity": "critical",
    "currency": "CNY",
}


@pytest.fixture
def now_clock() -> FakeClock:
    """Fake time half an hour behind real time: Alertmanager compares `endsAt` with its own
    clock, so a resolved alert's end (fake now) must be past for it, and a firing one's
    (fake now + 4 resend intervals of an hour) ahead, however far a test moves fake time."""
    return FakeClock(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30))


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as server:
        yield server


@pytest.fixture
async def alertmanager(tmp_path: Path, receiver: Receiver) -> AsyncIterator[str]:
    if binary() is None:
        problem = "prometheus-alertmanager is not installed (.ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    async with running_alertmanager(tmp_path / "am", f"{receiver.url}/hook/am") as url:
        yield url


def options(url: str, **more: Any) -> dict[str, Any]:
    return {"name": "am", "type": "alertmanager", "urls": [url], "resend_interval": "1h", **more}


async def held(url: str) -> list[dict[str, Any]]:
    """Alertmanager's active alerts."""
    async with httpx.AsyncClient() as http:
        answer = await http.get(f"{url}/api/v2/alerts")
    answer.raise_for_status()
    found: list[dict[str, Any]] = answer.json()
    return found


async def webhooks(receiver: Receiver, status: str, within: float = 20) -> dict[str, Any]:
    """The first webhook Alertmanager sent with `status`, waiting for it with a deadline."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for request in receiver.on("hook/am"):
            body: dict[str, Any] = request.json()
            if body["status"] == status:
                return body
        receiver.delivered.clear()
        try:
            await asyncio.wait_for(receiver.delivered.wait(), deadline - time.monotonic())
        except TimeoutError:
            break
    raise AssertionError(f"no {status} webhook from Alertmanager within {within} s")


async def test_fires_reposts_and_resolves_through_alertmanager(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    now_clock: FakeClock,
    alertmanager: str,
    receiver: Receiver,
) -> None:
    notifier = options(alertmanager, runbook_url="https://runbooks.example/{alertname}")
    async with daemon_with(make_config, simulator, now_clock, notifier) as daemon:
        assert await alert(daemon, simulator, now_clock, "8.00") == 1
        [firing] = await held(alertmanager)
        assert firing["labels"] == LABELS
        assert firing["annotations"]["summary"] == (
            "CRITICAL: prod DeepSeek balance 8.00 CNY < 10.00"
        )
        assert firing["annotations"]["runbook_url"] == "https://runbooks.example/low"
        assert firing["generatorURL"] == "balancebot://am"
        assert firing["status"]["state"] == "active"
        first_end = datetime.fromisoformat(firing["endsAt"])
        assert (first_end - now_clock.now()).total_seconds() == 4 * 3600  # 4 resend intervals

        body = await webhooks(receiver, "firing")
        assert body["version"] == "4" and body["receiver"] == "hook"
        assert body["groupLabels"] == {"alertname": "low", "account": "prod"}
        assert body["alerts"][0]["labels"] == LABELS
        assert body["alerts"][0]["fingerprint"] == firing["fingerprint"]

        # while it fires, each round posts it again with a later end
        now_clock.advance(60)
        await daemon.notifiers["am"].resend()  # type: ignore[attr-defined]
        [again] = await held(alertmanager)
        assert (datetime.fromisoformat(again["endsAt"]) - first_end).total_seconds() == 60

        assert await alert(daemon, simulator, now_clock, "50.00") == 1
        assert await held(alertmanager) == []
        resolved = await webhooks(receiver, "resolved")
        assert resolved["alerts"][0]["labels"] == LABELS
        assert resolved["alerts"][0]["status"] == "resolved"

        # resolved in the engine: nothing is posted again
        now_clock.advance(60)
        await daemon.notifiers["am"].resend()  # type: ignore[attr-defined]
        assert await held(alertmanager) == []


async def test_the_webhook_speaks_alertmanagers_payload(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    now_clock: FakeClock,
    alertmanager: str,
    receiver: Receiver,
) -> None:
    """What a receiver gets from `format = "alertmanager"` has the shape of what the real
    Alertmanager sent it for the same alert: the same keys, types and alert fields."""
    webhook = {
        "name": "hook",
        "type": "webhook",
        "format": "alertmanager",
        "urls": [f"{receiver.url}/hook/ours"],
        "secret": "whsec-0123456789abcdef",
    }
    config = make_config(
        accounts=[{"name": "prod", "api_key": API_KEY, "base_url": simulator.base_url}],
        rules=[LOW_RULE],
        notifiers=[options(alertmanager), webhook],
    )
    async with Daemon.open(config, now_clock) as daemon:
        for total, status in (("8.00", "firing"), ("50.00", "resolved")):
            assert await alert(daemon, simulator, now_clock, total) == 2
            real = await webhooks(receiver, status)
            [ours] = [r.json() for r in receiver.on("hook/ours") if r.json()["status"] == status]
            assert shape(ours) == shape(real)
            assert ours["version"] == "4" and ours["truncatedAlerts"] == 0
            assert ours["receiver"] == "hook" and ours["externalURL"] == ""
            for key in ("groupLabels", "commonLabels", "commonAnnotations"):
                assert ours[key] == real[key], key
            assert ours["groupKey"] == '{}/balancebot:{account="prod", alertname="low"}'
            [mine], [theirs] = ours["alerts"], real["alerts"]
            for key in ("status", "labels", "annotations", "fingerprint", "startsAt"):
                assert mine[key] == theirs[key], key
            if status == "resolved":
                assert mine["endsAt"] == theirs["endsAt"]
            else:
                assert mine["endsAt"] == "0001-01-01T00:00:00Z"


def shape(value: Any) -> Any:
    """The keys and types of a JSON value, its values left out."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


async def test_an_escalation_resolves_the_warning(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    now_clock: FakeClock,
    alertmanager: str,
) -> None:
    async with daemon_with(make_config, simulator, now_clock, options(alertmanager)) as daemon:
        assert await alert(daemon, simulator, now_clock, "15.00") == 1
        assert [a["labels"]["severity"] for a in await held(alertmanager)] == ["warning"]
        assert await alert(daemon, simulator, now_clock, "5.00") == 1
        assert [a["labels"]["severity"] for a in await held(alertmanager)] == ["critical"]


async def test_a_restart_keeps_posting_what_fires(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    now_clock: FakeClock,
    alertmanager: str,
) -> None:
    notifier = options(alertmanager)
    async with daemon_with(make_config, simulator, now_clock, notifier) as daemon:
        assert await alert(daemon, simulator, now_clock, "8.00") == 1
        [before] = await held(alertmanager)
    now_clock.advance(60)
    async with daemon_with(make_config, simulator, now_clock, notifier) as daemon:
        await daemon.notifiers["am"].resend()  # the first round reads back what it holds
        [after] = await held(alertmanager)
        assert after["fingerprint"] == before["fingerprint"]
        shift = datetime.fromisoformat(after["endsAt"]) - datetime.fromisoformat(before["endsAt"])
        assert shift.total_seconds() == 60
        assert await alert(daemon, simulator, now_clock, "50.00") == 1
        assert await held(alertmanager) == []


async def test_an_alert_the_engine_no_longer_has_is_not_posted_again(
    now_clock: FakeClock, alertmanager: str
) -> None:
    notifier = AlertmanagerNotifier.from_options(
        "am", {"urls": [alertmanager], "resend_interval": "1h"}, now_clock
    )
    notifier.watch(lambda: set())
    await notifier.start()
    try:
        await notifier.send(notification(now_clock.now()), alertmanager)
        [posted] = await held(alertmanager)
        now_clock.advance(60)
        await notifier.resend()
        [still] = await held(alertmanager)
        assert still["endsAt"] == posted["endsAt"]  # left to expire
    finally:
        await notifier.close()


async def test_a_notifier_added_by_a_reload_reposts_only_what_fires(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    now_clock: FakeClock,
    alertmanager: str,
) -> None:
    """SIGHUP's reload starts new notifiers: they read the engine's firing alerts too."""
    console = {"name": "console", "type": "console"}
    async with daemon_with(make_config, simulator, now_clock, console) as daemon:
        config = one_account(make_config, simulator, options(alertmanager))
        assert await reload_config(daemon, lambda: config)
        notifier = daemon.notifiers["am"]
        await notifier.send(notification(now_clock.now()), alertmanager)  # not in the engine
        [posted] = await held(alertmanager)
        now_clock.advance(60)
        await notifier.resend()  # type: ignore[attr-defined]
        [still] = await held(alertmanager)
        assert still["endsAt"] == posted["endsAt"]


class FaultyAlertmanager(LoopbackServer):
    """Answers each post with the next of `answers` (status, headers, body)."""

    def __init__(self, answers: list[tuple[int, dict[str, str], str]]) -> None:
        super().__init__()
        self.answers = answers
        self.requests: list[web.Request] = []
        self.app.router.add_route("*", "/api/v2/alerts", self._alerts)

    async def _alerts(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        if request.method == "GET":
            return web.json_response([])
        status, headers, body = self.answers.pop(0)
        return web.Response(status=status, headers=headers, text=body)


@pytest.mark.parametrize(
    ("answer", "permanent", "retry_after", "said"),
    [
        ((429, {"Retry-After": "7"}, ""), False, 7.0, "HTTP 429"),
        ((503, {}, "overloaded"), False, None, "HTTP 503"),
        ((400, {}, '"at least one label pair required"'), True, None, "label pair required"),
        ((401, {}, "Unauthorized"), True, None, "HTTP 401"),
        ((302, {"Location": "http://elsewhere.example/x"}, ""), True, None, "not followed"),
    ],
)
async def test_answers_are_retried_or_not(
    now_clock: FakeClock,
    answer: tuple[int, dict[str, str], str],
    permanent: bool,
    retry_after: float | None,
    said: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with FaultyAlertmanager([answer]) as fake:
        notifier = AlertmanagerNotifier.from_options(
            "am", {"urls": [fake.url], "bearer_token": TOKEN}, now_clock
        )
        install(notifier.secrets(notifier.options))
        caplog.set_level(logging.DEBUG)
        await notifier.start()
        try:
            with pytest.raises(DeliveryError) as raised:
                await notifier.send(notification(now_clock.now()), fake.url)
        finally:
            await notifier.close()
    error = raised.value
    assert error.permanent is permanent and error.retry_after == retry_after
    assert said in error.message and "\n" not in error.message
    posts = [r for r in fake.requests if r.method == "POST"]
    assert posts[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in error.message + caplog.text + notifier.describe()


async def test_unreachable_alertmanager_is_transient_and_said_once(
    now_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = AlertmanagerNotifier.from_options(
        "am", {"urls": ["http://127.0.0.1:9"], "resend_interval": "1h"}, now_clock
    )
    with pytest.raises(DeliveryError) as raised:
        await notifier.send(notification(now_clock.now()), "http://127.0.0.1:9")
    assert not raised.value.permanent and "ConnectError" in raised.value.message
    for _ in range(3):
        await notifier.resend()
    await notifier.close()
    lines = [r.getMessage() for r in caplog.records if "cannot post" in r.getMessage()]
    assert lines == [
        "am: cannot post firing alerts again: alertmanager http://127.0.0.1:9: ConnectError;"
        " trying every 1:00:00"
    ]


@pytest.mark.parametrize(
    ("more", "problem"),
    [
        ({"urls": []}, "urls"),
        ({"urls": ["ftp://am:9093"]}, "is not an http(s) URL"),
        ({"urls": ["http://u:p@am:9093"]}, "set basic_auth_username and basic_auth_password"),
        ({"basic_auth_username": "u"}, "go together"),
        (
            {"basic_auth_username": "u", "basic_auth_password": "p", "bearer_token": "t"},
            "not both",
        ),
        ({"runbook_url": "https://x/{alertname"}, "write {label}"),
        ({"resend_interval": "0s"}, "resend_interval"),
        ({"repeat": 3}, "repeat"),
    ],
)
def test_bad_options_are_config_errors(
    make_config: Callable[..., Config], more: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_config(notifiers=[{**options("http://am:9093"), **more}])
    assert problem in str(caught.value) and "notifiers[0]" in str(caught.value)


async def test_basic_auth_stays_out_of_what_is_shown(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    now_clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    password = "am-password-0a1b2c3d"
    notifier = options(
        "http://127.0.0.1:9", basic_auth_username="balancebot", basic_auth_password=password
    )
    caplog.set_level(logging.DEBUG)
    async with daemon_with(make_config, simulator, now_clock, notifier) as daemon:
        install(config_secrets(daemon.config))
        await alert(daemon, simulator, now_clock, "8.00")
        visible = shown(daemon, "am")
        assert "am:http://127.0.0.1:9" in caplog.text and "ConnectError" in caplog.text
        assert password not in visible + caplog.text
