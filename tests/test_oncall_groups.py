"""A grouped message (a route's `group_by`) to the notifiers that speak in alerts: the real
Alertmanager holds each alert of the group under its own labels, PagerDuty gets one event
per alert identity, and the group's resolved notice resolves each of them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.pagerduty import PagerDutyEvents
from balancebot.testing.receiver import Receiver

from .conftest import API_KEY
from .test_alertmanager import alertmanager, held, receiver  # noqa: F401 - fixtures
from .test_pagerduty import ROUTING_KEY

ACCOUNTS = ["prod-a", "prod-b", "prod-c"]


@pytest.fixture
async def pagerduty() -> AsyncIterator[PagerDutyEvents]:
    async with PagerDutyEvents() as server:
        yield server


def grouped_config(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator, **notifier: Any
) -> Config:
    return make_config(
        accounts=[
            {"name": name, "api_key": f"{API_KEY}-{name}", "base_url": simulator.base_url}
            for name in ACCOUNTS
        ],
        rules=[
            {
                "name": "low",
                "type": "threshold",
                "thresholds": {"CNY": {"warning_below": "20", "critical_below": "10"}},
            }
        ],
        notifiers=[{"name": "oncall", **notifier}],
        routes=[{"notifiers": ["oncall"], "group_by": ["alertname"], "group_wait": "0s"}],
    )


async def all_at(daemon: Daemon, simulator: DeepSeekSimulator, clock: FakeClock, total: str) -> int:
    """Every account's balance set and checked; returns the deliveries made (one a group)."""
    clock.advance(300)
    for name in ACCOUNTS:
        simulator.add_account(f"{API_KEY}-{name}", {"CNY": ("0.00", total)})
        await daemon.pipeline.check(name)
    return await daemon.dispatcher.deliver_due()


async def test_a_group_is_one_post_of_each_alert_to_alertmanager(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    alertmanager: str,  # noqa: F811
) -> None:
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30))
    config = grouped_config(
        make_config, simulator, type="alertmanager", urls=[alertmanager], resend_interval="1h"
    )
    async with Daemon.open(config, clock) as daemon:
        assert await all_at(daemon, simulator, clock, "8.00") == 1
        found = await held(alertmanager)
        assert sorted(a["labels"]["account"] for a in found) == ACCOUNTS
        assert {a["annotations"]["summary"].split(":")[0] for a in found} == {"CRITICAL"}
        assert await all_at(daemon, simulator, clock, "50.00") == 1
        assert await held(alertmanager) == []


async def test_a_group_is_one_pagerduty_event_per_alert(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    pagerduty: PagerDutyEvents,
) -> None:
    config = grouped_config(
        make_config,
        simulator,
        type="pagerduty",
        routing_key=ROUTING_KEY,
        url=pagerduty.enqueue_url,
    )
    async with Daemon.open(config, clock) as daemon:
        assert await all_at(daemon, simulator, clock, "8.00") == 1
        assert sorted(a.dedup_key for a in pagerduty.alerts) == [
            f"balancebot/{name}/low/CNY" for name in ACCOUNTS
        ]
        assert {a.payload["source"] for a in pagerduty.alerts} == set(ACCOUNTS)
        assert await all_at(daemon, simulator, clock, "50.00") == 1
        assert [a.status for a in pagerduty.alerts] == ["resolved"] * 3


async def test_a_group_is_one_alertmanager_webhook_listing_each_alert(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    receiver: Receiver,  # noqa: F811
) -> None:
    config = grouped_config(
        make_config,
        simulator,
        type="webhook",
        format="alertmanager",
        urls=[f"{receiver.url}/hook/group"],
        secret="whsec-0123456789abcdef",
    )
    async with Daemon.open(config, clock) as daemon:
        assert await all_at(daemon, simulator, clock, "8.00") == 1
        [sent] = receiver.on("hook/group")
        body = sent.json()
        assert body["status"] == "firing" and body["groupLabels"] == {"alertname": "low"}
        assert sorted(a["labels"]["account"] for a in body["alerts"]) == ACCOUNTS
        assert body["commonLabels"] == {
            "alertname": "low",
            "currency": "CNY",
            "provider": "deepseek",
            "severity": "critical",
        }
