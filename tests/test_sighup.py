"""SIGHUP to `balancebot run` (`kill -HUP`, `systemctl reload`, a closed terminal) reloads
its configuration file: a valid one is applied without a restart, an invalid one is said in
one line and the running configuration stays."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.processes import spawn

KEY = "sk-sighup-0123456789"


async def line_with(stream: asyncio.StreamReader, text: bytes) -> bytes:
    while True:
        line = await asyncio.wait_for(stream.readline(), 30)
        assert line, f"the daemon exited before it logged {text!r}"
        if text in line:
            return line


def accounts(simulator: DeepSeekSimulator, *names: str) -> str:
    return "".join(
        f'[[accounts]]\nname = "{name}"\nprovider = "deepseek"\napi_key = "{KEY}"\n'
        f'base_url = "{simulator.base_url}"\ncheck_interval = "1h"\n\n'
        for name in names
    )


async def test_sighup_reloads_the_file_and_keeps_running_on_a_broken_one(
    tmp_path: Path,
) -> None:
    async with DeepSeekSimulator() as simulator:
        simulator.add_account(KEY, {"CNY": ("0.00", "50.00")})
        config = tmp_path / "config.toml"
        head = f'[store]\npath = "{tmp_path / "state.db"}"\n\n'
        notifier = '[[notifiers]]\nname = "console"\ntype = "console"\n'
        config.write_text(head + accounts(simulator, "prod") + notifier)
        process = await spawn("run", "-c", str(config), env={"PYTHONUNBUFFERED": "1"})
        assert process.stderr is not None
        try:
            await line_with(process.stderr, b"balancebot running")
            await line_with(process.stderr, b"check prod ok")
            config.write_text(head + accounts(simulator, "prod", "dev") + notifier)
            process.send_signal(signal.SIGHUP)
            line = await line_with(process.stderr, b"SIGHUP")
            assert b"configuration reloaded: 2 account(s) (1 added, 0 removed)" in line
            await line_with(process.stderr, b"check dev ok")  # its job runs at once

            config.write_text(head + "[[accounts]]\nname = \n")
            process.send_signal(signal.SIGHUP)
            line = await line_with(process.stderr, b"SIGHUP")
            assert b"ERROR" in line and b"configuration not reloaded" in line
            assert b"not valid TOML" in line and b"send SIGHUP again" in line
            assert process.returncode is None
            process.send_signal(signal.SIGTERM)
            rest = await asyncio.wait_for(process.stderr.read(), 30)
            assert await process.wait() == 0
            assert b"balancebot stopped" in rest and b"Traceback" not in rest
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
