"""The store suite, run on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from balancebot.models import (
    AlertKey,
    AlertState,
    AlertStatus,
    BalanceSnapshot,
    CheckFailure,
    CurrencyBalance,
    FailureKind,
    Notification,
    Severity,
    TransitionKind,
)
from balancebot.store import AccountView, OutboxEntry, Store, accounts

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def snap(at: datetime, cny: str = "110.00", account: str = "prod") -> BalanceSnapshot:
    return BalanceSnapshot(
        account,
        "deepseek",
        at,
        True,
        {"CNY": CurrencyBalance(Decimal(cny), Decimal("10.00"), Decimal(cny) - 10)},
    )


def note(headline: str, account: str = "prod") -> Notification:
    return Notification(
        TransitionKind.FIRING,
        Severity.WARNING,
        account,
        "low",
        "CNY",
        headline,
        ("CNY: 1.00", '<b>&"x"</b>'),
        T0,
        T0 - timedelta(minutes=5),
    )


async def test_history_round_trips_exactly(store: Store) -> None:
    precise = BalanceSnapshot(
        "prod",
        "deepseek",
        T0,
        False,
        {
            "CNY": CurrencyBalance(Decimal("0.0001"), Decimal("0"), Decimal("0.0001")),
            "USD": CurrencyBalance(Decimal("123456789.99"), Decimal("1"), Decimal("123456788.99")),
        },
    )
    failure = CheckFailure(
        "prod", "deepseek", T0 + timedelta(minutes=1), FailureKind.TIMEOUT, "slow"
    )
    await store.save_check(precise)
    await store.save_check(failure)
    await store.save_check(snap(T0, account="other"))
    assert await store.recent_results("prod", 5) == [precise, failure]
    assert await store.recent_results("prod", 1) == [failure]
    assert await store.history("prod", T0 - timedelta(days=1)) == [precise]
    assert await store.history("prod", T0 + timedelta(seconds=1)) == []


async def test_alert_states_round_trip_and_inactive_is_absent(store: Store) -> None:
    key = AlertKey("prod", "low", "CNY")
    firing = AlertState(key, AlertStatus.FIRING, Severity.CRITICAL, 2, T0, T0 + timedelta(hours=1))
    await store.save_check(snap(T0), [firing])
    assert await store.alert_states() == {key: firing}
    await store.save_check(snap(T0 + timedelta(minutes=5)), [AlertState(key)])
    assert await store.alert_states() == {}


async def test_outbox_delivers_in_order_and_holds_the_line(store: Store) -> None:
    await store.save_check(
        snap(T0),
        entries=[
            OutboxEntry("tg", "42", note("one")),
            OutboxEntry("slack", "C1", note("one")),
            OutboxEntry("tg", "42", note("two")),
            OutboxEntry("tg", "7", note("other chat")),
            OutboxEntry("tg", "42", note("muted"), muted=True),
        ],
        now=T0,
    )
    due = await store.due_deliveries(T0)
    assert [(d.notifier, d.target, d.notification.headline) for d in due] == [
        ("tg", "42", "one"),
        ("slack", "C1", "one"),
        ("tg", "42", "two"),
        ("tg", "7", "other chat"),
    ]
    assert due[0].notification == note("one")  # the payload survives JSON exactly
    # a retry scheduled for "one" to chat 42 holds back "two" there, but no other target
    await store.mark_retry(due[0].id, 1, T0 + timedelta(seconds=30), "429")
    assert [d.id for d in await store.due_deliveries(T0)] == [due[1].id, due[3].id]
    await store.mark_delivered(due[3].id, T0)
    assert await store.next_delivery_due() == T0
    await store.mark_delivered(due[1].id, T0)
    assert await store.next_delivery_due() == T0  # "two" is still pending
    later = await store.due_deliveries(T0 + timedelta(seconds=30))
    assert [d.id for d in later] == [due[0].id, due[2].id]
    assert later[0].attempts == 1
    await store.mark_delivered(due[0].id, T0)
    await store.mark_failed(due[2].id, 1, "chat not found")
    assert await store.due_deliveries(T0 + timedelta(days=1)) == []
    assert await store.next_delivery_due() is None


async def test_silences(store: Store) -> None:
    until = T0 + timedelta(hours=2)
    silence = await store.add_silence("prod", None, until, "telegram:42", T0)
    assert await store.active_silences(T0) == [silence]
    assert silence.matches(AlertKey("prod", "any"), T0)
    assert not silence.matches(AlertKey("dev", "any"), T0)
    assert await store.active_silences(until) == []


async def test_reopening_keeps_everything(store_url: str) -> None:
    first = await Store.open(store_url)
    await first.save_check(snap(T0), entries=[OutboxEntry("tg", "1", note("kept"))], now=T0)
    await first.close()
    second = await Store.open(store_url)
    try:
        assert [d.notification.headline for d in await second.due_deliveries(T0)] == ["kept"]
    finally:
        await second.close()


async def test_downsampling_keeps_one_snapshot_per_hour(store: Store) -> None:
    for minute in range(180):  # three hours of one-minute checks, one failure among them
        at = T0 + timedelta(minutes=minute)
        if minute == 61:
            await store.save_check(CheckFailure("prod", "deepseek", at, FailureKind.TIMEOUT, "x"))
        else:
            await store.save_check(snap(at, cny=str(200 - minute)))
    await store.save_check(snap(T0, account="dev"))
    removed = await store.downsample(T0 + timedelta(hours=2), timedelta(hours=1))
    assert removed == 120 - 3  # kept: prod 12:00, 13:00 and the 13:01 failure
    history = await store.history("prod", T0)
    assert [s.taken_at for s in history[:2]] == [T0, T0 + timedelta(hours=1)]
    assert len(history) == 2 + 60
    assert history[0].balances["CNY"].total == Decimal("200")
    assert await store.history("dev", T0) == [snap(T0, account="dev")]
    assert await store.downsample(T0 + timedelta(hours=2), timedelta(hours=1)) == 0


async def test_history_can_be_thinned_by_the_database(store: Store) -> None:
    for minute in range(180):
        at = T0 + timedelta(minutes=minute)
        if minute == 30:  # a failed check opens the third slice: its first success stands
            await store.save_check(CheckFailure("prod", "deepseek", at, FailureKind.TIMEOUT, "x"))
        else:
            await store.save_check(snap(at, cny=str(300 - minute)))
    await store.save_check(snap(T0 + timedelta(minutes=5), account="dev"))
    until = T0 + timedelta(minutes=180)
    thin = await store.history("prod", T0, max_points=12, until=until)
    expected = [T0 + timedelta(minutes=15 * i) for i in range(12)]
    expected[2] += timedelta(minutes=1)
    assert [s.taken_at for s in thin] == expected
    assert thin[1].balances["CNY"].total == Decimal("285")
    assert len(await store.history("prod", T0)) == 179


async def test_concurrent_checks_share_a_transaction_and_keep_their_own_rows(
    store: Store,
) -> None:
    """Group commit: each snapshot gets its own balances back, duplicates of one
    (account, time) included, and one bad check fails alone."""
    accounts = [f"acct-{i}" for i in range(60)]
    good = [snap(T0, f"{100 + i}.00", account=name) for i, name in enumerate(accounts)]
    twin = snap(T0, "7.00", account="acct-0")  # same account and time as good[0]
    broken_key = AlertKey(None, "low", "CNY")  # type: ignore[arg-type]
    outcomes = await asyncio.gather(
        *(store.save_check(s) for s in good),
        store.save_check(twin),
        store.save_check(snap(T0, account="bad"), [AlertState(broken_key, AlertStatus.FIRING)]),
        return_exceptions=True,
    )
    assert outcomes[:-1] == [None] * (len(good) + 1)
    assert isinstance(outcomes[-1], Exception)  # NOT NULL account: this one alone rolls back
    for i, name in enumerate(accounts[1:], start=1):
        (latest,) = await store.recent_results(name, 5)
        assert latest == good[i]
    first = await store.recent_results("acct-0", 5)
    assert sorted(r.balances["CNY"].total for r in first) == [  # type: ignore[union-attr]
        Decimal("7.00"),
        Decimal("100.00"),
    ]
    assert await store.recent_results("bad", 5) == []


async def test_a_check_cancelled_before_its_commit_leaves_nothing(store: Store) -> None:
    saving = asyncio.create_task(store.save_check(snap(T0, account="gone")))
    await asyncio.sleep(0)  # it queues its rows; the commit runs on the next turn
    saving.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await saving
    await store.save_check(snap(T0, account="kept"))  # the queue has been worked through
    assert await store.recent_results("gone", 5) == []
    assert len(await store.recent_results("kept", 5)) == 1


async def test_a_batch_reads_back_each_account_as_a_read_of_its_own_would(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`account_views` (a sweep's claim, read in one go): each account's own last results,
    states and told routes, across statement chunks, and an empty view for an unknown one."""
    monkeypatch.setattr(accounts, "UNION_MAX", 2)  # five accounts: three statements
    monkeypatch.setattr(accounts, "IN_LIST_MAX", 2)
    names = [f"acct-{i}" for i in range(5)]
    for i, name in enumerate(names):
        key = AlertKey(name, "low", "CNY")
        for minute in range(i + 1):  # acct-i has i + 1 results
            at = T0 + timedelta(minutes=minute)
            states = [AlertState(key, AlertStatus.FIRING, Severity.WARNING, 1, at)] if i % 2 else []
            entries = [OutboxEntry("tg", "1", note("low", account=name))] if i % 2 else []
            await store.save_check(snap(at, f"{i}{minute}", account=name), states, entries, at)
    limits = {name: 1 + i % 3 for i, name in enumerate(names)} | {"unknown": 5}
    views = await store.account_views(limits)
    assert list(views) == list(limits)
    for name, limit in limits.items():
        assert views[name].recent == await store.recent_results(name, limit)
        assert views[name].states == await store.alert_states(name)
        assert views[name].told == await store.told_routes(name)
    assert [len(views[n].recent) for n in names] == [1, 2, 3, 1, 2]
    assert views["acct-3"].told == {AlertKey("acct-3", "low", "CNY"): {("tg", "1")}}
    assert views["acct-2"].states == {} and views["unknown"] == AccountView()
