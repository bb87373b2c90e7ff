"""A real Prometheus Alertmanager as a process, for the on-call notifiers' tests.

Debian's `prometheus-alertmanager` (or an `alertmanager` on PATH), on a loopback port of
its own, with its own configuration and storage in a directory the caller owns and no
cluster gossip. Its one receiver is a webhook pointed at `webhook_url`, grouping by
`alertname` and `account` and flushing within a second, so a test sees the firing and
the resolved webhook quickly. Ready once `/-/ready` answers 200 (polled, with a deadline).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

BINARIES = ("prometheus-alertmanager", "alertmanager")
READY_WITHIN = 30.0

CONFIG = """\
route:
  receiver: hook
  group_by: [alertname, account]
  group_wait: 200ms
  group_interval: 500ms
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: "{webhook_url}"
        send_resolved: true
"""


def binary() -> str | None:
    """The Alertmanager on this machine, if any."""
    for name in BINARIES:
        found = shutil.which(name)
        if found is not None:
            return found
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def running_alertmanager(
    directory: Path, webhook_url: str, program: str | None = None
) -> AsyncIterator[str]:
    """Alertmanager's base URL while the block runs; stopped (killed if it must) after."""
    program = program or binary()
    if program is None:
        raise RuntimeError("no Alertmanager: apt-get install prometheus-alertmanager")
    config, log = _prepare(directory, webhook_url)
    port = free_port()
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            program,
            f"--config.file={config}",
            f"--storage.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--alerts.gc-interval=1s",
            stdout=output,
            stderr=output,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        await _ready(url, process, log)
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                process.kill()
                await process.wait()


def _prepare(directory: Path, webhook_url: str) -> tuple[Path, Path]:
    """Its configuration file and the log file it writes (a few hundred bytes: no thread)."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "alertmanager.yml"
    config.write_text(CONFIG.format(webhook_url=webhook_url))
    return config, directory / "alertmanager.log"


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


async def _ready(url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + READY_WITHIN
    async with httpx.AsyncClient(timeout=1) as http:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"Alertmanager exited ({process.returncode}):\n{_tail(log)}")
            try:
                if (await http.get(f"{url}/-/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)  # polling a starting process: nothing to wait on
    raise RuntimeError(f"Alertmanager not ready at {url} within {READY_WITHIN:.0f} s")
