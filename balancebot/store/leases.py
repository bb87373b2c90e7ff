"""Leases: how several replicas share work through the store without doing any of it twice.

- **Delivery lanes.** A replica sends to a target (a notifier's chat or channel) only while it
  holds that target's lease, so the messages to each target still go out one at a time and in
  order, whichever replica sends them. Claiming is one `INSERT ... ON CONFLICT DO UPDATE ...
  WHERE` per target: the database serialises competing claims on the row, and the loser's
  `WHERE` (lease expired, its owner dead, or already mine) then fails. A replica that dies
  mid-send leaves its lease; another takes it over once the death is known (`owner_dead`;
  SQLite: the file's lock) or the lease expires, and re-sends the row it had not marked
  delivered (at-least-once).
- **Due checks.** Each account's next check is a row; replicas claim due rows with
  `FOR UPDATE SKIP LOCKED` (on SQLite, one writer at a time makes a plain update enough), so a
  sweep spreads over the replicas, and a dead replica's accounts are taken over at once when
  its death is known (`owner_dead`), else once its lease runs out.

The same SQL runs on SQLite (3.35+: upsert with RETURNING) for the single-instance default.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import BIT
from sqlalchemy.ext.asyncio import AsyncConnection

from .base import StoreBase
from .schema import UTCDateTime, metadata

Target = tuple[str, str]  # (notifier, target)


@dataclass(frozen=True, slots=True)
class CheckLease:
    """A check claimed from the shared schedule: its results are written only while `owner`
    still holds it, and the same transaction schedules the next one at `next_at`."""

    owner: str
    next_at: datetime


LIVENESS_CLASS = 0x62626476  # "bbdv": the high half of every replica's liveness lock key
LIVE_OWNER = ":live:[0-9a-f]{8}$"
"""How the owners that hold a liveness lock end (older versions' owners do not)."""


def new_owner() -> str:
    """This process's name in leases: host, pid and a random part (pids are reused), which
    is also the low half of its liveness lock's key."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:live:{secrets.token_hex(4)}"


def liveness_key(owner: str) -> int:
    """The PostgreSQL advisory lock key `owner` holds while it lives (see `owner_dead`)."""
    return (LIVENESS_CLASS << 32) | int(owner.rpartition(":")[2], 16)


def owner_dead(owner: sa.ColumnElement[str]) -> sa.ColumnElement[bool]:
    """PostgreSQL: `owner` is named as a liveness holder and no session holds its lock (a
    bigint advisory lock is shown as classid = high half, objid = low half, objsubid 1)."""
    locks = sa.table(
        "pg_locks",
        *(sa.column(c) for c in ("locktype", "database", "classid", "objid", "objsubid")),
        sa.column("granted", sa.Boolean),
    )
    databases = sa.table("pg_database", sa.column("oid"), sa.column("datname"))
    here = sa.select(databases.c.oid).where(databases.c.datname == sa.func.current_database())
    token = sa.literal("x") + sa.func.right(owner, 8)
    low_half = sa.case(  # CASE: the cast is only tried on a name that has the hex part
        (owner.regexp_match(LIVE_OWNER), sa.cast(sa.cast(token, BIT(32)), sa.BigInteger)),
    )
    held = sa.exists().where(
        locks.c.locktype == "advisory",
        locks.c.database == here.scalar_subquery(),
        sa.cast(locks.c.classid, sa.BigInteger) == LIVENESS_CLASS,
        sa.cast(locks.c.objid, sa.BigInteger) == low_half,
        locks.c.objsubid == 1,
        locks.c.granted,
    )
    return sa.and_(owner.regexp_match(LIVE_OWNER), ~held)


delivery_leases = sa.Table(
    "delivery_leases",
    metadata,
    sa.Column("notifier", sa.String(64), primary_key=True),
    sa.Column("target", sa.String(128), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("until", UTCDateTime(), nullable=False),
)

check_schedule = sa.Table(
    "check_schedule",
    metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("next_at", UTCDateTime(), nullable=False),
    sa.Column("owner", sa.String(64), nullable=True),
    sa.Column("until", UTCDateTime(), nullable=True),
    sa.Index("ix_check_schedule_next_at", "next_at"),
)


def _upsert(conn: AsyncConnection) -> type[postgresql.Insert] | type[sqlite.Insert]:
    return postgresql.Insert if conn.dialect.name == "postgresql" else sqlite.Insert


async def claim_targets(
    conn: AsyncConnection,
    targets: Iterable[Target],
    owner: str,
    now: datetime,
    until: datetime,
    sole: bool = False,
) -> set[Target]:
    """The targets whose lease `owner` now holds (new, expired, its owner dead, or its own
    renewed). `sole`: no other owner can be alive (the SQLite file's lock is held)."""
    insert = _upsert(conn)
    free = (delivery_leases.c.until <= now) | (delivery_leases.c.owner == owner)
    if conn.dialect.name == "postgresql":
        free |= owner_dead(delivery_leases.c.owner)
    won: set[Target] = set()
    for notifier, target in sorted(set(targets)):  # one order for all: no deadlocks
        row = insert(delivery_leases).values(
            notifier=notifier, target=target, owner=owner, until=until
        )
        claim = row.on_conflict_do_update(
            index_elements=[delivery_leases.c.notifier, delivery_leases.c.target],
            set_={"owner": owner, "until": until},
            where=None if sole else free,
        ).returning(delivery_leases.c.owner)
        if (await conn.execute(claim)).first() is not None:
            won.add((notifier, target))
    return won


async def release_targets(conn: AsyncConnection, targets: Iterable[Target], owner: str) -> None:
    for notifier, target in targets:
        await conn.execute(
            delivery_leases.delete().where(
                delivery_leases.c.notifier == notifier,
                delivery_leases.c.target == target,
                delivery_leases.c.owner == owner,
            )
        )


async def schedule_accounts(
    conn: AsyncConnection, first_due: dict[str, datetime], stale_before: datetime
) -> None:
    """Rows for accounts new to the schedule (existing ones keep their times). Rows of other
    accounts stay: another replica may run a configuration that lists them (a rolling
    change). Rows due since before `stale_before` and not leased are removed: no replica
    has checked them for that long, so none lists them (one that does re-adds its own)."""
    await conn.execute(
        check_schedule.delete().where(
            check_schedule.c.next_at < stale_before,
            sa.or_(check_schedule.c.until.is_(None), check_schedule.c.until < stale_before),
        )
    )
    if first_due:  # one statement for all (10,000 accounts: not 10,000 round trips)
        await conn.execute(
            _upsert(conn)(check_schedule).on_conflict_do_nothing(
                index_elements=[check_schedule.c.account]
            ),
            [{"account": account, "next_at": due} for account, due in first_due.items()],
        )


async def claim_due_checks(
    conn: AsyncConnection,
    owner: str,
    now: datetime,
    until: datetime,
    limit: int,
    skip: Collection[str] = (),
) -> list[str]:
    """Accounts due for a check that no live lease holds (none, expired, or its owner known
    dead: see `owner_dead`), now leased to `owner`; not those in `skip` (accounts the
    replica's configuration does not list)."""
    free = [check_schedule.c.until.is_(None), check_schedule.c.until <= now]
    if conn.dialect.name == "postgresql":
        free.append(owner_dead(check_schedule.c.owner))
    wanted = [check_schedule.c.next_at <= now, sa.or_(*free)]
    if skip:
        wanted.append(check_schedule.c.account.not_in(skip))
    due = (
        sa.select(check_schedule.c.account)
        .where(*wanted)
        .order_by(check_schedule.c.next_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = await conn.execute(
        check_schedule.update()
        .where(check_schedule.c.account.in_(due.scalar_subquery()))
        .values(owner=owner, until=until)
        .returning(check_schedule.c.account)
    )
    return sorted(claimed.scalars())


async def finish_check(conn: AsyncConnection, account: str, owner: str, next_at: datetime) -> bool:
    """Schedule the next check and drop the lease; False if the lease had been taken over."""
    done = await conn.execute(
        check_schedule.update()
        .where(check_schedule.c.account == account, check_schedule.c.owner == owner)
        .values(next_at=next_at, owner=None, until=None)
    )
    return bool(done.rowcount)


async def release_checks(
    conn: AsyncConnection, owner: str, now: datetime, accounts: Collection[str] | None = None
) -> int:
    """`owner`'s claims (or those of `accounts`), handed back due at `now`: another replica
    checks them at once instead of after their leases (or an interval)."""
    mine = [check_schedule.c.owner == owner]
    if accounts is not None:
        mine.append(check_schedule.c.account.in_(accounts))
    done = await conn.execute(
        check_schedule.update().where(*mine).values(next_at=now, owner=None, until=None)
    )
    return int(done.rowcount)


async def next_check_due(conn: AsyncConnection) -> datetime | None:
    due: datetime | None = await conn.scalar(sa.select(sa.func.min(check_schedule.c.next_at)))
    return due


async def reschedule(conn: AsyncConnection, leases: dict[str, CheckLease]) -> None:
    """Next check times for checks just written, their leases released (in the same
    transaction as their results: one commit a batch, not one a check)."""
    if leases:
        await conn.execute(
            check_schedule.update()
            .where(
                check_schedule.c.account == sa.bindparam("a"),
                check_schedule.c.owner == sa.bindparam("o"),
            )
            .values(next_at=sa.bindparam("n"), owner=None, until=None),
            [{"a": a, "o": lease.owner, "n": lease.next_at} for a, lease in leases.items()],
        )


async def lost_leases(conn: AsyncConnection, owners: dict[str, str]) -> list[str]:
    """The accounts whose check lease is no longer held by the owner given, with their
    schedule rows locked until the transaction ends (so no takeover can slip in)."""
    held = await conn.execute(
        sa.select(check_schedule.c.account, check_schedule.c.owner)
        .where(check_schedule.c.account.in_(owners))
        .with_for_update()
    )
    holders = dict(held.tuples().all())
    return sorted(account for account, owner in owners.items() if holders.get(account) != owner)


class LeaseRecords(StoreBase):
    """The shared check schedule, as the store's methods."""

    async def schedule_accounts(
        self, first_due: dict[str, datetime], stale_before: datetime
    ) -> None:
        async with self._writing() as conn:
            await schedule_accounts(conn, first_due, stale_before)

    async def claim_due_checks(
        self, owner: str, now: datetime, lease: timedelta, limit: int, skip: Collection[str] = ()
    ) -> list[str]:
        async with self._writing() as conn:
            return await claim_due_checks(conn, owner, now, now + lease, limit, skip)

    async def finish_check(self, account: str, owner: str, next_at: datetime) -> bool:
        async with self._writing() as conn:
            return await finish_check(conn, account, owner, next_at)

    async def release_checks(
        self, owner: str, now: datetime, accounts: Collection[str] | None = None
    ) -> int:
        async with self._writing() as conn:
            return await release_checks(conn, owner, now, accounts)

    async def configurations(self) -> set[str]:
        """The configuration fingerprints of the replicas connected now (PostgreSQL: read
        from the sessions' `application_name`, `balancebot/<fingerprint>`)."""
        query = sa.text(
            "SELECT DISTINCT application_name FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name LIKE 'balancebot/%'"
        )
        async with self._reading() as conn:
            names = (await conn.execute(query)).scalars()
            return {name.removeprefix("balancebot/") for name in names}

    async def next_check_due(self) -> datetime | None:
        async with self._engine.connect() as conn:
            return await next_check_due(conn)
