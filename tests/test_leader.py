"""Leader election on a real PostgreSQL: one leader at a time, and leadership moves when the
leader's connection dies (a SIGKILLed replica) or when it stops."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import asyncpg
import pytest

from balancebot.leader import Leadership

pytestmark = pytest.mark.postgres

URL = os.environ.get("BALANCEBOT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
KEY = 4242 + os.getpid()  # this run's own lock, whatever else uses the server


class Replica:
    def __init__(self, name: str) -> None:
        self.name = name
        self.changes: list[bool] = []
        self.changed = asyncio.Event()
        self.stop = asyncio.Event()
        self.leadership = Leadership(URL, self._on_change, key=KEY, interval=0.02, timeout=2)
        self.task: asyncio.Task[None] | None = None

    async def _on_change(self, leading: bool) -> None:
        self.changes.append(leading)
        self.changed.set()

    def start(self) -> None:
        self.task = asyncio.create_task(self.leadership.run(self.stop))

    async def halt(self) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, 10)

    async def until(self, leading: bool) -> None:
        while not self.changes or self.changes[-1] is not leading:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 15)


@pytest.fixture
async def server() -> AsyncIterator[asyncpg.Connection]:
    try:
        connection = await asyncpg.connect(URL.replace("postgresql+asyncpg", "postgresql"))
    except OSError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL must be reachable in CI: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    yield connection
    await connection.close()


async def _holder_pid(server: asyncpg.Connection) -> int:
    pid: int = await server.fetchval(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted",
        KEY,
    )
    return pid


async def test_one_leader_and_a_takeover_when_its_connection_dies(
    server: asyncpg.Connection,
) -> None:
    first, second = Replica("first"), Replica("second")
    first.start()
    await first.until(leading=True)
    second.start()
    # the second campaigns while the first holds the lock, and does not win
    for _ in range(5):
        await asyncio.sleep(0)
    assert second.changes == [] and second.leadership.is_leader is False

    # the first's connection dies as a SIGKILLed process's would
    await server.execute("SELECT pg_terminate_backend($1)", await _holder_pid(server))
    await first.until(leading=False)
    await second.until(leading=True)
    assert first.leadership.is_leader is False

    # the first comes back and waits its turn; the second steps down when it stops
    await second.halt()
    assert second.changes == [True, False]
    await first.until(leading=True)
    await first.halt()
    assert first.changes == [True, False, True, False]


async def test_a_failing_action_does_not_end_the_campaign(server: asyncpg.Connection) -> None:
    calls: list[bool] = []
    won = asyncio.Event()

    async def explode(leading: bool) -> None:
        calls.append(leading)
        won.set()
        raise RuntimeError("front-end failed to start")

    stop = asyncio.Event()
    leadership = Leadership(URL, explode, key=KEY, interval=0.02)
    task = asyncio.create_task(leadership.run(stop))
    await asyncio.wait_for(won.wait(), 15)
    assert leadership.is_leader and not task.done()
    stop.set()
    await asyncio.wait_for(task, 10)
    assert calls == [True, False]


async def test_an_unreachable_server_is_retried_and_reported_once() -> None:
    stop = asyncio.Event()

    async def never(leading: bool) -> None:
        raise AssertionError("no server, no leader")

    leadership = Leadership(
        "postgresql://nobody@127.0.0.1:9/none", never, key=KEY, interval=0.01, timeout=1
    )
    task = asyncio.create_task(leadership.run(stop))
    while leadership.last_error is None:  # noqa: ASYNC110 - only observable by polling
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert "ConnectionRefusedError" in leadership.last_error or "OSError" in leadership.last_error
