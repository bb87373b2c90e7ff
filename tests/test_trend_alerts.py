"""Trend rules end to end: simulator → pipeline (with the history it keeps) → alert
transitions → outbox → notifiers, on fake time, and across a restart."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import msgspec

from balancebot.commands.access import Caller
from balancebot.config import AllowRule, Config
from balancebot.daemon import Daemon
from balancebot.models import TransitionKind
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.trends import history_state

from .conftest import API_KEY
from .test_pipeline import Recorder


def trend_config(simulator: DeepSeekSimulator, make_config: Callable[..., Config]) -> Config:
    return make_config(
        accounts=[
            {"name": "prod", "api_key": API_KEY, "base_url": simulator.base_url, "timeout": "1s"}
        ],
        rules=[
            {"name": "runway", "type": "runway", "warning_days": "3", "critical_days": "1"},
            {"name": "top-up", "type": "top_up"},
            {
                "name": "low",
                "type": "threshold",
                "thresholds": {"CNY": {"warning_below": "50"}},
            },
        ],
        notifiers=[{"name": "team", "type": "console"}, {"name": "pager", "type": "console"}],
        routes=[
            {"notifiers": ["team"]},
            {"notifiers": ["pager"], "min_severity": "warning"},
        ],
        timezone="Asia/Shanghai",
    )


async def test_runway_warning_top_up_notice_and_resolution(
    simulator: DeepSeekSimulator, make_config: Callable[..., Config], clock: FakeClock
) -> None:
    config = trend_config(simulator, make_config)
    account = simulator.add_account(API_KEY, {"CNY": ("0.00", "100.00")})
    team, pager = Recorder("team"), Recorder("pager")

    async def hour(d: Daemon, spend: str = "2") -> list[TransitionKind]:
        account.topped_up["CNY"] -= Decimal(spend)
        clock.advance(3600)
        outcome = await d.pipeline.check("prod")
        await d.dispatcher.deliver_due()
        return [t.kind for t in outcome.transitions]

    async with Daemon.open(config, clock, {"team": team, "pager": pager}) as d:
        assert await hour(d, "0") == []
        for _ in range(5):  # 48 CNY a day, but five hours are no basis for a rate
            assert await hour(d) == []
        waiting = history_state(config.rules_for("prod"), d.memory.recent("prod"))
        assert [w.waiting.covered.total_seconds() for w in waiting] == [5 * 3600]
        assert await hour(d) == [TransitionKind.FIRING]  # 88 left: 1.8 days
    assert team.headlines() == pager.headlines()
    assert team.headlines()[-1].startswith(
        "WARNING: prod DeepSeek at 48.00 CNY/day (last 6 h) runs out in about 1.8 days, around "
    )

    # a restart reloads the window from the store: the verdict holds at once
    async with Daemon.open(config, clock, {"team": team, "pager": pager}) as d:
        assert history_state(config.rules_for("prod"), d.memory.recent("prod")) == []
        account.topped_up["CNY"] += Decimal("500")
        assert await hour(d, "0") == [TransitionKind.RESOLVED, TransitionKind.FIRING]
        owner = Caller("console", "local", "owner")
        status = await d.commands.handle(owner, "/status")
        assert status.headline == "Status: all clear"  # a top-up is news, not a problem
        assert await hour(d) == []  # the top-up notice is an event: nothing more to say
    resolved, topped = team.sent[-2:]
    assert resolved.kind is TransitionKind.RESOLVED
    assert resolved.headline == (
        "RESOLVED: prod DeepSeek at 41.14 CNY/day (last 7 h) lasts about 14.3 days"
        " (topped up +500.00 CNY)"
    )
    assert topped.headline == "INFO: prod DeepSeek topped up +500.00 CNY, now 588.00"
    assert topped.icon == "🔵"
    # info notices follow the routes: the pager only takes warnings and worse
    assert [n.headline for n in pager.sent if "topped up +500" in n.headline] == [resolved.headline]


async def test_balance_shows_runway_and_todays_spend_and_status_says_what_waits(
    simulator: DeepSeekSimulator, make_config: Callable[..., Config], clock: FakeClock
) -> None:
    config = trend_config(simulator, make_config)
    owner = Caller("telegram", "42", "42", "owner", private=True)
    config = msgspec.structs.replace(
        config,
        chat=msgspec.structs.replace(
            config.chat, allow=[AllowRule(platform="telegram", users=["42"])]
        ),
    )
    account = simulator.add_account(API_KEY, {"CNY": ("0.00", "100.00")})
    clock.advance(-clock.now().timestamp() % 86400 + 16 * 3600)  # 16:00 UTC, 00:00 Shanghai
    async with Daemon.open(config, clock, {"team": Recorder(), "pager": Recorder()}) as d:
        for hour in range(3):
            if hour:
                account.topped_up["CNY"] -= Decimal("2")
                clock.advance(3600)
            await d.pipeline.check("prod")
        status = await d.commands.handle(owner, "/status")
        assert "    runway CNY: not enough history yet (2 h of 6 h)" in status.details
        early = await d.commands.handle(owner, "/balance")
        assert early.details[-1] == "  CNY: not enough history yet (2 h of 6 h); spent today 4.00"
        for _ in range(5):
            account.topped_up["CNY"] -= Decimal("2")
            clock.advance(3600)
            await d.pipeline.check("prod")
        later = await d.commands.handle(owner, "/balance")
        status = await d.commands.handle(owner, "/status")
    assert later.details[-1] == (
        "  CNY: at 48.00 CNY/day (last 7 h) runs out in about 1.8 days, around Sun 02:00;"
        " spent today 14.00"
    )
    assert not any("not enough history" in line for line in status.details)
