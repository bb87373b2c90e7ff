"""What the pipeline reads back of accounts: their last results, alert states and the routes
told of each open alert; of one account, or of a batch in one read.

With replicas, an account's last check may have run on another replica, so each check
begins by re-reading the account (`CheckPipeline.refresh`). One account at a time that was
three connections and four statements a check; a batch (a sweep's claim) is four statements
for all of it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..models import AlertKey, AlertState, AlertStatus, CheckResult, RouteTarget, Severity
from .base import StoreBase
from .codec import as_utc, result_from_row
from .history import balances_for
from .schema import alert_routes, alert_states, snapshots

IN_LIST_MAX = 500
"""Names in one `IN (...)` list at most: within every backend's parameter limits."""

UNION_MAX = 100
"""Accounts in one statement of per-account `LIMIT` subqueries at most."""


@dataclass(slots=True)
class AccountView:
    """One account as the store has it: what the pipeline keeps in memory of it."""

    recent: list[CheckResult] = field(default_factory=list)  # oldest first
    states: dict[AlertKey, AlertState] = field(default_factory=dict)
    told: dict[AlertKey, set[RouteTarget]] = field(default_factory=dict)


def _chunks(names: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(names), size):
        yield names[start : start + size]


def _state_from_row(row: Any) -> AlertState:
    key = AlertKey(row.account, row.rule, row.subject)
    return AlertState(
        key=key,
        status=AlertStatus(row.status),
        severity=None if row.severity is None else Severity(row.severity),
        pending_checks=row.pending_checks,
        started_at=row.started_at,
        last_notified_at=row.last_notified_at,
    )


async def _rows(
    conn: AsyncConnection, table: sa.Table, accounts: Sequence[str] | None
) -> list[Any]:
    """`table`'s rows of `accounts` (all of them with None)."""
    if accounts is None:
        return list((await conn.execute(sa.select(table))).all())
    found: list[Any] = []
    for chunk in _chunks(accounts, IN_LIST_MAX):
        query = sa.select(table).where(table.c.account.in_(chunk))
        found += (await conn.execute(query)).all()
    return found


@functools.cache
def _last_results(accounts: int) -> sa.Select[Any] | sa.CompoundSelect[Any]:
    """One statement for `accounts` accounts' last results (binds `a0`, `n0`, `a1`, ...),
    each part an index lookup of its own, not a scan of history; built once per size (a
    10,000-account start built 10,000 selects otherwise, a second of its start-up)."""
    parts = [
        sa.select(snapshots)
        .where(snapshots.c.account == sa.bindparam(f"a{i}"))
        .order_by(snapshots.c.taken_at.desc(), snapshots.c.id.desc())
        .limit(sa.bindparam(f"n{i}", type_=sa.Integer))
        .subquery()
        .select()
        for i in range(accounts)
    ]
    return parts[0] if accounts == 1 else sa.union_all(*parts)


async def _recent(conn: AsyncConnection, limits: Mapping[str, int]) -> dict[str, list[CheckResult]]:
    """Each account's last `limits[account]` results, oldest first: one statement per
    `UNION_MAX` accounts."""
    rows: list[Any] = []
    for chunk in _chunks(list(limits), UNION_MAX):
        binds: dict[str, str | int] = {f"a{i}": a for i, a in enumerate(chunk)}
        binds |= {f"n{i}": limits[account] for i, account in enumerate(chunk)}
        rows += (await conn.execute(_last_results(len(chunk)), binds)).all()
    balances = await balances_for(conn, [r.id for r in rows])
    found: dict[str, list[CheckResult]] = {}
    for row in sorted(rows, key=lambda r: (r.taken_at, r.id)):
        found.setdefault(row.account, []).append(result_from_row(row, balances.get(row.id, {})))
    return found


def _told(rows: list[Any]) -> dict[AlertKey, set[RouteTarget]]:
    found: dict[AlertKey, set[RouteTarget]] = {}
    for r in rows:
        found.setdefault(AlertKey(r.account, r.rule, r.subject), set()).add((r.notifier, r.target))
    return found


class AccountReads(StoreBase):
    async def account_views(self, limits: Mapping[str, int]) -> dict[str, AccountView]:
        """Per account in `limits`: its last `limits[account]` results, its alert states and
        told routes, in one read (every account given has a view, empty if unknown)."""
        accounts = list(limits)
        async with self._reading() as conn:
            recent = await _recent(conn, limits)
            states = await _rows(conn, alert_states, accounts)
            told = await _rows(conn, alert_routes, accounts)
        views = {account: AccountView(recent.get(account, [])) for account in accounts}
        for row in states:
            views[row.account].states[AlertKey(row.account, row.rule, row.subject)] = (
                _state_from_row(row)
            )
        for key, routes in _told(told).items():
            views[key.account].told[key] = routes
        return views

    async def recent_results(self, account: str, limit: int) -> list[CheckResult]:
        """The account's last `limit` results, oldest first."""
        async with self._reading() as conn:
            return (await _recent(conn, {account: limit})).get(account, [])

    async def alert_states(self, account: str | None = None) -> dict[AlertKey, AlertState]:
        """Every alert's state, or one account's."""
        async with self._reading() as conn:
            rows = await _rows(conn, alert_states, None if account is None else [account])
        return {state.key: state for state in map(_state_from_row, rows)}

    async def told_routes(self, account: str | None = None) -> dict[AlertKey, set[RouteTarget]]:
        """Per open alert (of one account, or all), the (notifier, target) pairs that were
        told it fired."""
        async with self._reading() as conn:
            return _told(await _rows(conn, alert_routes, None if account is None else [account]))

    async def last_successes(self, accounts: Sequence[str] | None = None) -> dict[str, datetime]:
        """Per account (of `accounts`, or every one), when it was last checked successfully."""
        query = (
            sa.select(snapshots.c.account, sa.func.max(snapshots.c.taken_at))
            .where(snapshots.c.outcome == "ok")
            .group_by(snapshots.c.account)
        )
        found: dict[str, datetime] = {}
        async with self._reading() as conn:
            for chunk in [None] if accounts is None else _chunks(accounts, IN_LIST_MAX):
                some = query if chunk is None else query.where(snapshots.c.account.in_(chunk))
                found |= {account: as_utc(at) for account, at in await conn.execute(some)}
        return found
