"""The read model (`AccountMemory`): what the daemon's checks leave in it is what a process
without a daemon reads back from the store, and a reloaded configuration keeps it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.memory import AccountMemory, Checker
from balancebot.models import AlertKey, AlertStatus, BalanceSnapshot
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator

from .conftest import API_KEY

LOW: dict[str, Any] = {
    "name": "low",
    "type": "threshold",
    "thresholds": {"CNY": {"warning_below": "20"}},
}


def two_accounts(
    simulator: DeepSeekSimulator, make_config: Callable[..., Config], **more: Any
) -> Config:
    simulator.add_account(API_KEY, {"CNY": ("0.00", "15.00")})
    account = {"api_key": API_KEY, "base_url": simulator.base_url, "timeout": "1s"}
    return make_config(
        accounts=[{"name": "prod", **account}, {"name": "dev", **account}],
        rules=[LOW],
        notifiers=[{"name": "console", "type": "console"}],
        **more,
    )


async def test_a_process_without_a_daemon_reads_what_the_daemon_knew(
    simulator: DeepSeekSimulator, make_config: Callable[..., Config], clock: FakeClock
) -> None:
    config = two_accounts(simulator, make_config)
    async with Daemon.open(config, clock) as daemon:
        checker: Checker = daemon.pipeline  # what commands are given
        await checker.check_now("prod")
        clock.advance(60)
        second = await checker.check_now("prod")
        memory = daemon.memory
        assert memory.accounts() == ["prod", "dev"]
        assert memory.latest("prod") == second and memory.latest("dev") is None
        assert memory.recent("prod") == [second]  # all a threshold rule needs
        assert memory.last_success("prod") == second.taken_at
        key = AlertKey("prod", "low", "CNY")
        assert memory.states()[key].status is AlertStatus.FIRING
        assert dict(memory.states("prod")) == {key: memory.states()[key]}
        assert memory.states("dev") == {}
        assert memory.told(key) == {("console", "")}
        seen = (dict(memory.states()), memory.told_of("prod"), memory.recent("prod"))
        store = daemon.store
        read = await AccountMemory.load(config, store, clock)
        assert (dict(read.states()), read.told_of("prod"), read.recent("prod")) == seen
        assert read.last_success("prod") == second.taken_at


async def test_a_new_configuration_forgets_removed_accounts_and_keeps_the_rest(
    simulator: DeepSeekSimulator, make_config: Callable[..., Config], clock: FakeClock
) -> None:
    config = two_accounts(simulator, make_config)
    async with Daemon.open(config, clock) as daemon:
        await daemon.pipeline.check_now("prod")
        await daemon.pipeline.check_now("dev")
        memory = daemon.memory
        prod = AlertKey("prod", "low", "CNY")
        kept = (memory.states()[prod], memory.told(prod), memory.latest("prod"))
        smaller = make_config(
            accounts=[{"name": "prod", "api_key": API_KEY, "base_url": simulator.base_url}],
            rules=[LOW],
            notifiers=[{"name": "console", "type": "console"}],
        )
        memory.configure(smaller)
        assert memory.accounts() == ["prod"]
        assert (memory.states()[prod], memory.told(prod), memory.latest("prod")) == kept
        assert not memory.stale("prod")  # same rules: nothing to read back
        assert memory.latest("dev") is None and memory.states("dev") == {}
        assert memory.last_success("dev") is None
        memory.configure(config)  # back again: the store remembers it, read before checking
        assert memory.stale("dev") and memory.latest("dev") is None
        await daemon.pipeline.refresh("dev")
        assert not memory.stale("dev")
        latest = memory.latest("dev")
        assert isinstance(latest, BalanceSnapshot)
        assert memory.states("dev")[AlertKey("dev", "low", "CNY")].status is AlertStatus.FIRING
