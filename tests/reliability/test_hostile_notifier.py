"""The daemon as a real process with a notifier whose `send` never returns and swallows
every cancellation (a third-party notifier's bug, patched in through `sitecustomize`):
SIGTERM still ends it within 10 s, saying what it left behind."""

from __future__ import annotations

import time
from pathlib import Path

from balancebot.testing.deepseek import DeepSeekSimulator
from balancebot.testing.processes import rest_of_stderr, start_daemon
from balancebot.testing.receiver import Receiver

from .test_delivery_stalls import stopped, write_config

DEAF_SEND = '''
import asyncio
import sys
from balancebot.integrations.webhook.notifier import WebhookNotifier

async def send(self, notification, target):
    """Never returns; swallows every cancellation."""
    print("deaf send began", file=sys.stderr, flush=True)
    while True:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            pass

WebhookNotifier.send = send
'''


async def test_sigterm_ends_the_daemon_within_10_s_with_a_send_deaf_to_cancellation(
    tmp_path: Path, simulator: DeepSeekSimulator
) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(DEAF_SEND)
    async with Receiver() as receiver:
        config = tmp_path / "config.toml"
        write_config(config, simulator, receiver, '[store]\npath = "state.db"\n')
        process = await start_daemon(
            config, env={"PYTHONPATH": str(tmp_path / "site")}, until=(b"deaf send began",)
        )
        started = time.monotonic()
        await stopped(process, 20)
        took = time.monotonic() - started
    said = await rest_of_stderr(process)
    assert took < 10, said
    assert "which ignored its cancellation" in said, said
    assert "Traceback" not in said and process.returncode == 0, said
    print(f"\nSIGTERM with a send deaf to cancellation: exited in {took:.1f} s")
