"""Quiet hours in the outbox: warnings and infos held, one summary per target at the end,
criticals through unless the entry includes them; on fake time against the simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from balancebot.commands.access import Caller
from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.models import Severity, TransitionKind
from balancebot.quiet_summary import send_quiet_summaries
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator

from .conftest import API_KEY
from .test_pipeline import RULES, Recorder

BERLIN = ZoneInfo("Europe/Berlin")  # the fake clock starts at 01:00 there, a Thursday


def quiet_config(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator, **entry: Any
) -> Config:
    return make_config(
        accounts=[{"name": "prod", "api_key": API_KEY, "base_url": simulator.base_url}],
        rules=RULES,
        notifiers=[{"name": "rec", "type": "console"}],
        timezone="Europe/Berlin",
        quiet_hours=[{"start": "22:00", "end": "07:00", **entry}],
    )


@pytest.fixture
async def quiet(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator, clock: FakeClock
) -> AsyncIterator[tuple[Daemon, Recorder]]:
    recorder = Recorder()
    async with Daemon.open(quiet_config(make_config, simulator), clock, {"rec": recorder}) as d:
        yield d, recorder


async def at_balance(d: Daemon, simulator: DeepSeekSimulator, clock: FakeClock, total: str) -> None:
    simulator.add_account(API_KEY, {"CNY": ("0.00", total)})
    clock.advance(300)
    await d.pipeline.check("prod")
    await d.dispatcher.deliver_due()


async def test_warnings_wait_for_one_summary_and_criticals_go_out(
    quiet: tuple[Daemon, Recorder], simulator: DeepSeekSimulator, clock: FakeClock
) -> None:
    d, recorder = quiet
    await at_balance(d, simulator, clock, "15.00")  # warning: held
    await at_balance(d, simulator, clock, "50.00")  # its resolved notice: held
    await at_balance(d, simulator, clock, "5.00")  # critical: out now
    assert [(n.kind, n.severity) for n in recorder.sent] == [
        (TransitionKind.FIRING, Severity.CRITICAL)
    ]
    assert await send_quiet_summaries(d.store, clock.now(), BERLIN) == 0  # still night
    clock.advance(6 * 3600)  # past 07:00 Berlin
    assert await send_quiet_summaries(d.store, clock.now(), BERLIN) == 1
    assert await send_quiet_summaries(d.store, clock.now(), BERLIN) == 0  # once
    await d.dispatcher.deliver_due()
    summary = recorder.sent[-1]
    assert summary.kind is TransitionKind.DIGEST
    assert summary.headline == "Quiet hours are over: 2 notice(s) held"
    assert [line.split(" ", 3)[3] for line in summary.details] == [
        "🟠 WARNING: prod DeepSeek balance 15.00 CNY < 20.00",
        "✅ RESOLVED: prod DeepSeek balance 50.00 CNY ≥ 20.00 (topped up +35.00 CNY)",
    ]
    assert len(recorder.sent) == 2


async def test_daytime_is_not_quiet(
    quiet: tuple[Daemon, Recorder], simulator: DeepSeekSimulator, clock: FakeClock
) -> None:
    d, recorder = quiet
    clock.advance(7 * 3600)  # 08:00 Berlin
    await at_balance(d, simulator, clock, "15.00")
    assert [n.severity for n in recorder.sent] == [Severity.WARNING]


async def test_an_entry_may_hold_criticals_too(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator, clock: FakeClock
) -> None:
    recorder = Recorder()
    config = quiet_config(make_config, simulator, include_critical=True)
    async with Daemon.open(config, clock, {"rec": recorder}) as d:
        await at_balance(d, simulator, clock, "5.00")
        assert recorder.sent == []
        clock.advance(6 * 3600)
        assert await send_quiet_summaries(d.store, clock.now(), BERLIN) == 1
        await d.dispatcher.deliver_due()
    assert recorder.sent[0].severity is Severity.CRITICAL


async def test_status_says_until_when_it_is_quiet(
    quiet: tuple[Daemon, Recorder], clock: FakeClock
) -> None:
    d, _ = quiet
    owner = Caller("console", "me", "me")
    status = await d.commands.handle(owner, "/status")
    assert status is not None
    assert "Quiet hours until 2026-01-01 07:00:00 CET: warnings and infos are held" in (
        status.details
    )
    clock.advance(7 * 3600)
    status = await d.commands.handle(owner, "/status")
    assert status is not None and not any("Quiet hours" in line for line in status.details)
