"""`Crew`: an `asyncio.TaskGroup` whose tasks are started from outside its `async with`.

The checks a scheduler job, a chat command or the shared sweep starts must end together at
shutdown (an unfinished check's transaction rolls back), but they are started by callers
that do not own them. A crew holds one task group open in a task of its own; `spawn` adds
a task to it, `stop` cancels them all at once and waits for them, as leaving a task group
does. Nothing is tracked by hand: the group knows its tasks.

A crew's tasks must not raise (a task group cancels every task when one fails): `spawn`
logs what escapes one, and `call` hands a task's result or exception back to its caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class _Stopped(Exception):
    """Raised inside the group's body to cancel its tasks (3.11 has no other way)."""


class Crew:
    def __init__(self, name: str) -> None:
        self.name = name
        self._group: asyncio.TaskGroup | None = None
        self._runner: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()

    async def _run(self) -> None:
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                self._ready.set()
                await self._stop.wait()
                raise _Stopped
        except* _Stopped:
            pass
        finally:
            self._group = None
            self._ready.clear()

    async def spawn(self, work: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T | None]:
        """Run `work` as one of the crew's tasks (the crew starts on first use); the task's
        result is the work's, or None if it raised (logged)."""
        if self._runner is None or self._runner.done():
            self._stop.clear()
            self._runner = asyncio.create_task(self._run(), name=self.name)
        await self._ready.wait()
        try:
            if self._group is None:
                raise RuntimeError("stopped")
            return self._group.create_task(self._logged(work, name), name=name)
        except RuntimeError:  # the crew is stopping: the work is abandoned with it
            work.close()
            raise asyncio.CancelledError from None

    async def call(self, work: Coroutine[Any, Any, T], name: str) -> T:
        """`await work`, run as one of the crew's tasks: `stop` cancels it too, and its
        result or exception comes back here (cancelling the caller cancels it)."""
        box: list[T] = []
        errors: list[Exception] = []

        async def boxed() -> None:
            try:
                box.append(await work)
            except Exception as exc:
                errors.append(exc)

        await (await self.spawn(boxed(), name))
        if errors:
            raise errors[0]
        return box[0]

    async def stop(self) -> None:
        """Cancel every task of the crew and wait until they have ended."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._stop.set()
        await runner

    @staticmethod
    async def _logged(work: Coroutine[Any, Any, T], name: str) -> T | None:
        try:
            return await work
        except Exception:  # one task's bug must not cancel the others
            log.exception("%s ended unexpectedly", name)
            return None
