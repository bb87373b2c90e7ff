"""Replicas on PostgreSQL: a sweep of many accounts by one replica and by three (real
`balancebot run` processes), each against a bare httpx gather of the same GETs measured in
the same run; database round trips per check; a replica's idle RSS with that many accounts.

    python bench/replicas.py [--accounts 10000] [--url postgresql://postgres@127.0.0.1/bench]

Not a test: nothing is asserted. Needs PostgreSQL (a database it may empty).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from common import Row, SimulatorProcess, proc_stats
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from balancebot.store import async_url, metadata
from balancebot.testing.processes import start_daemon

CONCURRENCY = 50


def write_config(path: Path, url: str, sim: str, accounts: int) -> None:
    lines = [f'max_concurrent_checks = {CONCURRENCY}\n[store]\nurl = "{url}"\n']
    lines += [
        f'[[accounts]]\nname = "a{i}"\napi_key = "sk-sim-{i}"\nbase_url = "{sim}"\n'
        f'check_interval = "1h"\njitter = "0s"\n'
        for i in range(accounts)
    ]
    lines.append('[[notifiers]]\nname = "quiet"\ntype = "console"\n')
    path.write_text("\n".join(lines))


async def reset(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
        await conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))


async def checked_since(engine: AsyncEngine, since_micros: int) -> int:
    async with engine.connect() as conn:
        found = await conn.scalar(
            sa.text("SELECT count(DISTINCT account) FROM snapshots WHERE taken_at >= :t"),
            {"t": since_micros},
        )
    return int(found or 0)


async def until_all_checked(engine: AsyncEngine, since: int, accounts: int) -> float:
    started = time.perf_counter()
    while await checked_since(engine, since) < accounts:  # noqa: ASYNC110 - another process
        await asyncio.sleep(0.1)
    return time.perf_counter() - started


def now_micros() -> int:
    return time.time_ns() // 1000


async def sweep_with(replicas: int, config: Path, engine: AsyncEngine, accounts: int) -> Any:
    """Seconds for `replicas` processes to check every account once (all due at once),
    after a first sweep that warms them up; the first replica's RSS afterwards, and how
    long it took to start on an empty database."""
    await reset(engine)
    started = time.perf_counter()
    processes = [await start_daemon(config)]
    startup = time.perf_counter() - started  # config, schema, schedule rows, read-back
    processes += [await start_daemon(config) for _ in range(replicas - 1)]
    try:
        await until_all_checked(engine, 0, accounts)  # the warm-up sweep
        async with engine.begin() as conn:
            start = now_micros()
            await conn.execute(sa.text("UPDATE check_schedule SET next_at = :t"), {"t": start})
        elapsed = await until_all_checked(engine, start, accounts)
        await asyncio.sleep(3)  # idle
        rss, _ = proc_stats(processes[0].pid)
        return elapsed, rss, startup
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            await process.wait()


async def bare_gets(url: str, accounts: int) -> float:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    bound = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(limits=limits) as http:

        async def one(i: int) -> None:
            async with bound:
                headers = {"Authorization": f"Bearer sk-sim-{i}"}
                (await http.get(f"{url}/user/balance", headers=headers)).json()

        best = float("inf")
        for _ in range(2):
            started = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(accounts)))
            best = min(best, time.perf_counter() - started)
    return best


async def round_trips(url: str, sim: str, checks: int) -> float:
    """Statements sent to the database per check, counted over a second sweep in this
    process (the steady state: each account has history to read back)."""
    from balancebot.configure import parse_config
    from balancebot.daemon import Daemon

    engine = create_async_engine(async_url(url))
    await reset(engine)
    await engine.dispose()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "c.toml"
        write_config(config, url, sim, checks)
        import tomllib

        parsed = parse_config(tomllib.loads(config.read_text()), Path(tmp), env={})
    async with Daemon.open(parsed) as daemon:
        assert daemon.sweep is not None
        counted = 0

        def count(*_: Any) -> None:
            nonlocal counted
            counted += 1

        async def sweep() -> None:
            assert daemon.sweep is not None
            while True:
                await daemon.sweep.tick()
                await daemon.sweep.settle()
                if await daemon.store.next_check_due() > daemon.clock.now():  # type: ignore[operator]
                    break

        await sweep()  # the first: every account has a history and a schedule row after it
        async with daemon.store._engine.begin() as conn:
            await conn.execute(sa.text("UPDATE check_schedule SET next_at = 0"))
        sync_engine = daemon.store._engine.sync_engine
        sa.event.listen(sync_engine, "before_cursor_execute", count)
        await sweep()
        sa.event.remove(sync_engine, "before_cursor_execute", count)
    return counted / checks


async def main(accounts: int, url: str) -> list[Row]:
    server = SimulatorProcess(accounts)
    engine = create_async_engine(async_url(url))
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "replicas.toml"
            write_config(config, url, server.url, accounts)
            bare = await bare_gets(server.url, accounts)
            one, rss, startup = await sweep_with(1, config, engine, accounts)
            three, _, _ = await sweep_with(3, config, engine, accounts)
        trips = await round_trips(url, server.url, 500)
    finally:
        await engine.dispose()
        server.stop()
    for replicas, took in ((1, one), (3, three)):
        rows.append(
            Row(
                f"replicas: {accounts} accounts on PostgreSQL, {replicas} replica(s) vs bare "
                "httpx+gather of the same GETs",
                f"{took:.1f} s",
                f"{bare:.1f} s",
                took / bare,
                "",
            )
        )
    rows.append(Row("replicas: database statements per check", f"{trips:.2f}", "", None, ""))
    rows.append(
        Row(
            f"replicas: start-up of a replica with {accounts} accounts on an empty database",
            f"{startup:.1f} s",
            "",
            None,
            "",
        )
    )
    rows.append(
        Row(
            f"replicas: idle RSS of a replica with {accounts} accounts",
            f"{rss:.0f} MiB",
            "",
            None,
            "< 200 MB",
        )
    )
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument(
        "--url",
        default=os.environ.get(
            "BALANCEBOT_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1/bench"
        ),
    )
    args = parser.parse_args()
    for row in asyncio.run(main(args.accounts, args.url)):
        print(" | ".join(row.cells()))
    print(f"\n{os.cpu_count()} cores, Python {sys.version.split()[0]}")
