from __future__ import annotations

import itertools
import os
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from balancebot.config import Config
from balancebot.configure import parse_config
from balancebot.store import Store
from balancebot.testing.clock import FakeClock
from balancebot.testing.deepseek import DeepSeekSimulator

POSTGRES_URL = os.environ.get(
    "BALANCEBOT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"
)
"""The server the PostgreSQL tests use. Its own database is left alone (only tests of what
a URL says name it): each test gets a database of its own on it (`own_database`), so runs
beside each other (two checkouts, CI beside a developer) and tests that leave rows behind
cannot meet."""
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


_RUN = f"bbt_{int(time.time())}_{os.getpid()}_{secrets.token_hex(2)}"  # bbt_<epoch>_...
_databases = itertools.count()
_swept = False
STALE = 24 * 3600  # a database of a run this old was left by a killed run: dropped


async def _admin() -> asyncpg.Connection:
    """A connection to the server, to create and drop databases: to the database the URL
    names, or to `postgres` where that one does not exist (a fresh server)."""
    url = make_url(POSTGRES_URL).set(drivername="postgresql")
    try:
        return await asyncpg.connect(url.render_as_string(hide_password=False), timeout=10)
    except asyncpg.InvalidCatalogNameError:
        url = url.set(database="postgres")
        return await asyncpg.connect(url.render_as_string(hide_password=False), timeout=10)


async def _sweep(admin: asyncpg.Connection) -> None:
    """Drop the databases killed runs left behind (once a run)."""
    global _swept
    if _swept:
        return
    _swept = True
    for row in await admin.fetch("SELECT datname FROM pg_database WHERE datname ~ '^bbt_[0-9]+_'"):
        if int(row["datname"].split("_")[1]) < time.time() - STALE:
            await admin.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')


async def _postgres_reachable() -> str | None:
    """Why no PostgreSQL server answers at `POSTGRES_URL`, or None when one does."""
    try:
        admin = await _admin()
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await admin.close()
    return None


@asynccontextmanager
async def own_database() -> AsyncIterator[str]:
    """The URL of a new, empty database on `POSTGRES_URL`'s server, dropped afterwards
    (whatever is still connected to it). Skips the test where no server answers (fails it
    in CI)."""
    problem = await _postgres_reachable()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL must be reachable in CI at {POSTGRES_URL}: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {problem}")
    admin = await _admin()
    name = f"{_RUN}_{next(_databases)}"
    try:
        await _sweep(admin)
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await admin.close()
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        admin = await _admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A PostgreSQL database of this test's own (see `own_database`)."""
    async with own_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    async with own_database() as url:
        yield url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(store_url)
    try:
        yield opened
    finally:
        await opened.close()


# --- the reliability and security summary the suite prints (quoted in docs/reliability.md) --

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that use the PostgreSQL server run on one xdist worker: each owns its
    database, but they share the server's 100 connections, and replicas killed at random
    in parallel with other replica tests ran out of them ("store unavailable")."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "postgres_url" in names or item.get_closest_marker("postgres") is not None:
            item.add_marker(pytest.mark.xdist_group("postgres"))
