"""A configuration reload (SIGHUP) in a running daemon: validated first (an invalid file
leaves the running one and says why in one line), then accounts, rules and notifiers follow
it without a restart, and nothing is sent again (alert states and what was told survive)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from balancebot.config import Config
from balancebot.configure import load_config
from balancebot.daemon import Daemon
from balancebot.models import AlertKey, AlertStatus, TransitionKind
from balancebot.reload import reload_config, restart_only
from balancebot.scheduler import build_scheduler
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.receiver import Receiver

from .conftest import API_KEY
from .test_sweep import hold_liveness

SECRET = "whsec-reload-0123456789"
LOW: dict[str, Any] = {
    "name": "low",
    "type": "threshold",
    "repeat_interval": "1h",
    "thresholds": {"CNY": {"warning_below": "20", "critical_below": "10"}},
}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as server:
        yield server


class Setup:
    """The daemon's configuration as a dict, turned into a Config as `load` would."""

    def __init__(
        self, make_config: Callable[..., Config], simulator: DeepSeekSimulator, receiver: Receiver
    ) -> None:
        self.make_config = make_config
        self.simulator = simulator
        self.receiver = receiver
        simulator.add_account(API_KEY, {"CNY": ("0.00", "15.00")})  # below 20: a warning

    def account(self, name: str, **more: Any) -> dict[str, Any]:
        base = {"name": name, "api_key": API_KEY, "base_url": self.simulator.base_url}
        return {**base, "timeout": "1s", **more}

    def config(self, accounts: list[str], hook: str = "a", **more: Any) -> Config:
        url = f"{self.receiver.url}/hook/{hook}"
        notifier = {"name": "hooks", "type": "webhook", "urls": [url], "secret": SECRET}
        raw: dict[str, Any] = {
            "accounts": [self.account(name) for name in accounts],
            "rules": [LOW],
            "notifiers": [notifier],
            **more,
        }
        return self.make_config(**raw)


@pytest.fixture
def setup(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator, receiver: Receiver
) -> Setup:
    return Setup(make_config, simulator, receiver)


def jobs(daemon: Daemon) -> set[str]:
    assert daemon.scheduler is not None
    return {job.id for job in daemon.scheduler.get_jobs() if job.id.startswith("check:")}


def sample(daemon: Daemon, name: str) -> float | None:
    value: float | None = daemon.metrics.registry.get_sample_value(name)
    return value


async def told(daemon: Daemon, receiver: Receiver, route: str) -> list[tuple[str, str]]:
    """What reached `/hook/<route>` so far: (account, kind) per notice."""
    await daemon.dispatcher.deliver_due()
    return [(r.json()["account"], r.json()["kind"]) for r in receiver.on(f"hook/{route}")]


@pytest.fixture
async def daemon(setup: Setup, clock: FakeClock) -> AsyncIterator[Daemon]:
    async with Daemon.open(setup.config(["prod", "dev"]), clock) as opened:
        # the scheduler `serve` builds, built here and left unstarted: its jobs are what counts
        opened.scheduler = build_scheduler(
            opened.config,
            opened.pipeline,
            opened.housekeeping,
            opened.send_digest,
            opened.check,
        )
        yield opened


async def test_a_removed_account_loses_its_job_and_nothing_is_sent_again(
    daemon: Daemon, setup: Setup, clock: FakeClock
) -> None:
    for name in ("prod", "dev"):
        await daemon.pipeline.check(name)
    firing = [("prod", "firing"), ("dev", "firing")]
    assert await told(daemon, setup.receiver, "a") == firing
    assert jobs(daemon) == {"check:prod", "check:dev"}
    assert sample(daemon, "balancebot_config_last_reload_successful") == 1

    clock.advance(60)
    assert await reload_config(daemon, lambda: setup.config(["prod"]))
    assert jobs(daemon) == {"check:prod"}
    assert daemon.memory.accounts() == ["prod"] and daemon.memory.latest("dev") is None
    assert [a.name for a in daemon.config.accounts] == ["prod"]
    assert sample(daemon, "balancebot_config_last_reload_success_timestamp_seconds") == (
        clock.now().timestamp()
    )
    clock.advance(60)
    outcome = await daemon.pipeline.check("prod")  # still firing: no second notice
    assert outcome.transitions == []
    assert await told(daemon, setup.receiver, "a") == firing

    # back again: its alert state is read from the store before its first check
    assert await reload_config(daemon, lambda: setup.config(["prod", "dev"]))
    assert jobs(daemon) == {"check:prod", "check:dev"}
    outcome = await daemon.pipeline.check("dev")
    assert outcome.transitions == []
    key = AlertKey("dev", "low", "CNY")
    assert daemon.memory.states()[key].status is AlertStatus.FIRING
    assert await told(daemon, setup.receiver, "a") == firing


async def test_an_added_account_is_checked_and_alerted_with_the_new_rules(
    setup: Setup, clock: FakeClock
) -> None:
    async with Daemon.open(setup.config(["prod"]), clock) as daemon:
        daemon.scheduler = build_scheduler(
            daemon.config, daemon.pipeline, daemon.housekeeping, daemon.send_digest, daemon.check
        )
        await daemon.pipeline.check("prod")
        assert await told(daemon, setup.receiver, "a") == [("prod", "firing")]
        stricter = {**LOW, "thresholds": {"CNY": {"warning_below": "20", "critical_below": "16"}}}
        assert await reload_config(daemon, lambda: setup.config(["prod", "dev"], rules=[stricter]))
        assert jobs(daemon) == {"check:prod", "check:dev"}
        outcome = await daemon.pipeline.check("dev")
        assert [t.kind for t in outcome.transitions] == [TransitionKind.FIRING]
        outcome = await daemon.pipeline.check("prod")  # 15 < 16: escalated by the new rule
        assert [t.kind for t in outcome.transitions] == [TransitionKind.ESCALATED]
        assert await told(daemon, setup.receiver, "a") == [
            ("prod", "firing"),
            ("dev", "firing"),
            ("prod", "escalated"),
        ]


async def test_a_changed_notifier_is_rebuilt_and_its_alerts_still_resolve_where_told(
    daemon: Daemon, setup: Setup, clock: FakeClock
) -> None:
    await daemon.pipeline.check("prod")
    assert await told(daemon, setup.receiver, "a") == [("prod", "firing")]
    old = daemon.notifiers["hooks"]
    assert await reload_config(daemon, lambda: setup.config(["prod", "dev"], hook="b"))
    assert daemon.notifiers["hooks"] is not old
    assert getattr(old, "_http", "closed") is None  # the old client was closed
    setup.simulator.add_account(API_KEY, {"CNY": ("0.00", "50.00")})  # topped up
    clock.advance(60)
    outcome = await daemon.pipeline.check("prod")
    assert [t.kind for t in outcome.transitions] == [TransitionKind.RESOLVED]
    assert await told(daemon, setup.receiver, "b") == [("prod", "resolved")]
    assert await told(daemon, setup.receiver, "a") == [("prod", "firing")]


async def test_an_invalid_file_leaves_the_running_configuration_and_says_why_in_one_line(
    daemon: Daemon, setup: Setup, clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    loaded_at = sample(daemon, "balancebot_config_last_reload_success_timestamp_seconds")
    running = daemon.config
    path = tmp_path / "broken.toml"
    path.write_text('[[accounts]]\nname = "prod"\nprovider = "deepseek"\napi_key = \n')
    clock.advance(60)
    with caplog.at_level(logging.INFO, logger="balancebot"):
        assert not await reload_config(daemon, lambda: load_config(path))
    lines = [r for r in caplog.records if r.name.startswith("balancebot.reload")]
    assert len(lines) == 1 and lines[0].levelno == logging.ERROR
    message = lines[0].getMessage()
    assert "configuration not reloaded, the running one stays" in message
    assert "not valid TOML" in message and "send SIGHUP again" in message
    assert "\n" not in message
    assert daemon.config is running and jobs(daemon) == {"check:prod", "check:dev"}
    assert sample(daemon, "balancebot_config_last_reload_successful") == 0
    assert sample(daemon, "balancebot_config_last_reload_success_timestamp_seconds") == loaded_at

    path.write_text('[[accounts]]\nname = "prod"\nprovider = "nope"\napi_key = "x"\n')
    assert not await reload_config(daemon, lambda: load_config(path))  # valid TOML, bad config
    assert daemon.config is running
    await daemon.pipeline.check("prod")  # the old configuration still checks and alerts
    assert await told(daemon, setup.receiver, "a") == [("prod", "firing")]


async def test_settings_bound_to_the_process_wait_for_a_restart(
    setup: Setup, tmp_path: Path
) -> None:
    running = setup.config(["prod"])
    moved = setup.config(["prod"], store={"path": str(tmp_path / "elsewhere.db")}, timezone="UTC")
    kept, waiting = restart_only(running, moved)
    assert kept.store == running.store and waiting == ["[store]"]
    same, waiting = restart_only(running, setup.config(["prod", "dev"]))
    assert waiting == [] and [a.name for a in same.accounts] == ["prod", "dev"]


async def _configurations_become(daemon: Daemon, expected: set[str]) -> None:
    """Until the server shows just `expected` (a closed session ends a moment later)."""
    async with asyncio.timeout(15):
        while await daemon.store.configurations() != expected:  # noqa: ASYNC110
            await asyncio.sleep(0.05)  # polling the server's state, not waiting on ours


@pytest.mark.postgres
async def test_replicas_reloaded_one_by_one_name_their_new_configuration_and_schedule(
    setup: Setup, clock: FakeClock, postgres_url: str
) -> None:
    store = {"url": postgres_url}
    config = setup.config(["prod", "dev"], store=store)
    stricter = {**LOW, "thresholds": {"CNY": {"warning_below": "30"}}}
    new = setup.config(["prod", "extra"], store=store, rules=[stricter])
    assert new.fingerprint() != config.fingerprint()
    async with AsyncExitStack() as stack:
        first, second = [await stack.enter_async_context(Daemon.open(config, clock)) for _ in "ab"]
        for daemon in (first, second):
            await hold_liveness(stack, daemon)
        assert await first.store.configurations() == {config.fingerprint()}

        assert await reload_config(first, lambda: new)
        await _configurations_become(first, {config.fingerprint(), new.fingerprint()})
        assert first.sweep is not None
        await first.sweep.tick()  # prod and extra; dev is the other configuration's now
        await first.sweep.settle()
        assert first.memory.latest("extra") is not None and first.memory.latest("prod")
        lease = timedelta(minutes=1)
        assert await first.store.claim_due_checks("x", clock.now(), lease, 10) == ["dev"]

        assert await reload_config(second, lambda: new)
        await _configurations_become(first, {new.fingerprint()})
