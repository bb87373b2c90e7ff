"""The on-call notifiers beyond one alert: a grouped message (a route's `group_by`) reaches
the real Alertmanager as each alert under its own labels, PagerDuty as one event per alert
identity and an Alertmanager-format webhook as one payload listing them, and the group's
resolved notice resolves each; `balancebot notify-test` as a process; the re-post loop
outlives a round that fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.integrations.alertmanager.notifier import AlertmanagerNotifier
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.pagerduty import PagerDutyEvents
from balancebot.testing.receiver import Receiver

from .channels import notify_test
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


async def test_notify_test_posts_a_test_alert_that_expires(
    tmp_path: Path,
    alertmanager: str,  # noqa: F811
) -> None:
    """`balancebot notify-test` as a user runs it: one line, and an info alert Alertmanager
    holds for four resend intervals (nothing resolves it: it is no alert of the engine)."""
    lines, _ = await notify_test(
        tmp_path, f'name = "am"\ntype = "alertmanager"\nurls = ["{alertmanager}"]\n'
    )
    assert lines == [f"ok      am → {alertmanager}: delivered"]
    [test] = await held(alertmanager)
    assert test["labels"] == {"alertname": "notify-test", "account": "-", "severity": "info"}
    starts, ends = (datetime.fromisoformat(test[k]) for k in ("startsAt", "endsAt"))
    assert 240 <= (ends - starts).total_seconds() < 300  # 4 x 1m after the post


async def test_a_failing_round_does_not_end_the_resend_loop(
    alertmanager: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = 0
    second = asyncio.Event()

    def firing() -> set[Any]:
        nonlocal calls
        calls += 1
        if calls >= 2:
            second.set()
        raise RuntimeError("engine trouble")

    notifier = AlertmanagerNotifier.from_options(
        "am", {"urls": [alertmanager], "resend_interval": "1s"}, FakeClock()
    )
    notifier.watch(firing)
    await notifier.start()
    try:
        await asyncio.wait_for(second.wait(), 10)  # a second round came after the first failed
    finally:
        await notifier.close()
    lines = [r.getMessage() for r in caplog.records if "re-posting" in r.getMessage()]
    assert lines[0] == "am: re-posting firing alerts failed: RuntimeError('engine trouble')"
