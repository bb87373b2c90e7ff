"""Schema migrations: a store written by 0.1.0 is upgraded in place, on SQLite and
PostgreSQL, and arrives at exactly the tables today's code creates; a database from a newer
balancebot is refused; read-only commands refuse an old schema instead of changing it."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from balancebot.errors import StoreError
from balancebot.models import AlertKey, AlertStatus
from balancebot.store import Store, async_url, metadata, migrations
from balancebot.testing.processes import spawn

FIXTURES = Path(__file__).parent / "fixtures"


async def _load_fixture(url: str) -> None:
    """The 0.1.0 dump, executed statement by statement on the backend `url` names."""
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as db:
            db.executescript((FIXTURES / "store-0.1.0.sqlite.sql").read_text())
        return
    engine = create_async_engine(async_url(url))
    try:
        async with engine.begin() as conn:
            for statement in (FIXTURES / "store-0.1.0.postgres.sql").read_text().split(";\n"):
                if statement.strip():
                    await conn.exec_driver_sql(statement)
    finally:
        await engine.dispose()


async def _differences(url: str) -> list[object]:
    """What separates the database's schema from today's `metadata` (empty: identical)."""
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as conn:

            def compare(sync: sa.Connection) -> list[object]:
                context = MigrationContext.configure(
                    sync, opts={"compare_type": False, "compare_server_default": False}
                )
                return list(compare_metadata(context, metadata))

            return await conn.run_sync(compare)
    finally:
        await engine.dispose()


async def _revision(url: str) -> str | None:
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


async def test_a_new_store_is_created_at_the_newest_revision(store_url: str) -> None:
    store = await Store.open(store_url)
    await store.close()
    assert await _revision(store_url) == migrations.head() == migrations.HEAD_REVISION
    assert await _differences(store_url) == []


def test_a_new_store_is_stamped_as_alembic_stamps(tmp_path: Path) -> None:
    """A new store gets Alembic's version table without Alembic: the same table."""
    from alembic import command

    tables = []
    for name, stamp in (("ours", migrations.upgrade), ("alembic", None)):
        engine = sa.create_engine(f"sqlite:///{tmp_path / name}.db")
        with engine.begin() as conn:
            if stamp is None:
                metadata.create_all(conn)
                command.stamp(migrations.alembic_config(conn), "head")
            else:
                stamp(conn, metadata)
            tables.append(
                conn.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE name = 'alembic_version'"
                ).scalar_one()
            )
        engine.dispose()
    assert tables[0] == tables[1]


async def test_a_store_written_by_0_1_0_is_upgraded_and_keeps_its_data(store_url: str) -> None:
    await _load_fixture(store_url)
    with pytest.raises(StoreError, match="balancebot db upgrade"):
        await Store.open(store_url, migrate=False)  # read-only commands change nothing
    assert await _revision(store_url) is None

    store = await Store.open(store_url)
    try:
        assert await _revision(store_url) == migrations.head()
        assert await _differences(store_url) == []
        history = await store.recent_results("prod", 10)
        assert len(history) == 6
        newest = history[-1]  # oldest first
        assert newest.taken_at == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)
        assert newest.balances["CNY"].total == Decimal("50")  # type: ignore[union-attr]
        states = await store.alert_states()
        key = AlertKey("prod", "low-balance", "CNY")
        assert states[key].status is AlertStatus.FIRING
        # who was told it fired: the unmuted row's target, not the muted one's
        assert await store.told_routes() == {key: {("console", "")}}
        due = await store.due_deliveries(datetime(2026, 11, 2, tzinfo=UTC))
        assert [d.notifier for d in due] == ["console"]  # the muted row stays muted
        [kept] = await store.active_silences(datetime(2026, 11, 2, tzinfo=UTC))
        assert kept.matchers == ()  # an old silence keeps its meaning: its shorthands alone
    finally:
        await store.close()
    # opening again is a no-op, and read-only opening is now allowed
    (await Store.open(store_url, migrate=False))
    assert await _revision(store_url) == migrations.head()


async def test_a_store_from_a_newer_balancebot_is_refused(store_url: str) -> None:
    store = await Store.open(store_url)
    await store.close()
    engine = create_async_engine(async_url(store_url))
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("UPDATE alembic_version SET version_num = 'ffff'"))
    finally:
        await engine.dispose()
    with pytest.raises(StoreError, match=r"revision ffff\) was written by a newer balancebot"):
        await Store.open(store_url)


async def test_read_only_opening_refuses_an_empty_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store at"):
        await Store.open(f"sqlite:///{tmp_path / 'new.db'}", migrate=False)


@pytest.mark.slow
async def test_db_command_reports_and_upgrades(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "state.db"\n[[accounts]]\nname = "prod"\napi_key = "sk-test"\n'
    )

    async def db(action: str) -> tuple[int, str]:
        process = await spawn("db", action, "-c", str(config))
        out, err = await process.communicate()
        return process.returncode or 0, (out + err).decode()

    assert await db("status") == (
        1,
        f"balancebot: no store at {tmp_path / 'state.db'} (yet): `balancebot run` creates it\n",
    )
    assert not (tmp_path / "state.db").exists()
    await _load_fixture(f"sqlite:///{tmp_path / 'state.db'}")
    code, said = await db("status")
    assert (code, said) == (
        1,
        f"written by balancebot 0.1.0 (no revision): upgrade to {migrations.head()}\n",
    )
    assert await db("upgrade") == (0, f"upgraded from 0.1.0 to revision {migrations.head()}\n")
    assert await db("upgrade") == (0, f"already at revision {migrations.head()}; nothing to do\n")
    assert await db("status") == (
        0,
        f"at revision {migrations.head()}, the newest this balancebot knows\n",
    )
