"""Spacing sends so a burst of alerts stays inside a platform's rate limits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from ..clock import Clock


class Pacer:
    """At most one send per `interval(target)` to each target, and `per_second` overall."""

    def __init__(self, clock: Clock, interval: Callable[[str], float], per_second: float) -> None:
        self._clock = clock
        self._interval = interval
        self._overall = timedelta(seconds=1 / per_second)
        self._next_for: dict[str, datetime] = {}
        self._next_any: datetime | None = None
        self._lock = asyncio.Lock()

    async def wait(self, target: str) -> None:
        async with self._lock:  # reserve a slot; the waiting happens outside the lock
            now = self._clock.now()
            slot = max(now, self._next_for.get(target, now), self._next_any or now)
            self._next_for[target] = slot + timedelta(seconds=self._interval(target))
            self._next_any = slot + self._overall
        delay = (slot - now).total_seconds()
        if delay > 0:
            await self._clock.sleep(delay)
