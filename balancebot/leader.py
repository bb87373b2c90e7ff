"""One leader among replicas: a PostgreSQL session advisory lock held on a connection of its own.

Telegram lets one process consume a bot's updates (`getUpdates`); with several replicas,
only the leader runs the Telegram front-end. PostgreSQL already knows how to do this: a
session-level advisory lock belongs to one connection and is released the moment that
connection ends — a replica killed with SIGKILL loses it at once (its socket closes).

A replica cut off by the network (nothing closed, packets just stop) is bounded on both
sides. The holder pings its connection every `interval` and steps down as soon as a ping
fails or takes longer than `timeout`: within `interval + timeout` of its last answered ping.
The server ends the session, and so frees the lock, once no query has arrived for twice
that (`idle_session_timeout`, PostgreSQL 14+), even when TCP stays up (a proxy or load
balancer in between answers the server's keepalives; on PostgreSQL 13 and older only the
keepalives bound it). The holder has stepped down by then, so two replicas never both lead;
`tests/test_leader.py` partitions one with a TCP proxy.

With SQLite there is one instance (the store is locked), which is always the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger(__name__)

LOCK_KEY = 0x62626C64  # "bbld"
OnChange = Callable[[bool], Awaitable[None]]

# The server's kernel drops a silent client's socket after about 5 + 2 * 2 s too, but only when
# the client is directly on the other end (a proxy in between answers the probes itself) and no
# reply is unacknowledged (Linux probes only an idle socket; retransmissions go on ~15 min).
KEEPALIVES = {
    "tcp_keepalives_idle": "5",
    "tcp_keepalives_interval": "2",
    "tcp_keepalives_count": "2",
}


class Leadership:
    """Campaigns until stopped; `on_change(True/False)` runs as leadership is won and lost."""

    role = "leader election"  # how its log lines begin
    won = "this replica is the leader"
    lost = "leadership lost"

    def __init__(
        self,
        url: str,
        on_change: OnChange | None = None,
        *,
        key: int = LOCK_KEY,
        interval: float = 1.0,
        timeout: float = 2.0,
    ) -> None:
        parsed = make_url(url).set(drivername="postgresql")
        self._dsn = parsed.render_as_string(hide_password=False)
        self.on_change = on_change
        self._key = key
        self._interval = interval
        self._timeout = timeout
        # Longer than the holder can go without stepping down (a ping's wait and its timeout),
        # with as much again for a slow event loop: a leader that is alive keeps its lock.
        self._release_after = 2 * (interval + timeout)
        self.is_leader = False
        self.elected = asyncio.Event()
        self.last_error: str | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: connect, try the lock every `interval`, hold it while pings answer."""
        while not stop.is_set():
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncio.wait_for(self._connect(), self._timeout)
                await self._campaign(connection, stop)
            except Exception as exc:  # a lost connection takes many shapes; all mean retry
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if reason != self.last_error:
                    log.warning("%s: %s; retrying", self.role, reason)
                self.last_error = reason
            finally:
                # Step down before the connection goes (and the lock with it): never two leaders.
                await self._step_down()
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(connection.close(), self._timeout)
            await _wait(stop, self._interval)

    async def _connect(self) -> asyncpg.Connection:
        import asyncpg  # here: a daemon on SQLite never loads the driver

        connection = await asyncpg.connect(self._dsn, server_settings=KEEPALIVES)
        try:
            if connection.get_server_version() >= (14,):
                await connection.fetchval(
                    "SELECT set_config('idle_session_timeout', $1, false)",
                    f"{round(self._release_after * 1000)}ms",
                )
        except BaseException:
            connection.terminate()
            raise
        return connection

    async def _campaign(self, connection: asyncpg.Connection, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self.is_leader:
                await asyncio.wait_for(connection.fetchval("SELECT 1"), self._timeout)
            else:
                won = await asyncio.wait_for(
                    connection.fetchval("SELECT pg_try_advisory_lock($1)", self._key),
                    self._timeout,
                )
                if won:
                    self.last_error = None
                    await self._take_office()
            await _wait(stop, self._interval)

    async def _take_office(self) -> None:
        self.is_leader = True
        self.elected.set()
        log.info("%s: %s", self.role, self.won)
        await self._notify(True)

    async def _step_down(self) -> None:
        if not self.is_leader:
            return
        self.is_leader = False
        self.elected.clear()
        log.warning("%s: %s", self.role, self.lost)
        await self._notify(False)

    async def _notify(self, leading: bool) -> None:
        """What runs on a change must not end the campaign (or leave a lock held idle)."""
        if self.on_change is None:
            return
        try:
            await self.on_change(leading)
        except Exception:
            log.exception("%s: acting on the change (held=%s) failed", self.role, leading)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
