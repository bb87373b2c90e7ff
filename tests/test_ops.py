"""Operating the daemon: /metrics, /healthz, /readyz and JSON logs."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.models import Notification
from balancebot.phrases import rough_span
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator, Fault
from balancebot.testing.processes import spawn

from .conftest import API_KEY
from .test_pipeline import Recorder


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def pages_of_a_running_daemon(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator, *paths: str
) -> list[tuple[int, str]]:
    """`paths` of the HTTP server of a daemon with two accounts, once it has told its
    console about one failed check (401) and one low balance."""
    simulator.add_account(f"{API_KEY}-prod", {"CNY": ("1.50", "6.70"), "USD": ("0", "3")})
    simulator.add_account(f"{API_KEY}-dev", {"CNY": ("1.50", "6.70"), "USD": ("0", "3")})
    simulator.fail_next(Fault(status=401))  # whichever account is checked first
    config = make_config(
        accounts=[
            {
                "name": n,
                "api_key": f"{API_KEY}-{n}",
                "base_url": simulator.base_url,
                "check_interval": "1h",
            }
            for n in ("prod", "dev")
        ],
        rules=[
            {"name": "low", "type": "threshold", "thresholds": {"CNY": {"critical_below": "10"}}},
            {"name": "failing", "type": "check_failed"},
        ],
        notifiers=[{"name": "rec", "type": "console"}],
        http={"enabled": True, "listen": "127.0.0.1:0"},
    )
    recorder = Recorder()
    delivered: list[Notification] = []
    both = asyncio.Event()

    def seen(_: str, notification: Notification) -> None:
        delivered.append(notification)
        if len(delivered) == 2:  # one auth failure, one low balance
            both.set()

    stop = asyncio.Event()
    async with Daemon.open(config, notifiers={"rec": recorder}) as daemon:
        daemon.dispatcher.listeners.append(seen)
        serving = asyncio.create_task(daemon.serve(stop))
        await asyncio.wait_for(both.wait(), 30)
        assert daemon.server is not None
        pages = [await get(f"{daemon.server.url}{path}") for path in paths]
        stop.set()
        await serving
    return pages


async def test_metrics_and_health_from_the_running_daemon(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator
) -> None:
    (status, text), (ready_status, ready), health = await pages_of_a_running_daemon(
        make_config, simulator, "/metrics", "/readyz", "/healthz"
    )
    assert status == 200
    found = samples(text)
    failed = next(
        a
        for a in ("prod", "dev")
        if ("balancebot_check_failures_total", (("account", a), ("error", "auth"))) in found
    )
    ok = "dev" if failed == "prod" else "prod"
    assert found[("balancebot_check_failures_total", (("account", failed), ("error", "auth")))] == 1
    assert ("balancebot_last_success_timestamp_seconds", (("account", ok),)) in found
    assert ("balancebot_last_success_timestamp_seconds", (("account", failed),)) not in found
    assert found[("balancebot_check_duration_seconds_count", (("provider", "deepseek"),))] == 2
    assert found[("balancebot_alerts_firing", (("severity", "critical"),))] == 2
    assert found[("balancebot_alerts_firing", (("severity", "warning"),))] == 0
    assert (
        found[("balancebot_balance", (("account", ok), ("currency", "CNY"), ("kind", "total")))]
        == 8.2
    )
    assert (
        found[("balancebot_balance", (("account", ok), ("currency", "USD"), ("kind", "topped_up")))]
        == 3
    )
    assert found[("balancebot_account_available", (("account", ok),))] == 1
    assert found[("balancebot_leader", ())] == 1  # one SQLite instance: always
    assert found[("balancebot_store_up", ())] == 1
    assert (
        found[("balancebot_notifications_total", (("notifier", "rec"), ("outcome", "sent")))] == 2
    )
    assert health == (200, "ok\n")
    assert ready_status == 503
    assert f"{failed}: no successful check yet" in ready
    assert API_KEY not in text


async def test_readyz_turns_ready_after_successful_checks(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator
) -> None:
    simulator.add_account(API_KEY)
    config = make_config(
        accounts=[{"name": "prod", "api_key": API_KEY, "base_url": simulator.base_url}],
        http={"enabled": True, "listen": "127.0.0.1:0"},
    )
    async with Daemon.open(config) as daemon:
        assert daemon.server is not None
        url = await daemon.server.serve()
        try:
            assert (await get(f"{url}/readyz"))[0] == 503
            await daemon.pipeline.check("prod")
            assert await get(f"{url}/readyz") == (200, "ready\n")
        finally:
            await daemon.server.stop()
    async with Daemon.open(config) as restarted:  # the store remembers the last success
        assert restarted.memory.last_success("prod") is not None


async def test_readyz_says_how_long_since_the_last_success_in_words(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator, clock: FakeClock
) -> None:
    simulator.add_account(API_KEY)
    config = make_config(
        accounts=[
            {
                "name": "prod",
                "api_key": API_KEY,
                "base_url": simulator.base_url,
                "check_interval": "1m",
            }
        ],
        http={"enabled": True, "listen": "127.0.0.1:0"},
    )
    async with Daemon.open(config, clock=clock) as daemon:
        assert daemon.server is not None
        url = await daemon.server.serve()
        try:
            await daemon.pipeline.check("prod")
            clock.advance(12 * 60 + 1.908831)
            assert await get(f"{url}/readyz") == (
                503,
                "not ready\nprod: no successful check for 12 min\n",
            )
        finally:
            await daemon.server.stop()


async def test_json_logs_have_one_object_per_line(
    tmp_path: Path, simulator: DeepSeekSimulator
) -> None:
    simulator.add_account(API_KEY, {"CNY": ("0.00", "5.00")})
    path = tmp_path / "config.toml"
    path.write_text(f"""
[[accounts]]
name = "prod"
api_key = "${{KEY}}"
base_url = "{simulator.base_url}"
check_interval = "1h"

[[rules]]
name = "low"
type = "threshold"
thresholds = {{ CNY = {{ critical_below = "10" }} }}
""")
    process = await spawn(
        "--log-format",
        "json",
        "--log-level",
        "debug",
        "run",
        "-c",
        str(path),
        env={"KEY": API_KEY},
    )
    assert process.stderr is not None
    records = []
    while not any(r.get("outcome") == "sent" for r in records):
        line = await asyncio.wait_for(process.stderr.readline(), 30)
        assert line, records
        records.append(json.loads(line))
    process.send_signal(signal.SIGTERM)
    _, rest = await asyncio.wait_for(process.communicate(), 30)
    records += [json.loads(line) for line in rest.splitlines() if line.strip()]
    assert process.returncode == 0
    check = next(r for r in records if r["message"].startswith("check prod ok"))
    assert check["account"] == "prod" and check["outcome"] == "ok"
    assert isinstance(check["duration_ms"], int) and check["level"] == "info"
    delivery = next(r for r in records if r.get("outcome") == "sent")
    assert delivery["notifier"] == "console" and delivery["account"] == "prod"
    assert not [r for r in records if API_KEY in json.dumps(r)]


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "0 s"),
        (119, "119 s"),
        (120, "2 min"),
        (7199, "120 min"),
        (721.9, "12 min"),
        (6 * 86400 + 23 * 3600, "7 days"),
        (7200, "2 h"),
        (3 * 86400, "3 days"),
    ],
)
def test_rough_durations(seconds: float, words: str) -> None:
    assert rough_span(timedelta(seconds=seconds)) == words
