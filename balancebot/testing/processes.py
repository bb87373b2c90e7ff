"""balancebot as a real process, for tests and benchmarks that need one (crash, signal and
start-up cases)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path


async def spawn(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, stdin: bool = False
) -> asyncio.subprocess.Process:
    """`python -m balancebot ARGS` as a real process, output piped (stdin too if asked)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "balancebot",
        *args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=asyncio.subprocess.PIPE if stdin else None,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def start_daemon(
    config: Path, env: dict[str, str] | None = None, until: tuple[bytes, ...] = ()
) -> asyncio.subprocess.Process:
    """`balancebot run` as a process, returned once it says it is running (and has logged
    a line containing each of `until`); its stderr is drained in the background from then
    on so the pipe never fills (`rest_of_stderr` gives it). Stdout is discarded."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "balancebot",
        "run",
        "-c",
        str(config),
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    waiting = {b"balancebot running", *until}
    while waiting:
        line = await asyncio.wait_for(process.stderr.readline(), 30)
        assert line, f"the daemon exited before it logged {waiting}"
        waiting -= {w for w in waiting if w in line}
    _DRAINED[process.pid] = asyncio.get_running_loop().create_task(process.stderr.read())
    return process


_DRAINED: dict[int, asyncio.Task[bytes]] = {}


async def rest_of_stderr(process: asyncio.subprocess.Process) -> str:
    """What a process `start_daemon` started wrote to stderr after it was running, once
    it has exited."""
    return (await _DRAINED.pop(process.pid)).decode(errors="replace")
