"""Spend, runway and the daily digest, from seeded history that includes a top-up."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.digest import account_lines, runway_words
from balancebot.models import BalanceSnapshot, CurrencyBalance, TransitionKind
from balancebot.spend import ZERO, NotEnoughHistory, Runway, last_top_up, runway, spent
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
    week = runway(history, CNY, NOW, timedelta(days=7))
    assert isinstance(week, Runway)
    assert week.balance == Decimal("216.00")
    assert week.days is not None and round(week.days, 2) == Decimal("18.11")  # 216 / (83.50 / 7)
    day = runway(history, CNY, NOW)  # the default window: 24 h
    assert isinstance(day, Runway) and day.per_day == Decimal("12.00")
    assert day.days == Decimal("18") and day.runs_out_at == NOW + timedelta(days=18)


def test_expiring_grants_count_and_flat_history_has_no_runway() -> None:
    expired = [point(2, "10.00", "50.00"), point(1, "0.00", "50.00")]
    assert spent(expired, CNY, NOW - timedelta(days=1)) == Decimal("10.00")
    flat = [point(8, "0", "50"), point(1, "0", "50")]
    found = runway(flat, CNY, NOW)
    assert isinstance(found, Runway) and found.days is None and found.runs_out_at is None


def test_a_minute_of_history_is_not_enough_for_a_rate() -> None:
    """After one minute in which 30 CNY were spent the rate is unknown, not "0.0 days"."""
    minute = [point(1 / 60, "0", "790"), point(0, "0", "760")]
    found = runway(minute, CNY, NOW)
    assert found == NotEnoughHistory(CNY, timedelta(minutes=1), timedelta(hours=6))
    assert runway_words(found) == "not enough history yet"
    assert runway(minute[:1], CNY, NOW) == NotEnoughHistory(CNY, timedelta(0), timedelta(hours=6))
    assert runway([], CNY, NOW) == NotEnoughHistory(CNY, timedelta(0), timedelta(hours=6))
    # six hours is enough by default, and the minimum is configurable
    six = [point(6, "0", "790"), point(0, "0", "760")]
    assert isinstance(runway(six, CNY, NOW), Runway)
    assert isinstance(runway(six, CNY, NOW, min_history=timedelta(hours=7)), NotEnoughHistory)
    assert isinstance(runway(minute, CNY, NOW, min_history=timedelta(seconds=30)), Runway)


def test_a_balance_without_a_split_is_read_by_its_total() -> None:
    """Providers that report only a total: a drop is spend, a rise is a top-up."""

    def total(hours_ago: float, amount: str) -> BalanceSnapshot:
        value = Decimal(amount)
        return BalanceSnapshot(
            "prod",
            "x",
            NOW - timedelta(hours=hours_ago),
            True,
            {CNY: CurrencyBalance(value, ZERO, ZERO)},
        )

    history = [total(12, "100"), total(6, "94"), total(5, "594"), total(0, "589")]
    assert spent(history, CNY, NOW - timedelta(days=1)) == Decimal("11")
    assert last_top_up(history[:3], CNY) == Decimal("500")
    assert last_top_up(history, CNY) == ZERO
    found = runway(history, CNY, NOW)
    assert isinstance(found, Runway) and found.per_day == Decimal("22")


@given(
    steps=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=180),  # minutes since the previous check
            st.decimals(min_value=-50, max_value=50, places=2),  # change in topped-up
        ),
        max_size=40,
    ),
    window_hours=st.integers(min_value=1, max_value=48),
    min_hours=st.integers(min_value=0, max_value=48),
)
def test_runway_properties(
    steps: list[tuple[int, Decimal]], window_hours: int, min_hours: int
) -> None:
    """A rate only from enough history; the rate is the drops (never the rises) over the
    time covered; the forecast is the balance over the rate."""
    at, topped = NOW - timedelta(days=5), Decimal("1000")
    history = [
        BalanceSnapshot("prod", "deepseek", at, True, {CNY: CurrencyBalance(topped, ZERO, topped)})
    ]
    for minutes, change in steps:
        at += timedelta(minutes=minutes)
        topped += change
        history.append(
            BalanceSnapshot(
                "prod", "deepseek", at, True, {CNY: CurrencyBalance(topped, ZERO, topped)}
            )
        )
    window, least = timedelta(hours=window_hours), timedelta(hours=min_hours)
    found = runway(history, CNY, at, window, least)
    inside = [s for s in history if s.taken_at >= at - window]
    span = inside[-1].taken_at - inside[0].taken_at
    if span < min(least, window) or span <= timedelta(0):
        assert isinstance(found, NotEnoughHistory) and found.covered == span
        return
    assert isinstance(found, Runway)
    assert found.per_day >= 0 and found.balance == topped
    used = sum((max(ZERO, -c) for m, c in steps[len(steps) - len(inside) + 1 :]), ZERO)
    assert found.per_day * Decimal(span.total_seconds()) / 86400 == pytest.approx(used)
    if found.days is not None:
        assert found.days * found.per_day == pytest.approx(max(ZERO, topped))
    assert spent(inside, CNY, at - window) == used


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
        "prod CNY: 216.00 — spent 12.00 in 24h, 83.50 in 7 days — about 18.0 days left",
        "prod: alerts fired in 24h: 1",
        "dev: no successful check in the last 7 days",
        "dev: alerts fired in 24h: 0",
    )
    assert [n.kind for n in recorders["pager"].sent] == [TransitionKind.FIRING]
    assert recorders["devs"].sent[-1].details == (
        "dev: no successful check in the last 7 days",
        "dev: alerts fired in 24h: 0",
    )


async def test_digest_after_a_minute_of_history_says_so(
    store: Store, make_config: Callable[..., Config]
) -> None:
    """The report in issue 15: one minute, 30 CNY spent, and the digest said "about 0.0
    days left"."""
    config = make_config(accounts=[{"name": "prod", "api_key": "k"}])
    await store.save_check(point(1 / 60, "0", "790"))
    await store.save_check(point(0, "0", "760"))
    lines = await account_lines(store, "prod", NOW, config)
    assert lines[0] == (
        "prod CNY: 760.00 — spent 30.00 in 24h, 30.00 in 7 days — not enough history yet"
    )
