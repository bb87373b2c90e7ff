"""SIGHUP to `balancebot run` (`kill -HUP`, `systemctl reload`, a closed terminal): until
reload exists the daemon says so in one line and keeps running."""

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


async def test_sighup_is_answered_with_one_line_and_the_daemon_keeps_running(
    tmp_path: Path,
) -> None:
    async with DeepSeekSimulator() as simulator:
        simulator.add_account(KEY, {"CNY": ("0.00", "50.00")})
        config = tmp_path / "config.toml"
        config.write_text(
            f'[store]\npath = "{tmp_path / "state.db"}"\n\n'
            f'[[accounts]]\nname = "prod"\nprovider = "deepseek"\napi_key = "{KEY}"\n'
            f'base_url = "{simulator.base_url}"\ncheck_interval = "1h"\n\n'
            '[[notifiers]]\nname = "console"\ntype = "console"\n'
        )
        process = await spawn("run", "-c", str(config), env={"PYTHONUNBUFFERED": "1"})
        assert process.stderr is not None
        try:
            await line_with(process.stderr, b"balancebot running")
            process.send_signal(signal.SIGHUP)
            line = await line_with(process.stderr, b"SIGHUP")
            assert b"WARNING" in line and b"restart balancebot to apply a new one" in line
            assert process.returncode is None
            process.send_signal(signal.SIGHUP)  # and again: still one line each, still up
            await line_with(process.stderr, b"SIGHUP")
            process.send_signal(signal.SIGTERM)
            rest = await asyncio.wait_for(process.stderr.read(), 30)
            assert await process.wait() == 0
            assert b"balancebot stopped" in rest and b"Traceback" not in rest
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
