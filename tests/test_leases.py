"""Leases between replicas sharing one store (two `Store`s on one database stand for two
processes): each target is sent to by one replica at a time, in order, nothing delivered is
sent again, a dead replica's lease is taken over once it expires, and due checks are split
between replicas without overlap."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from balancebot.models import Notification, Severity, TransitionKind
from balancebot.store import OutboxEntry, Store

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)
DAY = timedelta(days=1)


def entry(target: str, headline: str) -> OutboxEntry:
    notification = Notification(
        TransitionKind.FIRING, Severity.WARNING, "prod", "low", "CNY", headline, (), T0, T0
    )
    return OutboxEntry("chat", target, notification)


@pytest.fixture
async def replicas(store_url: str) -> AsyncIterator[tuple[Store, Store]]:
    one, two = await Store.open(store_url), await Store.open(store_url)
    try:
        yield one, two
    finally:
        await one.close()
        await two.close()


def headlines(rows: list[object]) -> list[tuple[str, str]]:
    return [(r.target, r.notification.headline) for r in rows]  # type: ignore[attr-defined]


async def test_one_replica_per_target_in_order_and_nothing_sent_twice(
    replicas: tuple[Store, Store],
) -> None:
    one, two = replicas
    await one.enqueue([entry("a", "a1"), entry("a", "a2"), entry("b", "b1")], T0)
    mine = await one.claim_deliveries(T0, "one", LEASE)
    assert headlines(mine) == [("a", "a1"), ("a", "a2"), ("b", "b1")]
    assert await two.claim_deliveries(T0, "two", LEASE) == []  # held by "one"

    await one.mark_delivered(mine[0].id, T0)  # a1 sent; then "one" lets go of both targets
    await one.release_deliveries({("chat", "a"), ("chat", "b")}, "one")
    theirs = await two.claim_deliveries(T0, "two", LEASE)
    assert headlines(theirs) == [("a", "a2"), ("b", "b1")]  # a1 is never sent again


async def test_a_dead_replicas_lease_is_taken_over_when_it_expires(
    replicas: tuple[Store, Store],
) -> None:
    one, two = replicas
    await one.enqueue([entry("a", "a1")], T0)
    assert headlines(await one.claim_deliveries(T0, "one", LEASE)) == [("a", "a1")]
    # "one" dies mid-send: no release, no mark
    assert await two.claim_deliveries(T0 + LEASE - timedelta(seconds=1), "two", LEASE) == []
    later = T0 + LEASE
    assert headlines(await two.claim_deliveries(later, "two", LEASE)) == [("a", "a1")]
    # "one" comes back: the lease is "two"'s now
    assert await one.claim_deliveries(later, "one", LEASE) == []


async def test_concurrent_claims_give_each_target_to_exactly_one_replica(
    store_url: str,
) -> None:
    stores = [await Store.open(store_url) for _ in range(4)]
    try:
        targets = [f"t{i}" for i in range(12)]
        await stores[0].enqueue([entry(t, t) for t in targets], T0)
        claims = await asyncio.gather(
            *(store.claim_deliveries(T0, f"r{i}", LEASE) for i, store in enumerate(stores))
        )
        won = [row.target for rows in claims for row in rows]
        assert sorted(won) == sorted(targets)  # every target once, none twice
    finally:
        for store in stores:
            await store.close()


async def test_due_checks_are_split_between_replicas_and_taken_over_after_a_crash(
    store_url: str,
) -> None:
    stores = [await Store.open(store_url) for _ in range(3)]
    try:
        accounts = {f"acct{i}": T0 for i in range(30)}
        await stores[0].schedule_accounts(accounts, T0 - DAY)
        await stores[1].schedule_accounts(accounts, T0 - DAY)  # a second replica: no change
        claims = await asyncio.gather(
            *(s.claim_due_checks(f"r{i}", T0, LEASE, 12) for i, s in enumerate(stores))
        )
        claimed = [a for batch in claims for a in batch]
        assert len(claimed) == len(set(claimed)) == 30  # disjoint, and together all of them

        # r0 finishes its checks; r1 dies holding its leases; r2 finishes
        interval = timedelta(minutes=5)
        for account in claims[0]:
            assert await stores[0].finish_check(account, "r0", T0 + interval)
        for account in claims[2]:
            assert await stores[2].finish_check(account, "r2", T0 + interval)
        assert await stores[0].claim_due_checks("r0", T0 + timedelta(seconds=30), LEASE, 50) == []
        taken_over = await stores[2].claim_due_checks("r2", T0 + LEASE, LEASE, 50)
        assert taken_over == sorted(claims[1])  # within one lease of r1's death
        # r1 comes back late: its lease is gone, so its result does not move the schedule
        assert not await stores[1].finish_check(claims[1][0], "r1", T0 + interval)
        assert await stores[0].next_check_due() == T0  # r2 still holds them, not finished

        # a replica whose configuration lists only acct0 leaves the others' rows alone
        # (another replica may list them) and claims only what it lists
        await stores[0].schedule_accounts({"acct0": T0}, T0 - DAY)
        others = {f"acct{i}" for i in range(1, 30)}
        claimed = await stores[0].claim_due_checks("r0", T0 + interval, LEASE, 50, others)
        assert claimed == ["acct0"]
        assert len(await stores[1].claim_due_checks("r1", T0 + interval, LEASE, 50)) == 29
        # rows no replica has checked for a day are removed at a start (acct0 re-added)
        later = T0 + interval + DAY + 2 * LEASE
        await stores[0].schedule_accounts({"acct0": T0}, later - DAY)
        assert await stores[1].claim_due_checks("r1", later, LEASE, 50) == ["acct0"]
    finally:
        for store in stores:
            await store.close()


async def test_results_of_a_check_whose_lease_was_taken_over_are_refused(
    replicas: tuple[Store, Store],
) -> None:
    from balancebot.errors import LeaseLost
    from balancebot.models import CheckFailure, FailureKind
    from balancebot.store.leases import CheckLease

    one, two = replicas
    await one.schedule_accounts({"prod": T0}, T0 - DAY)
    assert await one.claim_due_checks("one", T0, LEASE, 10) == ["prod"]
    # "one" is slow; its lease runs out and "two" takes the account over
    assert await two.claim_due_checks("two", T0 + LEASE, LEASE, 10) == ["prod"]
    late = CheckFailure("prod", "deepseek", T0 + LEASE, FailureKind.TIMEOUT, "slow")
    with pytest.raises(LeaseLost, match="prod"):
        await one.save_check(late, entries=[entry("a", "late")], lease=CheckLease("one", T0))
    await two.save_check(late, entries=[entry("a", "on time")], lease=CheckLease("two", T0))
    due = await two.due_deliveries(T0 + LEASE)
    assert headlines(due) == [("a", "on time")]
