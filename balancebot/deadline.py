"""A deadline that code deaf to cancellation cannot stretch.

`asyncio.timeout` and `asyncio.wait_for` cancel what runs too long and then wait for it to
end; a notifier whose `send` swallows `CancelledError` (a plugin's bug) never ends, and
held its lane, its self alerts and SIGTERM forever. `within` cancels and walks away."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

left_running: set[asyncio.Task[Any]] = set()
"""Tasks `within` gave up on that have not ended yet: their cancellation was ignored so far
(held here so they are not collected mid-run; a stop names them)."""


async def within(work: Coroutine[Any, Any, T], seconds: float, name: str) -> T:
    """`work`'s result, or `TimeoutError` once `seconds` pass; cancelled with the caller.
    Either way `work` is cancelled and not waited for."""
    task = asyncio.create_task(work, name=name)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        _walk_away(task)
        raise
    if not done:
        _walk_away(task)
        raise TimeoutError
    return task.result()


def _walk_away(task: asyncio.Task[Any]) -> None:
    task.cancel()
    left_running.add(task)
    task.add_done_callback(_ended)


def _ended(task: asyncio.Task[Any]) -> None:
    left_running.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: its caller has moved on, and said why
