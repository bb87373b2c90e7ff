"""`balancebot demo` as a newcomer runs it: Ctrl-C, no usable stdin, /history; and the
daemon's shutdown with a check still in flight (no job-error traceback)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Callable

import pytest
from aiohttp import web

from balancebot.config import Config
from balancebot.daemon import Daemon
from balancebot.httpserver import LoopbackServer

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
