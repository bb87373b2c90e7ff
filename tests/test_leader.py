"""Leader election on a real PostgreSQL: one leader at a time, and leadership moves when the
leader's connection dies (a SIGKILLed replica), when it stops, and when the network between it
and the server goes silent (a TCP proxy blackholes it; nothing is closed)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from balancebot.leader import Leadership
from balancebot.testing.netfaults import Proxy

pytestmark = pytest.mark.postgres

KEY = 4242 + os.getpid()  # this run's own lock, whatever else uses the server


class Replica:
    def __init__(
        self,
        name: str,
        url: str,
        *,
        peers: list[Replica] | None = None,
        interval: float = 0.02,
        timeout: float = 2,
    ) -> None:
        self.name = name
        self.changes: list[bool] = []
        self.changed = asyncio.Event()
        self.stop = asyncio.Event()
        self.leadership = Leadership(
            url, self._on_change, key=KEY, interval=interval, timeout=timeout
        )
        self.task: asyncio.Task[None] | None = None
        self.peers = peers if peers is not None else []
        self.peers.append(self)
        self.overlaps: list[str] = []  # peers that were leading when this one was elected
        self.on_step_down: Callable[[], Awaitable[None]] | None = None  # runs as it steps down
        self.stepped_down_at = 0.0

    async def _on_change(self, leading: bool) -> None:
        if leading:
            others = [p.name for p in self.peers if p is not self and p.leadership.is_leader]
            self.overlaps += others
        else:
            self.stepped_down_at = asyncio.get_running_loop().time()
            if self.on_step_down is not None:
                await self.on_step_down()
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
async def server(postgres_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A session on this test's own database, to watch the replicas' sessions and locks."""
    url = make_url(postgres_url).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    yield connection
    await connection.close()


async def _holder_pid(server: asyncpg.Connection) -> int | None:
    pids = await server.fetch(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND granted",
        KEY,
    )
    assert len(pids) <= 1, pids  # an advisory lock has one holder at most
    return pids[0]["pid"] if pids else None


async def _client_port(server: asyncpg.Connection, pid: int) -> int:
    port: int = await server.fetchval(
        "SELECT client_port FROM pg_stat_activity WHERE pid = $1", pid
    )
    return port


async def _alive(server: asyncpg.Connection, pid: int) -> bool:
    """Whether the session still exists (its lock too, if it held one)."""
    return bool(await server.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid))


async def _campaigners(server: asyncpg.Connection) -> set[int]:
    """Client ports of the sessions whose last query was trying for the lock."""
    rows = await server.fetch(
        "SELECT client_port FROM pg_stat_activity"
        " WHERE datname = current_database() AND query = 'SELECT pg_try_advisory_lock($1)'"
    )
    return {row["client_port"] for row in rows}


async def _eventually(check: Callable[[], Awaitable[bool]], within: float = 15) -> None:
    """Poll the server's state (a session's queries are observable no other way)."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110 - only observable by polling
            await asyncio.sleep(0.01)


async def test_one_leader_and_a_takeover_when_its_connection_dies(
    server: asyncpg.Connection, postgres_url: str
) -> None:
    first, second = Replica("first", postgres_url), Replica("second", postgres_url)
    first.start()
    await first.until(leading=True)
    holder = await _holder_pid(server)
    assert holder is not None
    first_port = await _client_port(server, holder)
    second.start()

    async def second_tried() -> bool:
        return bool(await _campaigners(server) - {first_port})

    # the second campaigns while the first holds the lock, and does not win
    await _eventually(second_tried)
    assert second.changes == [] and second.leadership.is_leader is False

    # the first's connection dies as a SIGKILLed process's would
    await server.execute("SELECT pg_terminate_backend($1)", holder)
    await first.until(leading=False)
    await second.until(leading=True)
    assert first.leadership.is_leader is False

    # the first comes back and waits its turn; the second steps down when it stops
    await second.halt()
    assert second.changes == [True, False]
    await first.until(leading=True)
    await first.halt()
    assert first.changes == [True, False, True, False]


async def test_a_failing_action_does_not_end_the_campaign(
    server: asyncpg.Connection, postgres_url: str
) -> None:
    calls: list[bool] = []
    won = asyncio.Event()

    async def explode(leading: bool) -> None:
        calls.append(leading)
        won.set()
        raise RuntimeError("front-end failed to start")

    stop = asyncio.Event()
    leadership = Leadership(postgres_url, explode, key=KEY, interval=0.02)
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


# A partition: short enough to run fast, long enough that a busy CI machine answers in time.
INTERVAL, TIMEOUT = 0.05, 1.0


@pytest.fixture
async def proxy(postgres_url: str) -> AsyncIterator[Proxy]:
    url = make_url(postgres_url)
    async with Proxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        yield proxy


def _through(postgres_url: str, proxy: Proxy) -> str:
    url = make_url(postgres_url).set(host="127.0.0.1", port=proxy.port)
    return url.render_as_string(hide_password=False)


async def _partitioned_leader(
    server: asyncpg.Connection, postgres_url: str, proxy: Proxy
) -> tuple[Replica, Replica, int]:
    """The first replica leads through `proxy`, the second campaigns on a direct connection."""
    peers: list[Replica] = []
    through = _through(postgres_url, proxy)
    first = Replica("first", through, peers=peers, interval=INTERVAL, timeout=TIMEOUT)
    second = Replica("second", postgres_url, peers=peers, interval=INTERVAL, timeout=TIMEOUT)
    first.start()
    await first.until(leading=True)
    holder = await _holder_pid(server)
    assert holder is not None and await _client_port(server, holder) in proxy.server_ports()
    second.start()

    async def second_tried() -> bool:
        return bool(await _campaigners(server) - proxy.server_ports())

    await _eventually(second_tried)
    return first, second, holder


async def test_a_partitioned_leader_steps_down_before_the_server_frees_its_lock(
    server: asyncpg.Connection, postgres_url: str, proxy: Proxy
) -> None:
    first, second, holder = await _partitioned_leader(server, postgres_url, proxy)
    link = proxy.link(await _client_port(server, holder))
    seen: list[tuple[int | None, bool, bool]] = []

    async def look() -> None:  # the moment the first stops leading, what the server says
        sockets_open = link[0].open and link[1].open
        seen.append((await _holder_pid(server), second.leadership.is_leader, sockets_open))

    first.on_step_down = look
    loop = asyncio.get_running_loop()
    cut = loop.time()
    proxy.blackhole()
    await first.until(leading=False)
    down = first.stepped_down_at - cut
    # the server still holds the first's lock, over sockets nobody closed: no second leader
    assert seen == [(holder, False, True)]
    assert down < 2 * (INTERVAL + TIMEOUT)  # the server's own bound, the next test's

    # the server gives up on the session (as its keepalive would): the second takes over
    proxy.sever()
    severed = loop.time()
    await second.until(leading=True)
    takeover = loop.time() - severed
    new_holder = await _holder_pid(server)
    assert new_holder is not None and new_holder != holder

    # the partition heals: the first reconnects and campaigns, and loses to the second
    proxy.heal()
    healed = loop.time()

    async def first_tries_again() -> bool:
        return bool(await _campaigners(server) & proxy.server_ports())

    await _eventually(first_tries_again)
    back = loop.time() - healed
    assert await _holder_pid(server) == new_holder  # one lock, the second's, none leaked
    assert not await _alive(server, holder)
    assert first.changes == [True, False] and second.changes == [True]

    await second.halt()
    await first.until(leading=True)
    await first.halt()
    assert first.changes == [True, False, True, False] and second.changes == [True, False]
    assert first.overlaps == second.overlaps == []
    print(f"PARTITION step-down {down:.3f}s, takeover {takeover:.3f}s, campaign {back:.3f}s")


@pytest.mark.slow
async def test_the_server_frees_a_partitioned_leaders_lock_though_tcp_stays_up(
    server: asyncpg.Connection, postgres_url: str, proxy: Proxy
) -> None:
    """A proxy or load balancer between replica and server answers the server's keepalives,
    so they never fire: the server ends the session itself once no ping arrives."""
    first, second, holder = await _partitioned_leader(server, postgres_url, proxy)
    port = await _client_port(server, holder)
    client_end, server_end = proxy.link(port)
    loop = asyncio.get_running_loop()
    cut = loop.time()
    proxy.blackhole()
    await first.until(leading=False)
    await second.until(leading=True)
    takeover = loop.time() - cut
    assert first.overlaps == second.overlaps == []
    # the server closed the connection, with its idle-session timeout error (SQLSTATE 57P05),
    # which the proxy holds back; its socket to the replica was never closed
    await asyncio.wait_for(server_end.ended.wait(), 5)
    assert b"57P05" in server_end.held
    assert client_end.open
    assert not await _alive(server, holder)
    await second.halt()
    await first.halt()
    down = first.stepped_down_at - cut
    print(f"PARTITION step-down {down:.3f}s, server released and second elected {takeover:.3f}s")


FROZEN = """
import asyncio, sys
from balancebot.leader import Leadership

async def told(leading):
    print("leading" if leading else "stepped down", flush=True)

leadership = Leadership(sys.argv[1], told, key=int(sys.argv[2]), interval=0.02, timeout=0.5)
asyncio.run(leadership.run(asyncio.Event()))
"""


async def test_a_frozen_leader_loses_the_lock_and_steps_down_when_it_thaws(
    server: asyncpg.Connection, postgres_url: str
) -> None:
    """A leader stopped by SIGSTOP (a paused VM, an event loop blocked) keeps answering TCP
    keepalives from its kernel; the server's idle_session_timeout frees its lock all the
    same, and the thawed leader steps down at its next ping."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", FROZEN, postgres_url, str(KEY), stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    second = Replica("second", postgres_url)
    try:
        assert await asyncio.wait_for(process.stdout.readline(), 30) == b"leading\n"
        process.send_signal(signal.SIGSTOP)
        second.start()
        await second.until(leading=True)
        process.send_signal(signal.SIGCONT)
        assert await asyncio.wait_for(process.stdout.readline(), 30) == b"stepped down\n"
        assert second.leadership.is_leader
    finally:
        process.send_signal(signal.SIGCONT)
        process.kill()
        await process.wait()
        if second.task is not None:
            await second.halt()
