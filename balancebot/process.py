"""`balancebot run` as a process: the daemon until SIGINT or SIGTERM, a reload on SIGHUP
(`reload.py`), and an exit that no task deaf to cancellation can hold open."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from .config import Config
from .daemon import Daemon
from .reload import reload_config

log = logging.getLogger("balancebot.daemon")  # the daemon's lines, as they always were

Load = Callable[[], Config]
"""Reads and validates the configuration file again (the loader `run` started with)."""


async def run_until_signalled(config: Config, load: Load | None = None) -> None:
    """`balancebot run`: the daemon until SIGINT or SIGTERM; SIGHUP reloads the configuration
    with `load` (its default action would kill the process). A signal to stop while it is
    still starting (a database that accepts connections and never answers, or a migration
    waiting for another replica's lock) ends the start at once, not when a timeout gives up."""
    stop, hup = asyncio.Event(), asyncio.Event()
    starting = asyncio.current_task()
    running = False

    def request_stop() -> None:
        stop.set()
        if not running and starting is not None:
            starting.cancel()

    def hangup() -> None:
        if not running:
            log.warning("SIGHUP: balancebot is still starting; send it again once it runs")
        elif load is None:
            log.warning("SIGHUP: this daemon was started without a file to reload; restart it")
        else:
            hup.set()  # several signals during one reload: one more reload after it

    async def reloading(daemon: Daemon) -> None:
        assert load is not None
        while True:
            await hup.wait()
            hup.clear()
            await reload_config(daemon, load)

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop)
    loop.add_signal_handler(signal.SIGHUP, hangup)
    try:
        async with Daemon.open(config) as daemon:
            running = True
            reloader = asyncio.create_task(reloading(daemon), name="reload")
            try:
                await daemon.serve(stop)
            finally:  # a reload under way ends with the daemon
                reloader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reloader
    except asyncio.CancelledError:
        if not stop.is_set():
            raise
        log.info("balancebot stopped while starting")


LEFTOVER_SECONDS = 1.0
"""What tasks still running after the daemon stopped get to end once cancelled."""


def run_process(config: Config, load: Load | None = None) -> None:
    """`asyncio.run(run_until_signalled(config, load))`, except that tasks still running once
    it returns get `LEFTOVER_SECONDS` after their cancellation, not forever: a notifier's send
    deaf to cancellation (`deadline.within` left it running) must not hold SIGTERM open."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(run_until_signalled(config, load))
    finally:
        try:
            _end_leftovers(loop)
        finally:
            asyncio.set_event_loop(None)
            loop.close()


def _end_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    leftover = asyncio.all_tasks(loop)
    for task in leftover:
        task.cancel()
    cleanup = loop.shutdown_asyncgens(), loop.shutdown_default_executor()
    waits = [*leftover, *(loop.create_task(c) for c in cleanup)]
    _, stuck = loop.run_until_complete(asyncio.wait(waits, timeout=LEFTOVER_SECONDS))
    if stuck:
        log.warning(
            "stopping: exiting without %s, which ignored its cancellation (a notifier's bug?)",
            ", ".join(sorted(task.get_name() for task in stuck)),
        )
    for task in leftover - stuck:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s ended with %r while stopping", task.get_name(), task.exception())
