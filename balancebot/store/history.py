"""Balance history for charts, digests and trend rules, thinned in the database, and the
downsampling that keeps a year of checks small."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..models import (
    BalanceSnapshot,
    Currency,
    CurrencyBalance,
)
from .base import StoreBase
from .schema import from_micros, snapshot_balances, snapshots, to_micros


async def balances_for(
    conn: AsyncConnection, ids: Sequence[int]
) -> dict[int, dict[Currency, CurrencyBalance]]:
    found: dict[int, dict[Currency, CurrencyBalance]] = {}
    for start in range(0, len(ids), 500):  # keep IN lists within every backend's limits
        rows = await conn.execute(
            sa.select(snapshot_balances).where(
                snapshot_balances.c.snapshot_id.in_(ids[start : start + 500])
            )
        )
        for row in rows:
            found.setdefault(row.snapshot_id, {})[row.currency] = CurrencyBalance(
                Decimal(row.total), Decimal(row.granted), Decimal(row.topped_up)
            )
    return found


class HistoryRecords(StoreBase):
    async def history(
        self,
        account: str,
        since: datetime,
        max_points: int | None = None,
        until: datetime | None = None,
    ) -> list[BalanceSnapshot]:
        """Successful snapshots since `since`, oldest first: one joined query.

        With `max_points` (charts), the span of the data in the period (first to last
        snapshot) is cut into that many equal slices and only the first snapshot of each
        is read, found by one index lookup per slice: the database does the thinning, a
        month of one-minute checks costs as little as a day of them, and ten minutes of
        data in a 30-day window keep their detail.
        """
        ok = [snapshots.c.account == account, snapshots.c.outcome == "ok"]
        if max_points is None:
            wanted = [*ok, snapshots.c.taken_at >= since]
        else:
            until = until or datetime.now(UTC)
            async with self._reading() as conn:  # the data's own span in the period
                first, last = (
                    await conn.execute(
                        sa.select(
                            sa.func.min(snapshots.c.taken_at), sa.func.max(snapshots.c.taken_at)
                        ).where(*ok, snapshots.c.taken_at >= since, snapshots.c.taken_at <= until)
                    )
                ).one()
            if first is None:
                return []
            start, end = to_micros(first), to_micros(last) + 1
            width = max(1, -(-(end - start) // max_points))
            slices = sa.select(sa.literal(start, sa.BigInteger).label("start")).cte(
                "slices", recursive=True
            )
            slices = slices.union_all(
                sa.select(slices.c.start + width).where(slices.c.start + width < end)
            )
            first_in_slice = (
                sa.select(snapshots.c.id)
                .where(
                    *ok,
                    snapshots.c.taken_at >= slices.c.start,
                    snapshots.c.taken_at < slices.c.start + width,
                )
                .order_by(snapshots.c.taken_at, snapshots.c.id)
                .limit(1)
                .scalar_subquery()
            )
            wanted = [snapshots.c.id.in_(sa.select(first_in_slice).select_from(slices))]
        query = (
            sa.select(
                snapshots.c.id,
                snapshots.c.provider,
                snapshots.c.taken_at,
                snapshots.c.is_available,
                snapshot_balances.c.currency,
                snapshot_balances.c.total,
                snapshot_balances.c.granted,
                snapshot_balances.c.topped_up,
            )
            .select_from(snapshots.outerjoin(snapshot_balances))
            .where(*wanted)
            .order_by(snapshots.c.taken_at, snapshots.c.id)
        )
        heads: dict[int, Any] = {}
        balances: dict[int, dict[Currency, CurrencyBalance]] = {}
        async with self._reading() as conn:
            for row in await conn.execute(query):
                heads.setdefault(row.id, row)
                found = balances.setdefault(row.id, {})
                if row.currency is not None:
                    found[row.currency] = CurrencyBalance(
                        Decimal(row.total), Decimal(row.granted), Decimal(row.topped_up)
                    )
        return [
            BalanceSnapshot(account, r.provider, r.taken_at, bool(r.is_available), balances[i])
            for i, r in heads.items()
        ]

    async def failed_checks(
        self, account: str, since: datetime, until: datetime, slices: int
    ) -> list[tuple[datetime, datetime]]:
        """When checks failed, for a chart: the period cut into `slices` equal slices, and
        of each slice with failures the first and the last one, oldest first (a month of
        failing one-minute checks is still `slices` rows, found by the database)."""
        width = max(1, -(-(to_micros(until) - to_micros(since)) // slices))
        micros = sa.type_coerce(snapshots.c.taken_at, sa.BigInteger)
        query = (
            sa.select(sa.func.min(micros), sa.func.max(micros))
            .where(
                snapshots.c.account == account,
                snapshots.c.outcome != "ok",
                snapshots.c.taken_at >= since,
                snapshots.c.taken_at <= until,
            )
            .group_by((micros - to_micros(since)) // width)
            .order_by(sa.func.min(micros))
        )
        async with self._reading() as conn:
            rows = (await conn.execute(query)).all()
        return [(from_micros(int(first)), from_micros(int(last))) for first, last in rows]

    async def failure_count(self, account: str, since: datetime, until: datetime) -> int:
        """How many failed checks of `account` the store holds from `since` to `until`
        (history older than `keep_full_resolution` is thinned to one per bucket)."""
        query = sa.select(sa.func.count()).where(
            snapshots.c.account == account,
            snapshots.c.outcome != "ok",
            snapshots.c.taken_at >= since,
            snapshots.c.taken_at <= until,
        )
        async with self._reading() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def downsample(self, before: datetime, bucket: timedelta) -> int:
        """Keep one snapshot per account, outcome and `bucket` older than `before`.

        A year of one-minute checks becomes a month of them plus one per hour.
        Returns how many snapshots were deleted (with their balances).
        """
        step = bucket.total_seconds()
        async with self._reading() as conn:
            rows = await conn.execute(
                sa.select(
                    snapshots.c.id, snapshots.c.account, snapshots.c.outcome, snapshots.c.taken_at
                )
                .where(snapshots.c.taken_at < before)
                .order_by(snapshots.c.taken_at, snapshots.c.id)
            )
            kept: set[tuple[str, bool, int]] = set()
            doomed = []
            for row in rows:
                slot = (row.account, row.outcome == "ok", int(row.taken_at.timestamp() // step))
                if slot in kept:
                    doomed.append(row.id)
                else:
                    kept.add(slot)
        for start in range(0, len(doomed), 500):
            async with self._writing() as conn:
                chunk = doomed[start : start + 500]
                await conn.execute(
                    snapshot_balances.delete().where(snapshot_balances.c.snapshot_id.in_(chunk))
                )
                await conn.execute(snapshots.delete().where(snapshots.c.id.in_(chunk)))
        return len(doomed)
