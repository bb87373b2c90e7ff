"""What ends holding an alert back: inhibition end to end (while `down` fires for an
account, its `low` alert is stored but not sent, and a mute's end does not release it; once
`down` resolves, it goes out), and the release pass waking when a mute or quiet period ends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.models import Notification, Severity, TransitionKind
from balancebot.silences import RELEASE_INTERVAL, release_unmuted, until_next_end
from balancebot.store import OutboxEntry, Store
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator

from .conftest import API_KEY
from .test_pipeline import Recorder


async def test_an_unavailable_account_says_so_once_not_also_that_its_balance_is_low(
    make_config: Callable[..., Config], simulator: DeepSeekSimulator, clock: FakeClock
) -> None:
    account = simulator.add_account(API_KEY, {"CNY": ("0.00", "5.00")}, available_override=False)
    config = make_config(
        accounts=[{"name": "prod", "api_key": API_KEY, "base_url": simulator.base_url}],
        rules=[
            {"name": "low", "type": "threshold", "thresholds": {"CNY": {"critical_below": "10"}}},
            {"name": "down", "type": "unavailable"},
        ],
        notifiers=[{"name": "rec", "type": "console"}],
        inhibit=[
            {
                "source_matchers": ['alertname="down"'],
                "target_matchers": ['alertname="low"'],
                "equal": ["account"],
            }
        ],
    )
    recorder = Recorder()
    async with Daemon.open(config, clock, {"rec": recorder}) as d:
        await d.pipeline.check("prod")  # both fire in the same check
        await d.dispatcher.deliver_due()
        assert [(n.rule, n.kind.value) for n in recorder.sent] == [("down", "firing")]
        remember = d.memory.remember_told
        assert await release_unmuted(d.store, clock.now(), remember, config) == 0

        account.available_override = None  # usable again; the balance is still low
        clock.advance(300)
        await d.pipeline.check("prod")
        await d.dispatcher.deliver_due()
        assert [(n.rule, n.kind.value) for n in recorder.sent[1:]] == [("down", "resolved")]
        assert await release_unmuted(d.store, clock.now(), remember, config) == 1
        await d.dispatcher.deliver_due()
        assert [(n.rule, n.kind.value) for n in recorder.sent[2:]] == [("low", "firing")]
        assert recorder.sent[2].labels["account"] == "prod"


async def test_the_release_pass_wakes_when_the_next_mute_or_quiet_period_ends(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    store = await Store.open(f"sqlite:///{tmp_path / 'wake.db'}")
    try:
        assert await until_next_end(store, clock) == RELEASE_INTERVAL  # nothing ends
        now = clock.now()
        await store.add_silence("prod", None, now + timedelta(minutes=5), "cli:ann", now)
        assert await until_next_end(store, clock) == RELEASE_INTERVAL  # later than that
        await store.add_silence(None, "low", now + timedelta(seconds=12), "cli:ann", now)
        assert await until_next_end(store, clock) == timedelta(seconds=12)
        notice = Notification(
            TransitionKind.FIRING, Severity.WARNING, "prod", "low", "", "low", (), now, now
        )
        held = OutboxEntry("rec", "", notice, held_until=now + timedelta(seconds=4))
        await store.enqueue([held], now)
        assert await until_next_end(store, clock) == timedelta(seconds=4)
    finally:
        await store.close()
