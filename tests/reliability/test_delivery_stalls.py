"""The daemon as a real process against a webhook receiver that answers 200 and then drips
one byte every 5 s forever: SIGTERM ends it within 10 s, saying what it abandoned; after a
SIGKILL the next process (SQLite) or a surviving replica (PostgreSQL) sends what the dead
one held within seconds, not when its lease runs out."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.processes import rest_of_stderr, start_daemon
from balancebot.testing.receiver import Receiver

KEY = "sk-stalls-0123456789"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as server:
        server.stalls, server.drip = 1, 5.0  # the first request hangs; the next are answered
        yield server


def write_config(path: Path, simulator: DeepSeekSimulator, receiver: Receiver, store: str) -> None:
    simulator.add_account(KEY, {"CNY": ("0.00", "5.00")})  # critical at the first check
    path.write_text(
        f"{store}\n"
        f'[[accounts]]\nname = "prod"\napi_key = "{KEY}"\nbase_url = "{simulator.base_url}"\n'
        'check_interval = "1h"\njitter = "1ms"\n\n'
        '[[rules]]\nname = "low"\ntype = "threshold"\n'
        'thresholds = { CNY = { warning_below = "20", critical_below = "10" } }\n\n'
        '[[notifiers]]\nname = "hook"\ntype = "webhook"\n'
        f'urls = ["{receiver.url}/hook/a"]\nsecret = "whsec-stalls-0123456789"\n'
        'timeout = "60s"\n'
    )


async def stopped(process: asyncio.subprocess.Process, within: float = 15) -> None:
    """SIGTERM, and SIGKILL if it is not gone within `within` s: no test leaves a daemon."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), within)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def delivered_within(receiver: Receiver, seconds: float) -> float:
    """Seconds until the receiver has a complete delivery (fails after `seconds`)."""
    started = time.monotonic()
    await asyncio.wait_for(receiver.delivered.wait(), seconds)
    return time.monotonic() - started


async def test_sigterm_ends_the_daemon_within_10_s_whatever_a_receiver_does(
    tmp_path: Path, simulator: DeepSeekSimulator, receiver: Receiver
) -> None:
    """On main SIGTERM waited for the dripping send: 110 s, without a word."""
    config = tmp_path / "config.toml"
    write_config(config, simulator, receiver, '[store]\npath = "state.db"\n')
    process = await start_daemon(config)
    await asyncio.wait_for(receiver.stalled.wait(), 30)
    started = time.monotonic()
    await stopped(process)
    took = time.monotonic() - started
    said = await rest_of_stderr(process)
    assert took < 10, said
    assert "abandoned the send to hook:" in said and "stays queued" in said
    assert "Traceback" not in said and process.returncode == 0
    print(f"\nSIGTERM with a dripping receiver: exited in {took:.1f} s")


async def test_after_a_sigkill_the_next_process_sends_at_once(
    tmp_path: Path, simulator: DeepSeekSimulator, receiver: Receiver
) -> None:
    """SQLite: the new process holds the file's lock, so the dead one's lease is void.
    On main the row waited out the dead process's 45 s lease."""
    config = tmp_path / "config.toml"
    write_config(config, simulator, receiver, '[store]\npath = "state.db"\n')
    dead = await start_daemon(config)
    try:
        await asyncio.wait_for(receiver.stalled.wait(), 30)  # it holds the target's lease
    finally:
        dead.send_signal(signal.SIGKILL)
        await dead.wait()
    process = await start_daemon(config)  # returns at its `running` line
    try:
        took = await delivered_within(receiver, 10)
    finally:
        await stopped(process)
    assert took < 2
    assert len(receiver.received) == 1 and receiver.requests == 2
    print(f"\nafter SIGKILL and restart: the pending alert went out {took:.2f} s after `running`")


@pytest.mark.postgres
async def test_a_surviving_replica_takes_a_killed_ones_targets_within_5_s(
    tmp_path: Path, simulator: DeepSeekSimulator, receiver: Receiver, postgres_url: str
) -> None:
    """PostgreSQL: each replica holds a lock named after it; the server frees it when the
    process dies, and its leases with it. On main the survivor waited out the 45 s lease."""
    config = tmp_path / "config.toml"
    write_config(config, simulator, receiver, f'[store]\nurl = "{postgres_url}"\n')
    doomed = await start_daemon(config)
    survivor = None
    try:
        await asyncio.wait_for(receiver.stalled.wait(), 30)  # it holds the target's lease
        survivor = await start_daemon(config, until=(b"delivery liveness",))
        assert receiver.requests == 1  # a live replica's lease is respected
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()
        took = await delivered_within(receiver, 15)
    finally:
        for process in (doomed, survivor):
            if process is not None:
                await stopped(process, 1 if process is doomed else 15)
    assert took < 5
    assert len(receiver.received) == 1 and receiver.requests == 2
    print(f"\na surviving replica sent the killed one's alert {took:.2f} s after the kill")
