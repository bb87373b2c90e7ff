"""`balancebot demo` as a newcomer runs it: Ctrl-C, no usable stdin, /history; and the
daemon's shutdown with a check still in flight (no job-error traceback)."""

from __future__ import annotations

import asyncio
import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from aiohttp import web

from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.httpserver import LoopbackServer
from balancebot.scheduler import build_scheduler

from .test_pipeline import Recorder


async def start_demo(stdin: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "balancebot",
        "demo",
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdin=stdin,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def read_until(process: asyncio.subprocess.Process, start: str) -> list[str]:
    """Stdout lines up to and including the first one starting with `start`."""
    assert process.stdout is not None
    lines: list[str] = []
    while True:
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert line, f"the demo ended before printing {start!r}: {lines}"
        lines.append(line.decode().rstrip("\n"))
        if lines[-1].startswith(start):
            return lines


async def interrupt(process: asyncio.subprocess.Process) -> tuple[float, str]:
    """Ctrl-C; returns the seconds until the process exited, and all it printed after."""
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(process.communicate(), 30)
    return time.monotonic() - started, (out + err).decode()


@pytest.mark.slow
async def test_ctrl_c_stops_the_demo_at_once_and_dev_null_stdin_is_no_error() -> None:
    process = await start_demo(asyncio.subprocess.DEVNULL)
    before = await read_until(process, "WARNING: demo")  # the daemon is well under way
    took, after = await interrupt(process)
    output = "\n".join(before) + after
    assert took < 5, f"Ctrl-C took {took:.1f}s"
    assert process.returncode == 1  # the story was not shown to its end
    assert "Console commands are off: standard input is not a terminal or a pipe." in output
    assert "Demo stopped (interrupted)." in output
    assert "Traceback" not in output
    assert "Error" not in output  # PermissionError, CancelledError, KeyboardInterrupt


@pytest.mark.slow
async def test_history_in_the_demo_writes_the_chart_and_says_where() -> None:
    process = await start_demo(asyncio.subprocess.PIPE)
    assert process.stdin is not None
    await read_until(process, "WARNING: demo")  # some history to draw
    process.stdin.write(b"/history 1\n")
    await process.stdin.drain()
    lines = await read_until(process, "    chart written to ")
    assert any(line == "demo: balance over 1 day" for line in lines), lines
    path = lines[-1].removeprefix("    chart written to ")
    try:
        with open(path, "rb") as chart:  # noqa: ASYNC230 - a small local file
            assert chart.read(8) == b"\x89PNG\r\n\x1a\n"
    finally:
        os.unlink(path)
    took, after = await interrupt(process)
    assert took < 5 and "Traceback" not in after


class HangingApi(LoopbackServer):
    """Accepts the balance request and never answers, so the check is in flight."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = asyncio.Event()
        self.app.router.add_get("/user/balance", self._hang)

    async def _hang(self, _: web.Request) -> web.Response:
        self.asked.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_stopping_with_a_check_in_flight_logs_no_traceback(
    make_config: Callable[..., Config], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with HangingApi() as api:
        config = make_config(
            accounts=[{"name": "prod", "api_key": "sk-x", "base_url": api.url, "timeout": "1m"}],
            notifiers=[{"name": "rec", "type": "console"}],
        )
        stop = asyncio.Event()
        async with Daemon.open(config, notifiers={"rec": Recorder()}) as daemon:
            serving = asyncio.create_task(daemon.serve(stop))
            await asyncio.wait_for(api.asked.wait(), 30)
            stop.set()
            await asyncio.wait_for(serving, 10)
    problems = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert problems == []
    assert "check of prod abandoned at shutdown" in caplog.text


def run_in_a_terminal(typed: bytes, after: bytes, limit: float) -> tuple[int | None, str, float]:
    """`balancebot demo` on a real pseudo-terminal, as a newcomer runs it: types `typed` (with
    Enter) once the screen shows `after`; returns the exit code (None: still running after
    `limit` seconds, then killed), the whole screen, and the seconds it ran."""
    master, slave = os.openpty()
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "balancebot", "demo"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,  # the terminal is its controlling one, not the test's
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    os.close(slave)
    screen = b""
    try:
        while (left := started + limit - time.monotonic()) > 0:
            ready, _, _ = select.select([master], [], [], left)
            if not ready:
                break
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: every process holding the terminal has closed it
                break
            if not chunk:
                break
            if after in screen + chunk and after not in screen:
                os.write(master, typed + b"\r")  # Enter, as the terminal sends it
            screen += chunk
        code = process.wait(timeout=max(left, 0) + 5) if left > 0 else None
    except subprocess.TimeoutExpired:
        code = None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    return code, screen.decode(errors="replace"), time.monotonic() - started


@pytest.mark.slow
def test_mute_typed_in_the_terminal_is_shown_and_the_story_still_ends() -> None:
    """The README says: type `/mute 1m demo`. The demo used to go silent, wait out its
    60 s limit, log a CancelledError traceback for `housekeeping` and exit 1."""
    code, screen, took = run_in_a_terminal(b"/mute 1m demo", b"Ctrl-C stops the demo.", 45)
    assert "Muted demo for 1m 00s" in screen, screen
    assert "(muted, not sent: WARNING: demo DeepSeek balance" in screen, screen
    assert "(muted, not sent: RESOLVED: demo DeepSeek balance" in screen, screen
    assert "Demo finished: the alert fired, escalated and resolved (" in screen, screen
    assert "Traceback" not in screen and "Error" not in screen, screen
    assert code == 0, screen
    assert took < 40, f"took {took:.0f}s"


async def test_a_job_the_scheduler_cancels_at_shutdown_logs_no_traceback(
    make_config: Callable[..., Config], caplog: pytest.LogCaptureFixture
) -> None:
    """The demo's 60 s limit met `housekeeping`'s first run (1 min after start):
    APScheduler logged the job its shutdown cancelled as an error, with a traceback."""
    caplog.set_level(logging.DEBUG)
    running = asyncio.Event()

    async def housekeeping() -> None:
        running.set()
        await asyncio.Event().wait()

    async def nothing(*_: object) -> None:
        return None

    config = make_config()
    async with Daemon.open(config) as daemon:
        scheduler = build_scheduler(config, daemon.pipeline, housekeeping, nothing, nothing)
        scheduler.start()
        scheduler.modify_job("housekeeping", next_run_time=datetime.now(UTC))
        await asyncio.wait_for(running.wait(), 10)
        scheduler.shutdown(wait=False)
        for _ in range(5):  # the cancelled job's task ends, then its done-callback runs
            await asyncio.sleep(0)
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []
    assert "stopped at shutdown: Job" in caplog.text and "housekeeping" in caplog.text
