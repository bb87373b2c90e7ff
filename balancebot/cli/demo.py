"""`balancebot demo`: the real daemon against a simulated DeepSeek account on loopback.

The simulated balance drains with every check and is topped up after a while, so within
about 20 seconds the console shows a warning firing, a runway warning ("runs out in about
1 min"), a repeat, escalation to critical and, after the top-up, the top-up notice and the
resolved notices. Nothing leaves the machine; no credentials needed.
Lines typed (or piped) on standard input go through the same command layer as Telegram
and Slack: `/balance`, `/status`, `/mute 1m demo`, `/help`.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

from ..commands import Commands
from ..commands.access import Caller
from ..config import load_config
from ..daemon import Daemon
from ..models import Notification, TransitionKind
from ..render import console_text
from ..testing.deepseek import DeepSeekSimulator

DEMO_KEY = "sk-demo-not-a-real-key"

DEMO_CONFIG = """\
# written by `balancebot demo`: a fast schedule against the local simulator
timezone = "UTC"

[store]
path = "demo.db"

[[accounts]]
name = "demo"
provider = "deepseek"
api_key = "${{BALANCEBOT_DEMO_KEY}}"
base_url = "{base_url}"
check_interval = "1s"
jitter = "1ms"
timeout = "5s"

[[rules]]
name = "low-balance"
type = "threshold"
repeat_interval = "5s"
hysteresis = "2.00"
thresholds = {{ CNY = {{ warning_below = "20.00", critical_below = "10.00" }} }}

[[rules]]
name = "runway"
type = "runway"
warning_days = "0.0002"     # 17 seconds: the demo spends fast
window = "20s"
min_history = "3s"
repeat_interval = "1h"

[[rules]]
name = "top-up"
type = "top_up"

[[rules]]
name = "unavailable"
type = "unavailable"

[[notifiers]]
name = "console"
type = "console"
"""

CONSOLE = Caller("console", "local", "console", "you")


async def run_demo(time_limit: float = 60.0) -> bool:
    """Returns whether the whole story (fire → escalate → resolve) was shown."""
    seen: set[TransitionKind] = set()
    async with DeepSeekSimulator() as simulator:
        simulator.add_account(
            DEMO_KEY,
            {"CNY": ("5.00", "21.00")},
            drain_per_request=Decimal("1.50"),
            top_up_after=14,
            top_up_amount=Decimal("100.00"),
        )
        with tempfile.TemporaryDirectory(prefix="balancebot-demo-") as tmp:
            path = Path(tmp) / "config.toml"
            path.write_text(DEMO_CONFIG.format(base_url=simulator.base_url), encoding="utf-8")
            config = load_config(path, env={"BALANCEBOT_DEMO_KEY": DEMO_KEY})
            print(
                f"Simulated DeepSeek API at {simulator.base_url}; account 'demo' starts at "
                "26.00 CNY and spends 1.50 per check (checked every second).\n"
                "Thresholds: warning below 20.00, critical below 10.00; runway: warning "
                "when it runs out within 17 seconds. "
                "A top-up of 100.00 CNY arrives after 14 checks.\n"
                "Type /balance, /status, /mute 1m demo, /unmute demo or /help meanwhile.\n",
                flush=True,
            )
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()

            def watch(_notifier: str, notification: Notification) -> None:
                seen.add(notification.kind)
                if notification.kind is TransitionKind.RESOLVED:
                    loop.call_later(1.0, stop.set)

            async with Daemon.open(config) as daemon:
                daemon.dispatcher.listeners.append(watch)
                timer = loop.call_later(time_limit, stop.set)
                console = asyncio.create_task(answer_console(daemon.commands, stop))
                try:
                    await daemon.serve(stop)
                finally:
                    timer.cancel()
                    console.cancel()
    story = {TransitionKind.FIRING, TransitionKind.ESCALATED, TransitionKind.RESOLVED}
    shown = story <= seen
    print(
        "\nDemo finished: the alert fired, escalated and resolved."
        if shown
        else "\nDemo stopped before the whole story was shown.",
        flush=True,
    )
    return shown


async def answer_console(commands: Commands, stop: asyncio.Event) -> None:
    """Answer commands read from standard input, as the chat front-ends do."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except (ValueError, OSError):  # stdin is a regular file or closed: nothing to read
        return
    while line := await reader.readline():
        text = line.decode(errors="replace").strip()
        if text:
            reply = await commands.handle(CONSOLE, text)
            if reply is not None:  # the console is always allowed
                print(console_text(reply), flush=True)
    if sys.stdin.isatty():  # Ctrl-D
        stop.set()
