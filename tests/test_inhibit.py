"""Inhibition end to end: while `down` fires for an account, its `low` alert is stored but
not sent, and a mute's end does not release it; once `down` resolves, it goes out."""

from __future__ import annotations

from collections.abc import Callable

from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.silences import release_unmuted
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
