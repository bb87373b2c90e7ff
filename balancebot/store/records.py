"""A check's result, the alert states it changed and the outbox rows it produced, written in
one transaction; checks that finish together share it (group commit, see `save_check`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..errors import LeaseLost
from ..models import (
    AlertState,
    AlertStatus,
    BalanceSnapshot,
    CheckResult,
    TransitionKind,
)
from . import leases
from .base import StoreBase
from .codec import FIRING_KINDS, OutboxEntry, snapshot_row
from .leases import CheckLease
from .outbox import insert_outbox
from .schema import alert_routes, alert_states, snapshot_balances, snapshots
from .sqlitefile import DatabaseFile

GROUP_COMMIT_MAX = 500
"""Checks written in one transaction at most; more wait for the next."""


@dataclass(frozen=True, slots=True)
class _CheckWrite:
    result: CheckResult
    states: tuple[AlertState, ...]
    entries: tuple[OutboxEntry, ...]
    now: datetime
    lease: CheckLease | None = None


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():  # its caller was cancelled meanwhile
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class CheckRecords(StoreBase):
    def __init__(self, engine: AsyncEngine, file: DatabaseFile | None = None) -> None:
        super().__init__(engine, file)
        self._queued: list[tuple[_CheckWrite, asyncio.Future[None]]] = []
        self._committer: asyncio.Task[None] | None = None

    async def close(self) -> None:
        """After the checks already queued are written (or have failed)."""
        if self._committer is not None:
            await asyncio.gather(self._committer, return_exceptions=True)
        await super().close()

    async def save_check(
        self,
        result: CheckResult,
        states: Iterable[AlertState] = (),
        entries: Iterable[OutboxEntry] = (),
        now: datetime | None = None,
        lease: CheckLease | None = None,
    ) -> None:
        """Returns once the check's rows are committed (or raises why they were not).

        `lease`: with replicas, the rows are written only while its owner still
        holds the account's check lease, under a row lock (else `LeaseLost`).

        Checks that arrive while a transaction is being written are queued and written
        together in the next one: beginning and committing cost more than the rows, and a
        sweep of a thousand accounts otherwise spent most of its time on them. A caller
        cancelled before its rows went out leaves nothing behind, as a rollback would."""
        write = _CheckWrite(result, tuple(states), tuple(entries), now or result.taken_at, lease)
        committed = asyncio.get_running_loop().create_future()
        self._queued.append((write, committed))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_queued())
        await committed

    async def _commit_queued(self) -> None:
        batch: list[tuple[_CheckWrite, asyncio.Future[None]]] = []
        try:
            while batch := self._next_batch():
                try:
                    await self._write_checks([write for write, _ in batch])
                except Exception as exc:
                    if len(batch) == 1:
                        _settle(batch[0][1], exc)
                        continue
                    # one bad check must not sink the others: write each on its own
                    for write, committed in batch:
                        try:
                            await self._write_checks([write])
                        except Exception as alone:
                            _settle(committed, alone)
                        else:
                            _settle(committed, None)
                else:
                    for _, committed in batch:
                        _settle(committed, None)
                batch = []
        except BaseException:  # cancelled with the loop: nobody may wait forever
            for _, committed in [*batch, *self._queued]:
                committed.cancel()
            self._queued.clear()
            raise

    def _next_batch(self) -> list[tuple[_CheckWrite, asyncio.Future[None]]]:
        """Queued writes whose callers still wait, each result's (account, taken_at) once."""
        batch: list[tuple[_CheckWrite, asyncio.Future[None]]] = []
        keys: set[tuple[str, datetime]] = set()
        while self._queued and len(batch) < GROUP_COMMIT_MAX:
            write, committed = self._queued[0]
            key = (write.result.account, write.result.taken_at)
            if key in keys:
                break
            del self._queued[0]
            if not committed.done():
                batch.append((write, committed))
                keys.add(key)
        return batch

    async def _write_checks(self, writes: Sequence[_CheckWrite]) -> None:
        async with self._writing() as conn:
            leased = {w.result.account: w.lease for w in writes if w.lease is not None}
            owners = {account: lease.owner for account, lease in leased.items()}
            if owners:
                lost = await leases.lost_leases(conn, owners)
                if lost:
                    raise LeaseLost(f"another replica took over the check of {', '.join(lost)}")
                await leases.reschedule(conn, leased)
            # One INSERT for all. SQLite cannot tie RETURNING rows to the parameter sets
            # (SQLAlchemy would fall back to a statement per row), so rows are matched back
            # by (account, taken_at), which `_next_batch` keeps unique.
            inserted = await conn.execute(
                snapshots.insert().returning(
                    snapshots.c.id, snapshots.c.account, snapshots.c.taken_at
                ),
                [snapshot_row(write.result) for write in writes],
            )
            ids = {(row.account, row.taken_at): row.id for row in inserted}
            balances = [
                {
                    "snapshot_id": snapshot_id,
                    "currency": currency,
                    "total": str(b.total),
                    "granted": str(b.granted),
                    "topped_up": str(b.topped_up),
                }
                for write in writes
                if isinstance(write.result, BalanceSnapshot)
                for snapshot_id in [ids[(write.result.account, write.result.taken_at)]]
                for currency, b in write.result.balances.items()
            ]
            if balances:
                await conn.execute(snapshot_balances.insert(), balances)
            for write in writes:
                for state in write.states:
                    await self._put_state(conn, state)
            entries = [e for w in writes for e in w.entries]
            await insert_outbox(conn, [(e, w.now) for w in writes for e in w.entries])
            await self._remember_routes(conn, entries)

    async def enqueue(self, entries: Iterable[OutboxEntry], now: datetime) -> None:
        """Outbox rows that no check produced (the digest, notices a mute held back: those
        count as telling their route, so the resolved notice follows)."""
        entries = list(entries)
        async with self._writing() as conn:
            await insert_outbox(conn, [(entry, now) for entry in entries])
            await self._remember_routes(conn, entries)

    async def _remember_routes(self, conn: AsyncConnection, entries: list[OutboxEntry]) -> None:
        """Routes told an alert fired (not muted) are remembered until it resolves."""
        told, resolved = set(), set()
        for e in entries:
            n = e.notification
            key = (n.account, n.rule, n.subject)
            if n.kind is TransitionKind.RESOLVED:
                resolved.add(key)
            elif n.kind in FIRING_KINDS and not e.muted:
                told.add((*key, e.notifier, e.target))
        for account, rule, subject in resolved:
            await conn.execute(
                alert_routes.delete().where(
                    alert_routes.c.account == account,
                    alert_routes.c.rule == rule,
                    alert_routes.c.subject == subject,
                )
            )
        for account, rule, subject, notifier, target in told:
            row = dict(
                account=account, rule=rule, subject=subject, notifier=notifier, target=target
            )
            await conn.execute(
                alert_routes.delete().where(*(alert_routes.c[k] == v for k, v in row.items()))
            )
            await conn.execute(alert_routes.insert().values(**row))

    async def _put_state(self, conn: AsyncConnection, state: AlertState) -> None:
        key = state.key
        await conn.execute(
            alert_states.delete().where(
                alert_states.c.account == key.account,
                alert_states.c.rule == key.rule,
                alert_states.c.subject == key.subject,
            )
        )
        if state.status is AlertStatus.INACTIVE:
            return  # inactive is the default: absence says it
        await conn.execute(
            alert_states.insert().values(
                account=key.account,
                rule=key.rule,
                subject=key.subject,
                status=state.status.value,
                severity=None if state.severity is None else int(state.severity),
                pending_checks=state.pending_checks,
                started_at=state.started_at,
                last_notified_at=state.last_notified_at,
            )
        )
