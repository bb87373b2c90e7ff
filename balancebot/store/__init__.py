"""The state store: check history, alert states, the outbox and silences.

SQLAlchemy Core over asyncio: a SQLite file by default, PostgreSQL by URL. Amounts are kept
as decimal text (exact on every backend); times as naive UTC, handed back timezone-aware.
A check's result, the alert states it changed and the outbox rows it produced are written
in one transaction, so a crash can lose neither a notification nor the record of one.
Checks that finish together share that transaction (group commit, see `save_check`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..errors import LeaseLost, StoreError
from ..health import Health
from ..models import (
    AlertKey,
    AlertState,
    AlertStatus,
    BalanceSnapshot,
    CheckFailure,
    CheckResult,
    Currency,
    CurrencyBalance,
    FailureKind,
    Notification,
    Severity,
    Silence,
    TransitionKind,
)
from . import leases, migrations
from .schema import ID as _id
from .schema import UTCDateTime, from_micros, metadata, to_micros
from .sqlitefile import DatabaseFile, prepare

snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("id", _id, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("provider", sa.String(64), nullable=False),
    sa.Column("taken_at", UTCDateTime(), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # "ok" or a FailureKind
    sa.Column("is_available", sa.Boolean(), nullable=True),
    sa.Column("message", sa.Text(), nullable=True),
    sa.Index("ix_snapshots_account_taken_at", "account", "taken_at"),
)

snapshot_balances = sa.Table(
    "snapshot_balances",
    metadata,
    sa.Column(
        "snapshot_id",
        _id,
        sa.ForeignKey("snapshots.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("currency", sa.String(3), primary_key=True),
    sa.Column("total", sa.String(40), nullable=False),
    sa.Column("granted", sa.String(40), nullable=False),
    sa.Column("topped_up", sa.String(40), nullable=False),
)

alert_states = sa.Table(
    "alert_states",
    metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("rule", sa.String(64), primary_key=True),
    sa.Column("subject", sa.String(16), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("severity", sa.Integer(), nullable=True),
    sa.Column("pending_checks", sa.Integer(), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=True),
    sa.Column("last_notified_at", UTCDateTime(), nullable=True),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", _id, primary_key=True, autoincrement=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("notifier", sa.String(64), nullable=False),
    sa.Column("target", sa.String(128), nullable=False),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("payload", sa.Text(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False, default=0),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("delivered_at", UTCDateTime(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
)

_earlier = outbox.alias("earlier")

silences = sa.Table(
    "silences",
    metadata,
    sa.Column("id", _id, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(64), nullable=True),
    sa.Column("rule", sa.String(64), nullable=True),
    sa.Column("until", UTCDateTime(), nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

silence_comments = sa.Table(
    "silence_comments",
    metadata,
    sa.Column("silence_id", _id, sa.ForeignKey("silences.id"), primary_key=True),
    sa.Column("comment", sa.Text(), nullable=False),
)


alert_routes = sa.Table(
    "alert_routes",
    metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("rule", sa.String(64), primary_key=True),
    sa.Column("subject", sa.String(16), primary_key=True),
    sa.Column("notifier", sa.String(64), primary_key=True),
    sa.Column("target", sa.String(128), primary_key=True),
)
"""Where each open alert was told it fired: its resolved notice goes there and nowhere else."""

seen_requests = sa.Table(
    "seen_requests",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)
"""Signed requests already answered (Slack HTTP), kept across restarts until they expire."""

TOLD = frozenset({TransitionKind.FIRING, TransitionKind.REPEAT, TransitionKind.ESCALATED})

Route = tuple[str, str]


class OutboxStatus:
    PENDING = "pending"
    DELIVERED = "delivered"
    MUTED = "muted"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A notification bound for one notifier's target, before it has an id."""

    notifier: str
    target: str
    notification: Notification
    muted: bool = False


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    notifier: str
    target: str
    notification: Notification
    attempts: int


def async_url(url: str) -> str:
    """`sqlite:///x` and `postgresql://...` with the asyncio drivers filled in."""
    parsed = make_url(url)
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}.get(
        parsed.drivername
    )
    return parsed.set(drivername=driver).render_as_string(False) if driver else url


def notification_to_json(n: Notification) -> str:
    data = asdict(n)
    data.update(
        kind=n.kind.value,
        severity=n.severity.name,
        details=list(n.details),
        at=n.at.isoformat(),
        started_at=n.started_at.isoformat(),
    )
    return json.dumps(data, ensure_ascii=False)


def notification_from_json(text: str) -> Notification:
    data = json.loads(text)
    return Notification(
        kind=TransitionKind(data["kind"]),
        severity=Severity[data["severity"]],
        account=data["account"],
        rule=data["rule"],
        subject=data["subject"],
        headline=data["headline"],
        details=tuple(data["details"]),
        at=datetime.fromisoformat(data["at"]),
        started_at=datetime.fromisoformat(data["started_at"]),
    )


GROUP_COMMIT_MAX = 500
"""Checks written in one transaction at most; more wait for the next."""


@dataclass(frozen=True, slots=True)
class _CheckWrite:
    result: CheckResult
    states: tuple[AlertState, ...]
    entries: tuple[OutboxEntry, ...]
    now: datetime
    lease_owner: str | None = None


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():  # its caller was cancelled meanwhile
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def describe(exc: BaseException) -> str:
    """One line naming the cause: the driver's own message, not SQLAlchemy's SQL and links."""
    if isinstance(exc, StoreError):
        return str(exc)
    cause: BaseException = exc
    if isinstance(exc, DBAPIError) and isinstance(exc.orig, BaseException):
        cause = exc.orig
    lines = str(cause).strip().splitlines()
    text = lines[0] if lines else ""
    text = re.sub(r"^<class '[\w.]+'>: ", "", text)  # asyncpg's errors, as SQLAlchemy wraps them
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


class Store:
    def __init__(self, engine: AsyncEngine, file: DatabaseFile | None = None) -> None:
        self._engine = engine
        self._file = file
        self.health = Health()
        self._read_trouble = False  # the store problem came from a read: a read can end it
        """The store's own trouble (and what the engine reports), readable without it."""
        # SQLite has one writer at a time and its busy handler starves under many
        # concurrent writers ("database is locked"); queue them here instead.
        # PostgreSQL handles concurrent writers itself.
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        self._queued: list[tuple[_CheckWrite, asyncio.Future[None]]] = []
        self._committer: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction; its failure (or success) is what `health` says of the store."""
        try:
            async with contextlib.AsyncExitStack() as stack:
                if self._write_lock is not None:
                    await stack.enter_async_context(self._write_lock)
                if self._file is not None:
                    self._file.check()
                yield await stack.enter_async_context(self._engine.begin())
        except (IntegrityError, LeaseLost):
            raise  # the store works: a replay refused, or a check another replica took over
        except (SQLAlchemyError, OSError, StoreError) as exc:
            message = describe(exc)
            self._trouble(f"cannot write the store: {message}", read=False)
            raise StoreError(f"cannot write the store: {message}") from exc
        self._read_trouble = False
        self.health.clear("store")

    def _trouble(self, message: str, read: bool) -> None:
        if "store" not in self.health.problems():
            self._read_trouble = read
        self._read_trouble &= read  # a failed write is only ended by a write
        self.health.report("store", message)

    @contextlib.asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self._engine.connect() as conn:
                yield conn
        except (SQLAlchemyError, OSError) as exc:
            message = describe(exc)
            self._trouble(f"cannot read the store: {message}", read=True)
            raise StoreError(f"cannot read the store: {message}") from exc
        if self._read_trouble:
            self._read_trouble = False
            self.health.clear("store")

    @classmethod
    async def open(cls, url: str, exclusive: bool = False, migrate: bool = True) -> Store:
        """Connect, and bring the schema up to date (creating it on first use).

        `exclusive` (the daemon): hold a SQLite file's lock, so a second daemon on it
        refuses to start instead of sending every alert twice; checked before anything else
        is touched. `migrate=False` (readers such as `history`): a store that does not exist
        yet, or whose schema is not the newest, is an error; nothing is created or changed
        (`balancebot db upgrade` or `run` does that)."""
        parsed = make_url(async_url(url))
        file = None
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            path = Path(parsed.database)
            _check_sqlite_file(path, create=migrate)
            prepare(path)
            file = DatabaseFile(path)
            if exclusive:
                file.lock()
        engine = create_async_engine(parsed)
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        cause: BaseException
        try:
            async with engine.begin() as conn:
                if engine.dialect.name == "sqlite":
                    await conn.run_sync(_check_integrity)
                if migrate:
                    await conn.run_sync(migrations.upgrade, metadata)
                else:
                    await conn.run_sync(_require_current_schema)
        except StoreError as exc:
            problem, cause = str(exc), exc
        except (SQLAlchemyError, OSError) as failure:
            problem, cause = describe(failure), failure
        else:
            return cls(engine, file)
        await engine.dispose()
        if file is not None:
            file.unlock()
        where = file.path if file is not None else parsed.render_as_string(hide_password=True)
        raise StoreError(f"cannot open the store at {where}: {problem}") from cause

    @property
    def shared(self) -> bool:
        """PostgreSQL: several replicas may use this store at once (SQLite is locked to one)."""
        return self._engine.dialect.name == "postgresql"

    @property
    def url(self) -> str:
        return self._engine.url.render_as_string(hide_password=False)

    async def close(self) -> None:
        if self._committer is not None:
            await asyncio.gather(self._committer, return_exceptions=True)
        await self._engine.dispose()
        if self._file is not None:
            self._file.unlock()

    async def ping(self, within: float | None = None) -> None:
        """Is the store there and answering (within `within` seconds)? Tells `health`."""
        if self._file is not None:
            try:
                self._file.check()
            except StoreError as exc:
                self._trouble(str(exc), read=False)  # only a restart brings the file back
                raise
        try:
            async with asyncio.timeout(within), self._reading() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except TimeoutError:
            message = f"cannot read the store: no answer within {within:g} s"
            self._trouble(message, read=True)
            raise StoreError(message) from None

    # --- checks and alert states, written together -------------------------------------

    async def save_check(
        self,
        result: CheckResult,
        states: Iterable[AlertState] = (),
        entries: Iterable[OutboxEntry] = (),
        now: datetime | None = None,
        lease_owner: str | None = None,
    ) -> None:
        """Returns once the check's rows are committed (or raises why they were not).

        `lease_owner`: with replicas, the rows are written only while that owner still
        holds the account's check lease, under a row lock (else `LeaseLost`).

        Checks that arrive while a transaction is being written are queued and written
        together in the next one: beginning and committing cost more than the rows, and a
        sweep of a thousand accounts otherwise spent most of its time on them. A caller
        cancelled before its rows went out leaves nothing behind, as a rollback would."""
        write = _CheckWrite(
            result, tuple(states), tuple(entries), now or result.taken_at, lease_owner
        )
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
            owners = {w.result.account: w.lease_owner for w in writes if w.lease_owner}
            if owners:
                lost = await leases.lost_leases(conn, owners)
                if lost:
                    raise LeaseLost(f"another replica took over the check of {', '.join(lost)}")
            # One INSERT for all. SQLite cannot tie RETURNING rows to the parameter sets
            # (SQLAlchemy would fall back to a statement per row), so rows are matched back
            # by (account, taken_at), which `_next_batch` keeps unique.
            inserted = await conn.execute(
                snapshots.insert().returning(
                    snapshots.c.id, snapshots.c.account, snapshots.c.taken_at
                ),
                [_snapshot_row(write.result) for write in writes],
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
            await self._insert_outbox(conn, [(e, w.now) for w in writes for e in w.entries])
            await self._remember_routes(conn, entries)

    async def _remember_routes(self, conn: AsyncConnection, entries: list[OutboxEntry]) -> None:
        """Routes told an alert fired (not muted) are remembered until it resolves."""
        told, resolved = set(), set()
        for e in entries:
            n = e.notification
            key = (n.account, n.rule, n.subject)
            if n.kind is TransitionKind.RESOLVED:
                resolved.add(key)
            elif n.kind in TOLD and not e.muted:
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

    async def told_routes(self, account: str | None = None) -> dict[AlertKey, set[Route]]:
        """Per open alert (of one account, or all), the (notifier, target) pairs that were
        told it fired."""
        found: dict[AlertKey, set[Route]] = {}
        query = sa.select(alert_routes)
        if account is not None:
            query = query.where(alert_routes.c.account == account)
        async with self._reading() as conn:
            for r in await conn.execute(query):
                key = AlertKey(r.account, r.rule, r.subject)
                found.setdefault(key, set()).add((r.notifier, r.target))
        return found

    async def first_seen(self, request_id: str, expires_at: datetime, now: datetime) -> bool:
        """True the first time a signed request is seen before `expires_at`, False for a
        replay: kept in the store, so a restart forgets nothing. Expired ones are pruned."""
        digest = hashlib.sha256(request_id.encode("utf-8", "backslashreplace")).hexdigest()
        try:
            async with self._writing() as conn:
                await conn.execute(seen_requests.delete().where(seen_requests.c.expires_at < now))
                await conn.execute(
                    seen_requests.insert().values(digest=digest, expires_at=expires_at)
                )
        except IntegrityError:
            return False
        return True

    async def enqueue(self, entries: Iterable[OutboxEntry], now: datetime) -> None:
        """Outbox rows that no check produced (the digest)."""
        async with self._writing() as conn:
            await self._insert_outbox(conn, [(entry, now) for entry in entries])

    async def _insert_outbox(
        self, conn: AsyncConnection, entries: Iterable[tuple[OutboxEntry, datetime]]
    ) -> None:
        rows = [
            {
                "created_at": now,
                "notifier": e.notifier,
                "target": e.target,
                "account": e.notification.account,
                "rule": e.notification.rule,
                "kind": e.notification.kind.value,
                "payload": notification_to_json(e.notification),
                "status": OutboxStatus.MUTED if e.muted else OutboxStatus.PENDING,
                "attempts": 0,
                "next_attempt_at": now,
            }
            for e, now in entries
        ]
        if rows:
            await conn.execute(outbox.insert(), rows)

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

    async def recent_results(self, account: str, limit: int) -> list[CheckResult]:
        """The account's last `limit` results, oldest first."""
        async with self._reading() as conn:
            rows = (
                await conn.execute(
                    sa.select(snapshots)
                    .where(snapshots.c.account == account)
                    .order_by(snapshots.c.taken_at.desc(), snapshots.c.id.desc())
                    .limit(limit)
                )
            ).all()
            balances = await self._balances_for(conn, [r.id for r in rows])
        return [_result_from_row(r, balances.get(r.id, {})) for r in reversed(rows)]

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

    async def _balances_for(
        self, conn: AsyncConnection, ids: Sequence[int]
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

    async def last_successes(self) -> dict[str, datetime]:
        """Per account, when it was last checked successfully."""
        async with self._reading() as conn:
            rows = await conn.execute(
                sa.select(snapshots.c.account, sa.func.max(snapshots.c.taken_at))
                .where(snapshots.c.outcome == "ok")
                .group_by(snapshots.c.account)
            )
            return {account: _as_utc(at) for account, at in rows}

    async def alert_states(self, account: str | None = None) -> dict[AlertKey, AlertState]:
        """Every alert's state, or one account's."""
        query = sa.select(alert_states)
        if account is not None:
            query = query.where(alert_states.c.account == account)
        async with self._reading() as conn:
            rows = (await conn.execute(query)).all()
        states = {}
        for row in rows:
            key = AlertKey(row.account, row.rule, row.subject)
            states[key] = AlertState(
                key=key,
                status=AlertStatus(row.status),
                severity=None if row.severity is None else Severity(row.severity),
                pending_checks=row.pending_checks,
                started_at=row.started_at,
                last_notified_at=row.last_notified_at,
            )
        return states

    # --- the outbox ---------------------------------------------------------------------

    async def due_deliveries(
        self, now: datetime, limit: int = 100, only: Iterable[leases.Target] | None = None
    ) -> list[Delivery]:
        """Due rows, oldest first, keeping the messages to each target in order
        (`only`: to these (notifier, target) pairs)."""
        query = (
            sa.select(outbox)
            .where(
                outbox.c.status == OutboxStatus.PENDING,
                outbox.c.next_attempt_at <= now,
                ~sa.exists().where(  # an earlier row waiting on a retry holds the line
                    _earlier.c.notifier == outbox.c.notifier,
                    _earlier.c.target == outbox.c.target,
                    _earlier.c.status == OutboxStatus.PENDING,
                    _earlier.c.id < outbox.c.id,
                    _earlier.c.next_attempt_at > now,
                ),
            )
            .order_by(outbox.c.id)
            .limit(limit)
        )
        if only is not None:
            query = query.where(sa.tuple_(outbox.c.notifier, outbox.c.target).in_(list(only)))
        async with self._reading() as conn:
            rows = (await conn.execute(query)).all()
        return [
            Delivery(r.id, r.notifier, r.target, notification_from_json(r.payload), r.attempts)
            for r in rows
        ]

    async def claim_deliveries(
        self, now: datetime, owner: str, lease: timedelta, limit: int = 100
    ) -> list[Delivery]:
        """Due rows of the targets whose delivery lease `owner` wins (see `leases.py`).

        The rows are read again after the claim: a replica that held a target until a
        moment ago marked its rows delivered before letting go, and must not be repeated."""
        due = await self.due_deliveries(now, limit)
        if not due:
            return []
        async with self._writing() as conn:
            won = await leases.claim_targets(
                conn, {(d.notifier, d.target) for d in due}, owner, now, now + lease
            )
        return await self.due_deliveries(now, limit, only=won) if won else []

    async def release_deliveries(self, targets: Iterable[leases.Target], owner: str) -> None:
        async with self._writing() as conn:
            await leases.release_targets(conn, targets, owner)

    # --- the shared check schedule (several replicas) -----------------------------------

    async def schedule_accounts(self, first_due: dict[str, datetime]) -> None:
        async with self._writing() as conn:
            await leases.schedule_accounts(conn, first_due)

    async def claim_due_checks(
        self, owner: str, now: datetime, lease: timedelta, limit: int
    ) -> list[str]:
        async with self._writing() as conn:
            return await leases.claim_due_checks(conn, owner, now, now + lease, limit)

    async def finish_check(self, account: str, owner: str, next_at: datetime) -> bool:
        async with self._writing() as conn:
            return await leases.finish_check(conn, account, owner, next_at)

    async def next_check_due(self) -> datetime | None:
        async with self._engine.connect() as conn:
            return await leases.next_check_due(conn)

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

    async def mark_delivered(self, delivery_id: int, at: datetime) -> None:
        await self._update_outbox(
            delivery_id, status=OutboxStatus.DELIVERED, delivered_at=at, last_error=None
        )

    async def mark_retry(self, delivery_id: int, attempts: int, at: datetime, error: str) -> None:
        await self._update_outbox(
            delivery_id, attempts=attempts, next_attempt_at=at, last_error=error
        )

    async def mark_failed(self, delivery_id: int, attempts: int, error: str) -> None:
        await self._update_outbox(
            delivery_id, status=OutboxStatus.FAILED, attempts=attempts, last_error=error
        )

    async def _update_outbox(self, delivery_id: int, **values: Any) -> None:
        async with self._writing() as conn:
            await conn.execute(outbox.update().where(outbox.c.id == delivery_id).values(**values))

    # --- silences -----------------------------------------------------------------------

    async def add_silence(
        self,
        account: str | None,
        rule: str | None,
        until: datetime,
        created_by: str,
        now: datetime,
        comment: str = "",
    ) -> Silence:
        async with self._writing() as conn:
            inserted = await conn.execute(
                silences.insert().values(
                    account=account, rule=rule, until=until, created_by=created_by, created_at=now
                )
            )
            silence_id = _new_id(inserted)
            if comment:
                await conn.execute(
                    silence_comments.insert().values(silence_id=silence_id, comment=comment)
                )
        return Silence(silence_id, account, rule, until, created_by, now, comment)

    async def end_silences(self, account: str | None, rule: str | None, now: datetime) -> int:
        """End the active silences for exactly this account/rule pair; how many ended."""
        async with self._writing() as conn:
            result = await conn.execute(
                silences.update()
                .where(
                    silences.c.until > now,
                    _matches_null(silences.c.account, account),
                    _matches_null(silences.c.rule, rule),
                )
                .values(until=now)
            )
        return result.rowcount

    async def active_silences(self, now: datetime) -> list[Silence]:
        async with self._reading() as conn:
            rows = await conn.execute(
                sa.select(silences, silence_comments.c.comment)
                .outerjoin(silence_comments, silence_comments.c.silence_id == silences.c.id)
                .where(silences.c.until > now)
                .order_by(silences.c.id)
            )
            return [
                Silence(
                    r.id, r.account, r.rule, r.until, r.created_by, r.created_at, r.comment or ""
                )
                for r in rows
            ]

    async def end_silence(self, silence_id: int, now: datetime) -> bool:
        """End one active silence by id (`balancebot silences expire`); False if none."""
        async with self._writing() as conn:
            result = await conn.execute(
                silences.update()
                .where(silences.c.id == silence_id, silences.c.until > now)
                .values(until=now)
            )
        return result.rowcount > 0


def _matches_null(column: sa.Column[Any], value: str | None) -> sa.ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def _as_utc(value: int | datetime) -> datetime:
    """max() keeps the column type on some backends and returns the raw integer on others."""
    return value if isinstance(value, datetime) else from_micros(int(value))


def _snapshot_row(result: CheckResult) -> dict[str, Any]:
    """Every key in every row: rows inserted together must have the same columns."""
    row: dict[str, Any] = {
        "account": result.account,
        "provider": result.provider,
        "taken_at": result.taken_at,
    }
    if isinstance(result, CheckFailure):
        row.update(outcome=result.kind.value, is_available=None, message=result.message)
    else:
        row.update(outcome="ok", is_available=result.is_available, message=None)
    return row


def _new_id(inserted: sa.CursorResult[Any]) -> int:
    key = inserted.inserted_primary_key
    assert key is not None
    return int(key[0])


def _result_from_row(row: Any, balances: dict[Currency, CurrencyBalance]) -> CheckResult:
    if row.outcome == "ok":
        return BalanceSnapshot(
            row.account, row.provider, row.taken_at, bool(row.is_available), balances
        )
    return CheckFailure(
        row.account, row.provider, row.taken_at, FailureKind(row.outcome), row.message or ""
    )


def _check_integrity(connection: sa.Connection) -> None:
    """A damaged SQLite file is found at open, not at the first read that happens to touch
    the bad page (which may be hours later, or a query that reads around it)."""
    found = connection.exec_driver_sql("PRAGMA quick_check(1)").scalar()
    if found != "ok":
        detail = " ".join(str(found).split())[:120]
        raise StoreError(f"the database file is damaged (malformed): {detail}")


def _require_current_schema(connection: sa.Connection) -> None:
    found = migrations.status(connection)
    if found.empty:
        raise StoreError(f"no balancebot tables: {NOTHING_YET}")
    if not found.up_to_date:
        raise StoreError(
            f"the store's schema is older ({found.current or 'balancebot 0.1.0'}) than this "
            f"balancebot's ({found.head}): run `balancebot db upgrade` first"
        )


def _has_tables(conn: sa.Connection) -> bool:
    return sa.inspect(conn).has_table("snapshots")


NOTHING_YET = "nothing recorded yet (has `balancebot run` or `check` used it?)"


def _check_sqlite_file(path: Path, create: bool) -> None:
    """Create only the file, in a directory that exists: a mistyped `store.path` must not
    silently create directories (and a fresh empty store) somewhere unexpected."""
    if not path.parent.is_dir():
        raise StoreError(
            f"cannot open the store at {path}: the directory {path.parent} does not exist "
            "(check store.path, or create the directory)"
        )
    if not create and not path.exists():
        raise StoreError(f"no store at {path}: {NOTHING_YET}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # durable across process crashes (SIGKILL) in WAL mode; only a power cut can lose the
    # last transactions, and it skips an fsync per check
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
