"""The store's connection: opening (schema upgrades, the SQLite file's checks and lock),
read and write transactions, and what `health` says of them."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from ..errors import LeaseLost, StoreError
from ..health import Health
from . import migrations, postgres
from .schema import metadata
from .sqlitefile import DatabaseFile, prepare


def async_url(url: str) -> str:
    """`sqlite:///x` and `postgresql://...` with the asyncio drivers filled in."""
    parsed = make_url(url)
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}.get(
        parsed.drivername
    )
    return parsed.set(drivername=driver).render_as_string(False) if driver else url


CONNECT_TIMEOUT = 10.0
"""Seconds to reach PostgreSQL; then the store is in trouble, loudly, not waited on."""
STATEMENT_TIMEOUT = 60.0
"""Seconds a statement may take (a migration waiting for another replica's included)."""


def engine_for(url: str, application_name: str | None = None) -> AsyncEngine:
    """The store's engine. On PostgreSQL nothing waits forever on the network: a server
    that accepts connections and never answers (a hung host, a silent network) fails a
    connection in `CONNECT_TIMEOUT` and a statement in `STATEMENT_TIMEOUT`. Its sessions
    carry `application_name` (replicas name their configuration with it)."""
    parsed = make_url(async_url(url))
    if parsed.get_backend_name() != "postgresql":
        return create_async_engine(parsed)
    args: dict[str, Any] = {
        "timeout": CONNECT_TIMEOUT,
        "command_timeout": STATEMENT_TIMEOUT,
        "async_creator_fn": postgres.connect,  # a refusal is a StoreError, in one line
    }
    if application_name is not None:
        args["server_settings"] = {"application_name": application_name}
    return create_async_engine(parsed, connect_args=args, pool_timeout=CONNECT_TIMEOUT)


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


class StoreBase:
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
        self._renamed: str | None = None  # the sessions' application_name since a `rename`

    async def rename(self, application_name: str) -> None:
        """PostgreSQL: the `application_name` the store's sessions carry from now on (a
        reloaded configuration: replicas read each other's from it). Idle sessions are
        closed; busy ones are closed once returned, and new ones carry the new name."""
        if not self.shared:
            return
        if self._renamed is None:
            sa.event.listen(self._engine.sync_engine, "do_connect", self._name_session)
        self._renamed = application_name
        await self._engine.dispose()

    def _name_session(self, _dialect: Any, _record: Any, _args: Any, params: Any) -> None:
        params["server_settings"] = {
            **params.get("server_settings", {}),
            "application_name": self._renamed,
        }

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
        except (SQLAlchemyError, OSError, postgres.Refused) as exc:
            message = describe(exc)
            self._trouble(f"cannot read the store: {message}", read=True)
            raise StoreError(f"cannot read the store: {message}") from exc
        if self._read_trouble:
            self._read_trouble = False
            self.health.clear("store")

    @classmethod
    async def open(
        cls,
        url: str,
        exclusive: bool = False,
        migrate: bool = True,
        application_name: str | None = None,
    ) -> Self:
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
        engine = engine_for(url, application_name)
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
        except postgres.Refused as refused:
            await engine.dispose()
            raise StoreError(f"store: {refused}") from None
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
    def sole(self) -> bool:
        """This process holds the SQLite file's exclusive lock: any other lease owner in it
        is a dead process (its leases are taken over at once)."""
        return self._file is not None and self._file.locked

    @property
    def url(self) -> str:
        return self._engine.url.render_as_string(hide_password=False)

    async def close(self) -> None:
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


NOTHING_YET = "nothing recorded yet: `balancebot run` records the history (`check` keeps none)"


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
