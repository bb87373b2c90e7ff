"""A store whose schema record is damaged is one line saying what is wrong and what to do,
from every command, on SQLite and PostgreSQL (issue 21, section 3): two `alembic_version`
rows were a 33-line Alembic traceback from every command, and an emptied one made
`db upgrade` replay 0.1.0's upgrade and fail on "table delivery_leases already exists"."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from balancebot.store import Store, async_url, migrations
from balancebot.testing.processes import spawn

from .conftest import API_KEY

TWO_ROWS = (
    "the store's alembic_version holds 2 revisions (0003, {head}), not one: keep the one its "
    "tables are at (likely the newest: DELETE FROM alembic_version WHERE version_num <> "
    "'{head}') or restore a backup"
)
NO_ROW = (
    "the store has tables balancebot 0.1.0 did not have (alert_routes, check_schedule and 5 "
    "more) but no revision in alembic_version: if this balancebot wrote them, record it "
    "(INSERT INTO alembic_version VALUES ('{head}')) or restore a backup"
)
DAMAGE = {
    "two-rows": ("INSERT INTO alembic_version VALUES ('0003')", TWO_ROWS),
    "no-row": ("DELETE FROM alembic_version", NO_ROW),
}


@pytest.mark.parametrize("case", list(DAMAGE))
async def test_a_damaged_schema_record_is_one_line_from_every_command(
    store_url: str, tmp_path: Path, case: str
) -> None:
    statement, said = DAMAGE[case]
    store = await Store.open(store_url)
    await store.close()
    engine = create_async_engine(async_url(store_url))
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(statement))
    finally:
        await engine.dispose()
    config = tmp_path / "c.toml"
    config.write_text(
        f'[store]\nurl = "{store_url}"\n[[accounts]]\nname = "prod"\napi_key = "{API_KEY}"\n'
    )
    expected = said.format(head=migrations.head())
    for command in (["db", "status"], ["db", "upgrade"], ["alerts"], ["run"]):
        process = await spawn(*command, "-c", str(config))
        _, err = await asyncio.wait_for(process.communicate(), 60)
        lines = err.decode().strip().splitlines()
        assert process.returncode == 1, (command, lines)
        assert len(lines) == 1 and lines[0].endswith(expected), (command, lines)
        assert lines[0].startswith("balancebot: "), lines
