"""`balancebot demo`: the real daemon against simulated DeepSeek and Moonshot accounts on
loopback (two providers, as a team that pays both would watch them).

The simulated balance drains with every check and is topped up after a while, so within
about 20 seconds the console shows a warning firing, a runway warning ("runs out in about
1 min"), a repeat, escalation to critical and, after the top-up, the top-up notice and the
resolved notices. Nothing leaves the machine; no credentials needed.
Lines typed (or piped) on standard input go through the same command layer as Telegram
and Slack: `/balance`, `/status`, `/mute 1m demo`, `/history`, `/help`. Ctrl-C stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import stat
import sys
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from ..commands import Commands
from ..commands.access import Caller
from ..configure import load_config
from ..daemon import Daemon
from ..models import Notification, TransitionKind
from ..render import console_text
from ..testing.deepseek import DeepSeekSimulator
from ..testing.moonshot import MoonshotFake

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

[[accounts]]
name = "kimi"
provider = "moonshot"
api_key = "${{BALANCEBOT_DEMO_KEY}}"
base_url = "{moonshot_url}"
check_interval = "5s"
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

CONSOLE = Caller("console", "local", "console", "you", private=True)


async def run_demo(time_limit: float = 60.0) -> bool:
    """Returns whether the whole story (fire → escalate → resolve) was shown."""
    seen: set[TransitionKind] = set()
    muted_notices: list[Notification] = []
    async with DeepSeekSimulator() as simulator, MoonshotFake() as moonshot:
        moonshot.add_account(DEMO_KEY, voucher=12.5, cash=140.0)
        simulator.add_account(
            DEMO_KEY,
            {"CNY": ("5.00", "21.00")},
            drain_per_request=Decimal("1.50"),
            top_up_after=14,
            top_up_amount=Decimal("100.00"),
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        interrupted = asyncio.Event()

        def interrupt() -> None:
            interrupted.set()
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C stops at once, as `run` does
            loop.add_signal_handler(sig, interrupt)
        with (
            _removing_signal_handlers(loop),
            tempfile.TemporaryDirectory(prefix="balancebot-demo-") as tmp,
        ):
            path = Path(tmp) / "config.toml"
            text = DEMO_CONFIG.format(base_url=simulator.base_url, moonshot_url=moonshot.url)
            path.write_text(text, encoding="utf-8")
            config = load_config(path, env={"BALANCEBOT_DEMO_KEY": DEMO_KEY})
            console_off = console_unavailable()
            print(
                f"Simulated DeepSeek API at {simulator.base_url}; account 'demo' starts at "
                "26.00 CNY and spends 1.50 per check (checked every second).\n"
                "Thresholds: warning below 20.00, critical below 10.00; runway: warning "
                "when it runs out within 17 seconds. "
                "A top-up of 100.00 CNY arrives after 14 checks.\n"
                f"Simulated Moonshot API at {moonshot.url}; account 'kimi' holds 152.50 CNY "
                "(voucher 12.50, cash 140.00) and stays well above the thresholds.\n"
                + (
                    f"Console commands are off: {console_off}.\n"
                    if console_off
                    else "Type /balance, /status, /mute 1m demo, /unmute demo, /history or /help "
                    "meanwhile; Ctrl-C stops the demo.\n"
                ),
                flush=True,
            )

            def watch(_notifier: str, notification: Notification) -> None:
                seen.add(notification.kind)
                if notification.kind is TransitionKind.RESOLVED:
                    loop.call_later(1.0, stop.set)

            def held_back(notification: Notification, muted: bool) -> None:
                """A `/mute` must not leave the console silent until the time limit."""
                if muted:
                    muted_notices.append(notification)
                    print(f"    (muted, not sent: {notification.headline})", flush=True)
                    watch("", notification)

            async with Daemon.open(config) as daemon:
                daemon.dispatcher.listeners.append(watch)
                daemon.pipeline.listeners.append(held_back)
                timer = loop.call_later(time_limit, stop.set)
                console = asyncio.create_task(
                    answer_console(daemon.commands, stop) if console_off is None else stop.wait()
                )
                try:
                    await daemon.serve(stop)
                finally:
                    timer.cancel()
                    console.cancel()
                    await asyncio.gather(console, return_exceptions=True)
    story = {TransitionKind.FIRING, TransitionKind.ESCALATED, TransitionKind.RESOLVED}
    shown = story <= seen
    muted = (
        f" ({len(muted_notices)} of its notices were muted: recorded, not sent)"
        if muted_notices
        else ""
    )
    print(
        f"\nDemo finished: the alert fired, escalated and resolved{muted}."
        if shown
        else "\nDemo stopped (interrupted)."
        if interrupted.is_set()
        else "\nDemo stopped before the whole story was shown.",
        flush=True,
    )
    return shown


@contextlib.contextmanager
def _removing_signal_handlers(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    try:
        yield
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def console_unavailable() -> str | None:
    """Why standard input cannot carry commands, or None when it is a terminal or a pipe.

    The event loop reads only terminals, pipes and sockets; /dev/null or a regular file
    would fail inside the loop (epoll refuses them) with a traceback instead."""
    if sys.stdin is None:
        return "standard input is closed"
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError):
        return "standard input is closed"
    if sys.stdin.isatty() or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return None
    return "standard input is not a terminal or a pipe"


async def answer_console(commands: Commands, stop: asyncio.Event) -> None:
    """Answer commands read from standard input, as the chat front-ends do."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    fd = sys.stdin.fileno()
    blocking = os.get_blocking(fd)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    try:
        while line := await reader.readline():
            text = line.decode(errors="replace").strip()
            if text:
                reply = await commands.handle(CONSOLE, text)
                if reply is None:  # the console is always allowed: never happens
                    continue
                print(console_text(reply), flush=True)
                if reply.image is not None:
                    print(f"    chart written to {save_chart(reply.image)}", flush=True)
        if sys.stdin.isatty():  # Ctrl-D
            stop.set()
    finally:
        transport.pause_reading()
        os.set_blocking(fd, blocking)  # the shell shares a terminal: leave it as it was


def save_chart(image: bytes) -> Path:
    """A chart asked for with /history outlives the demo's temporary directory."""
    fd, name = tempfile.mkstemp(prefix="balancebot-demo-history-", suffix=".png")
    with os.fdopen(fd, "wb") as out:
        out.write(image)
    return Path(name)
