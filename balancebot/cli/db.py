"""`balancebot db status|upgrade`: the store's schema version, and bringing it up to date.

`run` upgrades by itself at start; this is for doing it ahead of a rollout (one replica,
or a job before the new version starts) and for seeing where a database stands."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StoreError
from ..store import Store, engine_for
from ..store import describe as cause_of
from ..store.migrations import SchemaStatus, status
from ..store.postgres import Refused


async def schema_status(url: str) -> SchemaStatus:
    database = make_url(url).database
    if url.startswith("sqlite") and database and not _exists(database):
        raise StoreError(f"no store at {database} (yet): `balancebot run` creates it")
    engine = engine_for(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(status)
    except Refused as exc:
        raise StoreError(f"store: {exc}") from None
    except (SQLAlchemyError, OSError) as exc:
        where = make_url(url).render_as_string(hide_password=True)
        raise StoreError(f"cannot open the store at {where}: {cause_of(exc)}") from None
    finally:
        await engine.dispose()


def describe(found: SchemaStatus) -> str:
    if found.empty:
        return f"empty: `balancebot db upgrade` or `run` creates it at revision {found.head}"
    if found.legacy:
        return f"written by balancebot 0.1.0 (no revision): upgrade to {found.head}"
    if found.up_to_date:
        return f"at revision {found.current}, the newest this balancebot knows"
    return f"at revision {found.current}: upgrade to {found.head}"


async def upgrade(url: str) -> str:
    before = await schema_status(url)
    if before.up_to_date:
        return f"already at revision {before.head}; nothing to do"
    store = await Store.open(url, migrate=True)
    await store.close()
    after = await schema_status(url)
    origin = "empty" if before.empty else before.current or "0.1.0"
    return f"upgraded from {origin} to revision {after.current}"


def _exists(path: str) -> bool:
    """A local stat, before any connection: sync on purpose (the check is instant)."""
    return Path(path).exists()
