"""The pagerduty notifier against a loopback Events API v2 that follows PagerDuty's
documentation (balancebot.testing.pagerduty), through the real daemon, dispatcher and
outbox on fake time, and `balancebot notify-test` as a process."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from balancebot.config import Config
from balancebot.configure import config_secrets
from balancebot.daemon import Daemon
from balancebot.errors import ConfigError, DeliveryError
from balancebot.integrations.pagerduty.notifier import PagerDutyNotifier
from balancebot.models import TransitionKind
from balancebot.redact import install
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.pagerduty import THROTTLED, PagerDutyEvents
from balancebot.testing.receiver import Fault

from .channels import alert, daemon_with, notification, notify_test, shown

ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
DEDUP = "balancebot/prod/low/CNY"


@pytest.fixture
async def pagerduty() -> AsyncIterator[PagerDutyEvents]:
    async with PagerDutyEvents() as server:
        yield server


def options(fake: PagerDutyEvents, **more: Any) -> dict[str, Any]:
    return {
        "name": "pd",
        "type": "pagerduty",
        "routing_key": ROUTING_KEY,
        "url": fake.enqueue_url,
        **more,
    }


@pytest.fixture
async def daemon(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    pagerduty: PagerDutyEvents,
) -> AsyncIterator[Daemon]:
    notifier = options(pagerduty, runbook_url="https://runbooks.example/{alertname}")
    async with daemon_with(make_config, simulator, clock, notifier) as opened:
        yield opened


async def test_an_alert_opens_escalates_and_resolves_one_pagerduty_alert(
    daemon: Daemon, simulator: DeepSeekSimulator, clock: FakeClock, pagerduty: PagerDutyEvents
) -> None:
    assert await alert(daemon, simulator, clock, "15.00") == 1
    assert await alert(daemon, simulator, clock, "5.00") == 1  # escalated: the same alert
    [opened] = pagerduty.alerts
    assert opened.dedup_key == DEDUP and opened.status == "triggered"
    assert [e["payload"]["severity"] for e in opened.events] == ["warning", "critical"]
    payload = opened.payload
    assert payload["summary"] == "CRITICAL (escalated): prod DeepSeek balance 5.00 CNY < 10.00"
    assert payload["source"] == "prod" and payload["class"] == "low" and payload["group"] == "CNY"
    assert payload["custom_details"]["alertname"] == "low"
    assert payload["custom_details"]["details"][0].startswith("CNY: 5.00")
    trigger = opened.events[-1]
    assert trigger["links"] == [{"href": "https://runbooks.example/low", "text": "Runbook"}]
    assert trigger["client"] == "balancebot"

    assert await alert(daemon, simulator, clock, "50.00") == 1
    assert opened.status == "resolved"
    assert pagerduty.events[-1] == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": DEDUP,
    }
    assert await alert(daemon, simulator, clock, "8.00") == 1  # fires again: a new alert
    assert [a.status for a in pagerduty.alerts] == ["resolved", "triggered"]


@pytest.mark.parametrize(
    ("fault", "retried_after", "permanent", "said"),
    [
        (THROTTLED, None, False, "HTTP 429 (Requests for this service are arriving too quickly"),
        (Fault(429, {"Retry-After": "7"}), 7.0, False, "HTTP 429"),
        (Fault(500, body="upstream broke"), None, False, "HTTP 500 (upstream broke)"),
        (Fault(503), None, False, "HTTP 503"),
        (
            Fault(
                400,
                {"Content-Type": "application/json"},
                json.dumps(
                    {
                        "status": "invalid event",
                        "message": "Event object is invalid",
                        "errors": [f"Unknown routing_key {ROUTING_KEY}"],
                    }
                ),
            ),
            None,
            True,
            "HTTP 400 (Event object is invalid: Unknown routing_key …)",
        ),
        (Fault(404), None, True, "HTTP 404"),
        (Fault(302, {"Location": "https://elsewhere.example/x"}), None, True, "not followed"),
    ],
)
async def test_answers_are_retried_or_not(
    daemon: Daemon,
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    pagerduty: PagerDutyEvents,
    fault: Fault,
    retried_after: float | None,
    permanent: bool,
    said: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    install(config_secrets(daemon.config))
    pagerduty.faults.append(fault)
    assert await alert(daemon, simulator, clock, "8.00") == 0
    [line] = [r.getMessage() for r in caplog.records if "pagerduty trigger" in r.getMessage()]
    assert f"pagerduty trigger {DEDUP}: " in line and said in line
    assert ROUTING_KEY not in caplog.text + shown(daemon, "pd")
    if permanent:
        assert said in shown(daemon, "pd")
        clock.advance(86400)
        assert await daemon.dispatcher.deliver_due() == 0
        assert pagerduty.requests == 1
        return
    if retried_after is not None:
        clock.advance(retried_after - 0.5)
        assert await daemon.dispatcher.deliver_due() == 0
        clock.advance(0.5)
    else:
        clock.advance(5)  # the first backoff delay is between 1 and 2 s
    assert await daemon.dispatcher.deliver_due() == 1
    assert [a.status for a in pagerduty.alerts] == ["triggered"]


async def test_a_long_headline_is_cut_to_pagerdutys_limit(
    clock: FakeClock, pagerduty: PagerDutyEvents
) -> None:
    own = {"routing_key": ROUTING_KEY, "url": pagerduty.enqueue_url}
    notifier = PagerDutyNotifier.from_options("pd", own, clock)
    long = replace(notification(), headline="x" * 5000)
    await notifier.send(long, "")
    await notifier.send(replace(notification(), kind=TransitionKind.DIGEST), "")  # no alert
    await notifier.close()
    [event] = pagerduty.events
    assert len(event["payload"]["summary"]) == 1024 and event["payload"]["summary"][-1] == "…"


async def test_unreachable_pagerduty_is_transient(clock: FakeClock) -> None:
    notifier = PagerDutyNotifier.from_options(
        "pd", {"routing_key": ROUTING_KEY, "url": "http://127.0.0.1:9/v2/enqueue"}, clock
    )
    with pytest.raises(DeliveryError) as raised:
        await notifier.send(notification(), "")
    await notifier.close()
    assert not raised.value.permanent and raised.value.message.endswith("ConnectError")


@pytest.mark.parametrize(
    ("more", "problem"),
    [
        ({"routing_key": "short"}, "routing_key: 32 letters and digits"),
        ({"routing_key": ROUTING_KEY[:-1] + "!"}, "routing_key: 32 letters and digits"),
        ({"url": "ftp://events.example/v2/enqueue"}, "is not an http(s) URL"),
        ({"runbook_url": "https://x/{alertname"}, "write {label}"),
        ({"service_key": "x"}, "service_key"),
    ],
)
def test_bad_options_are_config_errors(
    make_config: Callable[..., Config], more: dict[str, Any], problem: str
) -> None:
    notifier = {"name": "pd", "type": "pagerduty", "routing_key": ROUTING_KEY, **more}
    with pytest.raises(ConfigError) as caught:
        make_config(notifiers=[notifier])
    assert problem in str(caught.value) and "notifiers[0]" in str(caught.value)
    assert ROUTING_KEY not in str(caught.value)


async def test_notify_test_triggers_an_info_alert(
    tmp_path: Path, pagerduty: PagerDutyEvents
) -> None:
    table = 'name = "pd"\ntype = "pagerduty"\nrouting_key = "${PD_KEY}"\n'
    table += f'url = "{pagerduty.enqueue_url}"\n'
    lines, err = await notify_test(tmp_path, table, env={"PD_KEY": ROUTING_KEY})
    assert lines == ["ok      pd: delivered"]
    [event] = pagerduty.events
    assert event["payload"]["severity"] == "info"
    assert event["payload"]["summary"] == "TEST: balancebot can deliver here"
    assert ROUTING_KEY not in "".join(lines) + err


async def test_the_routing_key_stays_out_of_debug_logs(
    daemon: Daemon,
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    install(config_secrets(daemon.config))
    caplog.set_level(logging.DEBUG)
    assert await alert(daemon, simulator, clock, "8.00") == 1
    assert ROUTING_KEY not in caplog.text + shown(daemon, "pd")
