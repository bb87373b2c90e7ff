"""What the channel tests share: one account, one threshold rule, and a check that drives
the real pipeline and dispatcher on fake time; one notifier sending one alert."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.errors import DeliveryError
from balancebot.models import Notification, Severity, TransitionKind
from balancebot.notifiers import Notifier
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.processes import spawn

from .conftest import API_KEY

LOW_RULE: dict[str, Any] = {
    "name": "low",
    "type": "threshold",
    "repeat_interval": "1h",
    "thresholds": {"CNY": {"warning_below": "20", "critical_below": "10"}},
}
"""Warning below 20 CNY, critical below 10, repeated hourly."""


def one_account(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator, notifier: dict[str, Any]
) -> Config:
    """Account `prod`, warning below 20 CNY and critical below 10, one notifier."""
    return make_config(
        accounts=[{"name": "prod", "api_key": API_KEY, "base_url": simulator.base_url}],
        rules=[
            {
                "name": "low",
                "type": "threshold",
                "thresholds": {"CNY": {"warning_below": "20", "critical_below": "10"}},
            }
        ],
        notifiers=[notifier],
    )


async def alert(daemon: Daemon, simulator: DeepSeekSimulator, clock: FakeClock, total: str) -> int:
    """Set the balance, check five minutes later, deliver what is due; returns how many."""
    simulator.add_account(API_KEY, {"CNY": ("0.00", total)})
    clock.advance(300)
    await daemon.pipeline.check("prod")
    return await daemon.dispatcher.deliver_due()


@asynccontextmanager
async def daemon_with(
    make_config: Callable[..., Config],
    simulator: DeepSeekSimulator,
    clock: FakeClock,
    notifier: dict[str, Any],
) -> AsyncIterator[Daemon]:
    async with Daemon.open(one_account(make_config, simulator, notifier), clock) as daemon:
        yield daemon


def shown(daemon: Daemon, notifier: str) -> str:
    """Everything a notifier lets people see about itself: describe, targets, problems."""
    found = daemon.notifiers[notifier]
    return " ".join([found.describe(), *found.targets(), *daemon.dispatcher.problems.values()])


def notification(at: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> Notification:
    return Notification(
        TransitionKind.FIRING, Severity.CRITICAL, "prod", "low", "USD", "low", (), at, at
    )


async def refused(notifier: Notifier) -> DeliveryError:
    """Start `notifier`, send one alert to its first target, expect a transient failure."""
    await notifier.start()
    try:
        with pytest.raises(DeliveryError) as raised:
            await notifier.send(notification(), notifier.targets()[0])
    finally:
        await notifier.close()
    assert not raised.value.permanent
    return raised.value


async def notify_test(
    directory: Path, notifier: str, env: dict[str, str] | None = None
) -> tuple[list[str], str]:
    """`balancebot notify-test` run as a user runs it, with one account and the
    `[[notifiers]]` table `notifier` (TOML); its output lines and standard error, once it
    exited 0."""
    path = directory / "config.toml"
    path.write_text(f'[[accounts]]\nname = "prod"\napi_key = "sk-1"\n\n[[notifiers]]\n{notifier}')
    process = await spawn("notify-test", "-c", str(path), env=env)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    return out.decode().splitlines(), err.decode()
