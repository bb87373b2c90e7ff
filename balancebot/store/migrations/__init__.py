"""Schema versions, with Alembic: every change to the store's tables is a revision in
`versions/`, so a database written by any earlier balancebot is brought up to date in place.

- A new, empty database gets today's tables at once and is stamped with the newest revision
  (Alembic's own advice: replaying history only to arrive at `metadata` is slower and no safer).
- A database with balancebot's tables but no version (written by 0.1.0, before migrations)
  is stamped with the first revision, which is exactly 0.1.0's schema, then upgraded.
- A database whose revision this balancebot does not know was written by a newer one: it is
  refused with a clear message rather than used half-understood.

Upgrades run in one transaction (PostgreSQL and SQLite both have transactional DDL) under an
advisory lock on PostgreSQL, so replicas starting together upgrade once. `tests/test_migrations.py`
checks that the revisions arrive at exactly the tables of `store.schema`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ...errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

HERE = Path(__file__).parent
ADVISORY_LOCK_KEY = 0x62616C62  # "balb": one key for every balancebot schema change
LEGACY_REVISION = "0001"
"""The revision whose schema is 0.1.0's, for databases written before migrations existed."""
LEGACY_TABLES = frozenset({"snapshots", "snapshot_balances", "alert_states", "outbox", "silences"})
"""0.1.0's tables: a database with only these and no revision was written by 0.1.0."""
HEAD_REVISION = "0007"
"""The newest revision in `versions/` (a test keeps the two equal): a store that is new or
already there is opened without importing Alembic, whose modules an idle daemon would keep
(~9 MiB of its RSS); only an upgrade loads it."""


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    current: str | None
    head: str
    legacy: bool
    """True when the database holds 0.1.0's tables but no version stamp."""
    empty: bool

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def alembic_config(connection: sa.Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(HERE))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    revision = _script().get_current_head()
    assert revision is not None
    return revision


VERSIONS = sa.Table(
    "alembic_version",
    sa.MetaData(),
    sa.Column("version_num", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)
"""Alembic's version table as its `stamp` creates it (a test compares the two): a new
store is created and stamped without loading Alembic."""


def _stamps(connection: sa.Connection) -> list[str]:
    """The revisions the database is stamped with (one, normally), read without Alembic."""
    if not sa.inspect(connection).has_table(VERSIONS.name):
        return []
    return list(connection.execute(sa.select(VERSIONS.c.version_num)).scalars())


def status(connection: sa.Connection) -> SchemaStatus:
    stamps = _stamps(connection)
    if stamps == [HEAD_REVISION]:
        return SchemaStatus(HEAD_REVISION, HEAD_REVISION, legacy=False, empty=False)
    if not stamps and not set(sa.inspect(connection).get_table_names()) - {VERSIONS.name}:
        return SchemaStatus(None, HEAD_REVISION, legacy=False, empty=True)
    from alembic.runtime.migration import MigrationContext

    heads = MigrationContext.configure(connection).get_current_heads()
    tables = set(sa.inspect(connection).get_table_names())
    if len(heads) > 1:  # Alembic's own CommandError was a 33-line traceback
        newest = max(heads)
        raise StoreError(
            f"the store's alembic_version holds {len(heads)} revisions "
            f"({', '.join(sorted(heads))}), not one: keep the one its tables are at (likely "
            f"the newest: DELETE FROM alembic_version WHERE version_num <> '{newest}') or "
            "restore a backup"
        )
    current = heads[0] if heads else None
    later = sorted(tables - LEGACY_TABLES - {"alembic_version"})
    if current is None and "snapshots" in tables and later:  # not 0.1.0's: its row was lost
        named = ", ".join(later[:2]) + (f" and {len(later) - 2} more" if len(later) > 2 else "")
        raise StoreError(
            f"the store has tables balancebot 0.1.0 did not have ({named}) but no revision in "
            f"alembic_version: if this balancebot wrote them, record it (INSERT INTO "
            f"alembic_version VALUES ('{head()}')) or restore a backup"
        )
    known = {revision.revision for revision in _script().walk_revisions()}
    if current is not None and current not in known:
        raise StoreError(
            f"the database's schema (revision {current}) was written by a newer balancebot "
            f"than this one (which knows up to {head()}): upgrade balancebot on this host"
        )
    legacy = current is None and "snapshots" in tables
    empty = current is None and not (tables - {"alembic_version"})
    return SchemaStatus(current, head(), legacy, empty)


def upgrade(connection: sa.Connection, metadata: sa.MetaData) -> tuple[str | None, str]:
    """Bring the schema up to date in the caller's transaction; returns (from, to)."""
    if connection.dialect.name == "postgresql":
        lock = sa.text("SELECT pg_advisory_xact_lock(:key)")
        connection.execute(lock, {"key": ADVISORY_LOCK_KEY})
    found = status(connection)
    if found.up_to_date:
        return found.current, found.head
    if found.empty:
        metadata.create_all(connection)
        VERSIONS.create(connection, checkfirst=True)
        connection.execute(VERSIONS.insert().values(version_num=HEAD_REVISION))
        return None, found.head
    from alembic import command

    config = alembic_config(connection)
    if found.legacy:
        command.stamp(config, LEGACY_REVISION)
    if not found.up_to_date:
        command.upgrade(config, "head")
    return (LEGACY_REVISION if found.legacy else found.current), found.head


def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())
