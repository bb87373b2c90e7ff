"""The outbox: notifications waiting for delivery, each target's in order, claimed through
delivery leases so several replicas never send one twice or out of order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..models import (
    TransitionKind,
)
from . import leases
from .base import StoreBase
from .codec import (
    Delivery,
    Grouping,
    OutboxEntry,
    OutboxStatus,
    SentRow,
    as_utc,
    notification_from_json,
    notification_to_json,
)
from .schema import _earlier, outbox


async def insert_outbox(
    conn: AsyncConnection, entries: Iterable[tuple[OutboxEntry, datetime]]
) -> None:
    flushes: dict[tuple[str, str, str], datetime] = {}
    rows = []
    for e, now in entries:
        due = e.held_until or now
        if e.group is not None and e.status == OutboxStatus.PENDING:
            where = (e.notifier, e.target, e.group.key)
            if where not in flushes:
                flushes[where] = await _group_flush(conn, where, e.group, now)
            due = flushes[where]
        rows.append(
            {
                "created_at": now,
                "notifier": e.notifier,
                "target": e.target,
                "account": e.notification.account,
                "rule": e.notification.rule,
                "kind": e.notification.kind.value,
                "payload": notification_to_json(e.notification),
                "status": e.status,
                "attempts": 0,
                "next_attempt_at": due,
                "delivered_at": now if e.told else None,
                "group_key": e.group.key if e.group is not None else None,
            }
        )
    if rows:
        await conn.execute(outbox.insert(), rows)


async def _group_flush(
    conn: AsyncConnection, where: tuple[str, str, str], group: Grouping, now: datetime
) -> datetime:
    """When a new row of a group to a target goes out: with the group's rows already
    waiting, or `interval` after the group's last message, or (a new group) `wait` from now."""
    notifier, target, key = where
    same = [outbox.c.notifier == notifier, outbox.c.target == target, outbox.c.group_key == key]
    waiting = await conn.scalar(
        sa.select(sa.func.min(outbox.c.next_attempt_at)).where(
            *same, outbox.c.status == OutboxStatus.PENDING, outbox.c.attempts == 0
        )
    )
    if waiting is not None:
        return as_utc(waiting)
    told = await conn.scalar(
        sa.select(sa.func.max(outbox.c.delivered_at)).where(
            *same, outbox.c.status == OutboxStatus.DELIVERED
        )
    )
    if told is not None and as_utc(told) + group.interval > now:
        return as_utc(told) + group.interval
    return now + group.wait


class OutboxRecords(StoreBase):
    async def held_due(self, now: datetime) -> list[Delivery]:
        """Rows held by quiet hours that have ended, oldest first."""
        async with self._reading() as conn:
            rows = await conn.execute(
                sa.select(outbox)
                .where(outbox.c.status == OutboxStatus.HELD, outbox.c.next_attempt_at <= now)
                .order_by(outbox.c.id)
            )
            return [
                Delivery(r.id, r.notifier, r.target, notification_from_json(r.payload), 0)
                for r in rows
            ]

    async def next_held_due(self) -> datetime | None:
        """When the earliest quiet period holding a row ends."""
        async with self._reading() as conn:
            due = await conn.scalar(
                sa.select(sa.func.min(outbox.c.next_attempt_at)).where(
                    outbox.c.status == OutboxStatus.HELD
                )
            )
        return as_utc(due) if due is not None else None

    async def summarize_held(
        self, ids: Sequence[int], summaries: Iterable[OutboxEntry], now: datetime
    ) -> None:
        """Replace held rows by their summaries, in one transaction."""
        async with self._writing() as conn:
            for start in range(0, len(ids), 500):
                await conn.execute(
                    outbox.update()
                    .where(outbox.c.id.in_(ids[start : start + 500]))
                    .values(status=OutboxStatus.SUMMARIZED)
                )
            await insert_outbox(conn, [(entry, now) for entry in summaries])

    async def alert_rows(self, account: str, rule: str, since: datetime) -> list[SentRow]:
        """The alert notices (not resolved ones) queued for an account's rule since then,
        oldest first, with whether each went out or was muted: what a route was told."""
        kinds = [TransitionKind.FIRING, TransitionKind.REPEAT, TransitionKind.ESCALATED]
        async with self._reading() as conn:
            rows = await conn.execute(
                sa.select(outbox.c.notifier, outbox.c.target, outbox.c.status, outbox.c.payload)
                .where(
                    outbox.c.account == account,
                    outbox.c.rule == rule,
                    outbox.c.kind.in_([k.value for k in kinds]),
                    outbox.c.created_at >= since,
                )
                .order_by(outbox.c.id)
            )
            return [
                SentRow(r.notifier, r.target, r.status, notification_from_json(r.payload))
                for r in rows
            ]

    async def due_deliveries(
        self, now: datetime, limit: int = 100, only: Iterable[leases.Target] | None = None
    ) -> list[Delivery]:
        """Due rows, oldest first, keeping the messages to each target in order
        (`only`: to these (notifier, target) pairs)."""
        query = sa.select(outbox).where(*_due(now)).order_by(outbox.c.id).limit(limit)
        if only is not None:
            query = query.where(sa.tuple_(outbox.c.notifier, outbox.c.target).in_(list(only)))
        async with self._reading() as conn:
            rows = (await conn.execute(query)).all()
        return [_delivery(r) for r in rows]

    async def group_rows(
        self, target: leases.Target, groups: Iterable[str]
    ) -> dict[str, list[Delivery]]:
        """Every pending row of these groups to `target`, due or not, oldest first: a
        group's message carries them all."""
        keys = list(groups)
        query = (
            sa.select(outbox)
            .where(
                outbox.c.notifier == target[0],
                outbox.c.target == target[1],
                outbox.c.group_key.in_(keys),
                outbox.c.status == OutboxStatus.PENDING,
            )
            .order_by(outbox.c.id)
        )
        found: dict[str, list[Delivery]] = {}
        async with self._reading() as conn:
            for r in await conn.execute(query):
                found.setdefault(r.group_key, []).append(_delivery(r))
        return found

    async def due_targets(self, now: datetime) -> set[leases.Target]:
        """The targets with a row due now (each a lane of its own)."""
        query = sa.select(outbox.c.notifier, outbox.c.target).where(*_due(now)).distinct()
        async with self._reading() as conn:
            return {(r.notifier, r.target) for r in await conn.execute(query)}

    async def claim_targets(
        self, targets: Iterable[leases.Target], owner: str, now: datetime, lease: timedelta
    ) -> set[leases.Target]:
        """The targets whose delivery lease `owner` wins (see `leases.py`)."""
        async with self._writing() as conn:
            return await leases.claim_targets(conn, targets, owner, now, now + lease, self.sole)

    async def claim_deliveries(
        self, now: datetime, owner: str, lease: timedelta, limit: int = 100
    ) -> list[Delivery]:
        """Due rows of the targets whose delivery lease `owner` wins (see `leases.py`).

        The rows are read again after the claim: a replica that held a target until a
        moment ago marked its rows delivered before letting go, and must not be repeated."""
        due = await self.due_deliveries(now, limit)
        if not due:
            return []
        won = await self.claim_targets({(d.notifier, d.target) for d in due}, owner, now, lease)
        return await self.due_deliveries(now, limit, only=won) if won else []

    async def renew_delivery(
        self, target: leases.Target, owner: str, now: datetime, lease: timedelta
    ) -> bool:
        """Extend `owner`'s lease on `target`; False if it was lost meanwhile."""
        return bool(await self.claim_targets([target], owner, now, lease))

    async def release_deliveries(self, targets: Iterable[leases.Target], owner: str) -> None:
        async with self._writing() as conn:
            await leases.release_targets(conn, targets, owner)

    async def alerts_fired(self, account: str, since: datetime) -> int:
        """Alerts that fired for `account` since then (each once, however many targets)."""
        fired = (
            sa.select(outbox.c.rule, outbox.c.created_at)
            .where(
                outbox.c.account == account,
                outbox.c.kind == TransitionKind.FIRING.value,
                outbox.c.created_at >= since,
            )
            .distinct()
            .subquery()
        )
        async with self._reading() as conn:
            return int(await conn.scalar(sa.select(sa.func.count()).select_from(fired)) or 0)

    async def next_delivery_due(self) -> datetime | None:
        async with self._reading() as conn:
            due: datetime | None = await conn.scalar(
                sa.select(sa.func.min(outbox.c.next_attempt_at)).where(
                    outbox.c.status == OutboxStatus.PENDING
                )
            )
        return due

    async def mark_delivered(self, delivery_id: int | Sequence[int], at: datetime) -> None:
        await self._update_outbox(
            delivery_id, status=OutboxStatus.DELIVERED, delivered_at=at, last_error=None
        )

    async def mark_retry(
        self, delivery_id: int | Sequence[int], attempts: int, at: datetime, error: str
    ) -> None:
        await self._update_outbox(
            delivery_id, attempts=attempts, next_attempt_at=at, last_error=error
        )

    async def supersede(self, delivery_ids: Sequence[int]) -> None:
        """Queued notices replaced by a later one of the same alert to the same target."""
        if delivery_ids:
            async with self._writing() as conn:
                await conn.execute(
                    outbox.update()
                    .where(outbox.c.id.in_(delivery_ids), outbox.c.status == OutboxStatus.PENDING)
                    .values(status=OutboxStatus.SUPERSEDED)
                )

    async def mark_failed(
        self, delivery_id: int | Sequence[int], attempts: int, error: str
    ) -> None:
        await self._update_outbox(
            delivery_id, status=OutboxStatus.FAILED, attempts=attempts, last_error=error
        )

    async def _update_outbox(self, delivery_id: int | Sequence[int], **values: Any) -> None:
        """One row, or every row of a grouped message."""
        ids = [delivery_id] if isinstance(delivery_id, int) else list(delivery_id)
        async with self._writing() as conn:
            for start in range(0, len(ids), 500):
                chosen = outbox.c.id.in_(ids[start : start + 500])
                await conn.execute(outbox.update().where(chosen).values(**values))


def _delivery(r: Any) -> Delivery:
    notification = notification_from_json(r.payload)
    return Delivery(r.id, r.notifier, r.target, notification, r.attempts, r.group_key)


def _due(now: datetime) -> list[sa.ColumnElement[bool]]:
    """Pending and due, and no earlier row to the same target waiting on a retry (it holds
    the line: each target's messages go out in order). A row waiting for its group's
    message (never tried) holds nothing up."""
    return [
        outbox.c.status == OutboxStatus.PENDING,
        outbox.c.next_attempt_at <= now,
        ~sa.exists().where(
            _earlier.c.notifier == outbox.c.notifier,
            _earlier.c.target == outbox.c.target,
            _earlier.c.status == OutboxStatus.PENDING,
            _earlier.c.id < outbox.c.id,
            _earlier.c.next_attempt_at > now,
            _earlier.c.attempts > 0,
        ),
    ]
