"""Spend, runway and the daily digest, from seeded history that includes a top-up."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.models import BalanceSnapshot, CurrencyBalance, TransitionKind
from balancebot.spend import days_left, spent
from balancebot.store import OutboxEntry, Store
from balancebot.testing.clock import FakeClock

from .test_pipeline import Recorder
from .test_store import note

NOW = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
CNY = "CNY"


def point(hours_ago: float, granted: str, topped_up: str, account: str = "prod") -> BalanceSnapshot:
    g, t = Decimal(granted), Decimal(topped_up)
    return BalanceSnapshot(
        account,
        "deepseek",
        NOW - timedelta(hours=hours_ago),
        True,
        {CNY: CurrencyBalance(g + t, g, t)},
    )


def week_of_history() -> list[BalanceSnapshot]:
    """Hourly for 7 days: 0.50 spent per hour, granted first; +100.00 topped up 3 days ago."""
    history = []
    granted, topped = Decimal("20.00"), Decimal("180.00")
    for hours_ago in range(168, -1, -1):
        if hours_ago == 72:
            topped += 100
        history.append(point(hours_ago, str(granted), str(topped)))
        take = min(Decimal("0.50"), granted)
        granted -= take
        topped -= Decimal("0.50") - take
    return history


def test_top_ups_are_not_spend() -> None:
    history = week_of_history()
    assert spent(history, CNY, NOW - timedelta(days=1)) == Decimal("12.00")
    # 168 hours x 0.50 = 84.00, less the 0.50 spent in the hour the top-up landed in:
    # that hour's topped-up balance rose, and a rise is never counted as spend
    assert spent(history, CNY, NOW - timedelta(days=7)) == Decimal("83.50")
    left = days_left(history, CNY, NOW, timedelta(days=7))
    assert left is not None
    assert history[-1].balances[CNY].total == Decimal("216.00")
    assert round(left, 2) == Decimal("18.11")  # 216 / (83.50 / 7)


def test_expiring_grants_count_and_flat_history_has_no_runway() -> None:
    expired = [point(2, "10.00", "50.00"), point(1, "0.00", "50.00")]
    assert spent(expired, CNY, NOW - timedelta(days=1)) == Decimal("10.00")
    flat = [point(2, "0", "50"), point(1, "0", "50")]
    assert days_left(flat, CNY, NOW, timedelta(days=7)) is None
    assert days_left(flat[:1], CNY, NOW, timedelta(days=7)) is None


async def test_digest_goes_to_each_route_with_the_numbers(
    make_config: Callable[..., Config],
) -> None:
    config = make_config(
        accounts=[{"name": "prod", "api_key": "k"}, {"name": "dev", "api_key": "k2"}],
        notifiers=[
            {"name": "team", "type": "console"},
            {"name": "pager", "type": "console"},
            {"name": "devs", "type": "console"},
        ],
        routes=[
            {"notifiers": ["team"]},
            {"notifiers": ["pager"], "min_severity": "critical"},  # no digest for the pager
            {"notifiers": ["devs"], "accounts": ["dev"]},
        ],
        digest={"schedule": "0 9 * * *"},
        timezone="Asia/Shanghai",
    )
    recorders = {name: Recorder(name) for name in ("team", "pager", "devs")}
    clock = FakeClock(NOW)
    async with Daemon.open(config, clock, recorders) as daemon:
        store: Store = daemon.store
        for snapshot in week_of_history():
            await store.save_check(snapshot)
        fired = note("fired")
        await store.enqueue(
            [OutboxEntry("team", "", fired), OutboxEntry("pager", "", fired)],
            NOW - timedelta(hours=3),
        )
        await store.enqueue([OutboxEntry("team", "", note("old"))], NOW - timedelta(days=2))
        await daemon.dispatcher.deliver_due()
        await daemon.send_digest()
        await daemon.dispatcher.deliver_due()
    team = recorders["team"].sent[-1]
    assert team.kind is TransitionKind.DIGEST and team.icon == "📊"
    assert team.headline == "Daily balance digest for 2026-03-08"
    assert team.details == (
        "prod CNY: 216.00 — spent 12.00 in 24h, 83.50 in 7 days — about 18.1 days left",
        "prod: alerts fired in 24h: 1",
        "dev: no successful check in the last 7 days",
        "dev: alerts fired in 24h: 0",
    )
    assert [n.kind for n in recorders["pager"].sent] == [TransitionKind.FIRING]
    assert recorders["devs"].sent[-1].details == (
        "dev: no successful check in the last 7 days",
        "dev: alerts fired in 24h: 0",
    )
