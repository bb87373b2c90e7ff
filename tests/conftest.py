from __future__ import annotations

import os
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from balancebot.config import Config, parse_config
from balancebot.store import Store, async_url, metadata
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator

POSTGRES_URL = os.environ.get(
    "BALANCEBOT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)
API_KEY = "sk-test-0123456789abcdef"


@pytest.fixture
async def simulator() -> AsyncIterator[DeepSeekSimulator]:
    async with DeepSeekSimulator() as sim:
        yield sim


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    """A validated Config from a dict, with one account by default."""

    def build(raw: dict[str, Any] | None = None, **top: Any) -> Config:
        data: dict[str, Any] = {
            "store": {"path": str(tmp_path / "state.db")},
            "accounts": [{"name": "prod", "api_key": API_KEY, "base_url": "http://127.0.0.1:9"}],
        }
        data.update(raw or {})
        data.update(top)
        return parse_config(data, tmp_path, env={})

    return build


async def _reset_postgres() -> None:
    engine = create_async_engine(async_url(POSTGRES_URL))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.drop_all)
            await conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    finally:
        await engine.dispose()


async def _postgres_reachable() -> str | None:
    engine = create_async_engine(async_url(POSTGRES_URL))
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
        return None
    except Exception as exc:  # any failure to connect means "not here"
        return f"{type(exc).__name__}: {exc}"
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    problem = await _postgres_reachable()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL must be reachable in CI at {POSTGRES_URL}: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {problem}")
    await _reset_postgres()
    return POSTGRES_URL


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(store_url)
    try:
        yield opened
    finally:
        await opened.close()


# --- the reliability and security summary the suite prints (quoted in the README) ---------

SUMMARY: Counter[str] = Counter()
SUMMARY_LINES = (
    "fault cases tried",
    "crashes survived",
    "notifications expected",
    "notifications received",
    "notifications duplicated",
    "malformed inputs tried",
    "secrets leaked",
    "unauthorized requests tried",
    "unauthorized requests answered with data",
)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not SUMMARY:
        return
    terminalreporter.section("reliability and security summary")
    for line in SUMMARY_LINES:
        terminalreporter.write_line(f"{line}: {SUMMARY[line]}")
