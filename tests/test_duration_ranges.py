"""Values `validate` accepts must not crash, flood or blind `run` (issue 21, section 3): every
duration has a documented range, and a next check time that cannot be computed is said."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from balancebot.config import AccountConfig, Config, Secret
from balancebot.config.durations import RANGES, CheckInterval, Duration, spell
from balancebot.configure import parse_config
from balancebot.daemon import Daemon
from balancebot.scheduler import build_scheduler
from balancebot.sweep import SharedSweep
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.processes import spawn

from .conftest import API_KEY

DOCS = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
ACCOUNT = {"name": "prod", "api_key": API_KEY, "base_url": "http://127.0.0.1:9"}
RULE = {"name": "low", "type": "threshold", "thresholds": {"CNY": {"warning_below": "5"}}}
HUGE = ["1000000000d", float("inf"), 1e308, "999999999d", 10**400, "1" * 400 + "s"]

# every duration option, where it sits, and its range (what docs/configuration.md says)
OPTIONS: list[tuple[str, Any, str, str]] = [
    (
        "accounts[0].check_interval",
        lambda v: {"accounts": [{**ACCOUNT, "check_interval": v}]},
        "1s",
        "1d",
    ),
    (
        "accounts[0].jitter",
        lambda v: {"accounts": [{**ACCOUNT, "check_interval": "1d", "jitter": v}]},
        "0s",
        "1d",
    ),
    ("accounts[0].timeout", lambda v: {"accounts": [{**ACCOUNT, "timeout": v}]}, "10ms", "10m"),
    (
        "accounts[0].connect_timeout",
        lambda v: {"accounts": [{**ACCOUNT, "connect_timeout": v}]},
        "10ms",
        "10m",
    ),
    (
        "rules[0].repeat_interval",
        lambda v: {"rules": [{**RULE, "repeat_interval": v}]},
        "1s",
        "365d",
    ),
    (
        "rules[0].window",
        lambda v: {"rules": [{**RULE, "window": v, "min_history": "1s"}]},
        "1s",
        "365d",
    ),
    ("rules[0].warning_runway", lambda v: {"rules": [{**RULE, "warning_runway": v}]}, "1s", "365d"),
    ("rules[0].top_up_window", lambda v: {"rules": [{**RULE, "top_up_window": v}]}, "1s", "365d"),
    ("chat.balance_max_age", lambda v: {"chat": {"balance_max_age": v}}, "1s", "1d"),
    ("store.keep_full_resolution", lambda v: {"store": {"keep_full_resolution": v}}, "1h", "3650d"),
    ("store.downsample_to", lambda v: {"store": {"downsample_to": v}}, "1s", "1d"),
    (
        "heartbeat.timeout",
        lambda v: {"heartbeat": {"url": "http://h/x", "timeout": v}},
        "10ms",
        "10m",
    ),
    (
        "notifiers[0].timeout",
        lambda v: {
            "notifiers": [
                {
                    "name": "w",
                    "type": "webhook",
                    "urls": ["http://h/"],
                    "secret": "s" * 32,
                    "timeout": v,
                }
            ]
        },
        "10ms",
        "10m",
    ),
]


def problems(raw: dict[str, Any], tmp_path: Path) -> list[str]:
    from balancebot.errors import ConfigError

    data = {"accounts": [ACCOUNT], **raw}
    try:
        parse_config(data, tmp_path, env={})
    except ConfigError as exc:
        return exc.problems
    return []


@pytest.mark.parametrize(("where", "build", "low", "high"), OPTIONS, ids=[o[0] for o in OPTIONS])
def test_every_duration_has_a_range_checked_with_its_key_path(
    where: str, build: Any, low: str, high: str, tmp_path: Path
) -> None:
    """On main `inf`, `1e308` and "1000000000d" were tracebacks from `validate` itself."""
    for value in HUGE:
        found = problems(build(value), tmp_path)
        assert len(found) == 1 and found[0].startswith(f"{where}: "), (value, found)
        assert f"not in the range {low} to {high}" in found[0], found
        assert len(found[0]) < 140, found  # the value is quoted short
    assert problems(build(low), tmp_path) == []
    assert problems(build(high), tmp_path) == []
    if low != "0s":
        below = spell(parse_low(low) / 2)
        assert f"not in the range {low} to {high}" in problems(build(below), tmp_path)[0]


def parse_low(text: str) -> timedelta:
    from balancebot.config import parse_duration

    return parse_duration(text)


def test_jitter_is_at_most_the_interval(tmp_path: Path) -> None:
    """`jitter = "3650d"` with a 2 s interval checked once, then never again."""
    account = {**ACCOUNT, "check_interval": "2s", "jitter": "3s"}
    assert problems({"accounts": [account]}, tmp_path) == [
        "accounts[0]: jitter must not be above check_interval"
    ]


def test_the_documented_ranges_are_the_enforced_ones() -> None:
    text = DOCS.read_text()
    for kind in RANGES:
        assert f"| {spell(kind.LOW)} to {spell(kind.HIGH)} |" in text, kind.__name__


@pytest.mark.parametrize("value", ["inf", "1e308", '"1000000000d"', '"1ms"'])
async def test_validate_says_it_in_one_line_with_exit_2(tmp_path: Path, value: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f'[[accounts]]\nname = "prod"\napi_key = "{API_KEY}"\ncheck_interval = {value}\n'
    )
    process = await spawn("validate", "-c", str(config))
    _, err = await process.communicate()
    assert process.returncode == 2 and "Traceback" not in err.decode()
    assert "  accounts[0].check_interval: " in err.decode().splitlines()[1]


async def test_a_next_check_time_that_cannot_be_computed_is_a_self_alert(
    make_config: Any,
) -> None:
    """On main a check interval or jitter past what a datetime holds (which `validate` now
    refuses, but a plugin or a future option may compute) stopped the schedule silently:
    `running`, then no check and no self alert."""
    config: Config = make_config()
    endless = AccountConfig(
        name="prod",
        api_key=Secret(API_KEY),
        base_url="http://127.0.0.1:9",
        check_interval=CheckInterval(days=999_999_999),
    )
    config = msgspec.structs.replace(config, accounts=[endless])
    async with Daemon.open(config) as daemon:
        scheduler = build_scheduler(
            config, daemon.pipeline, daemon.housekeeping, daemon.send_digest, daemon.check
        )
        trigger = scheduler.get_job("check:prod").trigger
        now = datetime(2026, 12, 2, tzinfo=UTC)
        assert trigger.get_next_fire_time(now, now) == now + timedelta(days=1)
        problem = daemon.pipeline.health.problems()["schedule:prod"]
    assert problem.message.startswith("cannot compute when to check prod next (")
    assert problem.message.endswith(
        "checking it every 1d instead; fix its check_interval and jitter"
    )


def test_any_duration_is_bounded_even_without_a_kind() -> None:
    """A plugin's options use plain `Duration`: 1 ms to 10 years, never an OverflowError."""
    from balancebot.config import parse_duration

    for value in HUGE:
        with pytest.raises(ValueError, match="not in the range 1ms to 3650d"):
            parse_duration(value, Duration)


async def test_the_shared_schedule_says_so_too(
    make_config: Any, postgres_url: str, clock: FakeClock, simulator: DeepSeekSimulator
) -> None:
    """Replicas on PostgreSQL compute next times in the sweep: the same self alert there,
    and the account is due again a day later (an OverflowError ended the check's task)."""
    simulator.add_account(API_KEY)
    config: Config = make_config(
        accounts=[{**ACCOUNT, "base_url": simulator.base_url}], store={"url": postgres_url}
    )
    endless = msgspec.structs.replace(  # past the year 9999 from now
        config.accounts[0], check_interval=CheckInterval(days=5_000_000)
    )
    config = msgspec.structs.replace(config, accounts=[endless])
    async with Daemon.open(config, clock) as daemon:
        sweep = SharedSweep(config, daemon.store, daemon.pipeline, clock, daemon.dispatcher.owner)
        await sweep.register()
        try:
            await sweep.tick()
            await sweep.settle()
        finally:
            await sweep.stop()
        due = await daemon.store.next_check_due()
        problem = daemon.pipeline.health.problems()["schedule:prod"]
    assert due == clock.now() + timedelta(days=1)
    assert problem.message.startswith("cannot compute when to check prod next (")
