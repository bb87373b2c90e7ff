"""Spacing sends so a burst of alerts stays inside a platform's rate limits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from ..clock import Clock

PRUNE_ABOVE = 256  # targets remembered before idle ones are swept out


class Pacer:
    """At most one send per `interval(target)` to each target, and `per_second` overall.

    The per-target table only holds targets whose next free slot is still ahead: a target
    whose slot has passed is free anyway, so its entry is dropped. Chats that write to the
    bot (strangers included) cannot grow it without bound."""

    def __init__(self, clock: Clock, interval: Callable[[str], float], per_second: float) -> None:
        self._clock = clock
        self._interval = interval
        self._overall = timedelta(seconds=1 / per_second)
        self._next_for: dict[str, datetime] = {}
        self._next_any: datetime | None = None
        self._lock = asyncio.Lock()
        self._prune_at = PRUNE_ABOVE
        self._granted: dict[str, int] = {}  # slots waited for ahead, not yet sent in

    @property
    def tracked(self) -> int:
        """How many targets the table remembers (a bounded number)."""
        return len(self._next_for)

    async def grant(self, target: str) -> None:
        """Wait for `target`'s slot ahead of the send, which then takes it without waiting
        (`wait`): delivery waits here, before the send's deadline starts."""
        await self._wait(target)
        self._granted[target] = self._granted.get(target, 0) + 1

    async def wait(self, target: str) -> None:
        """Wait for `target`'s slot, or take the one `grant` waited for."""
        granted = self._granted.pop(target, 0)
        if granted > 1:
            self._granted[target] = granted - 1
        if not granted:
            await self._wait(target)

    async def _wait(self, target: str) -> None:
        async with self._lock:  # reserve a slot; the waiting happens outside the lock
            now = self._clock.now()
            slot = self._reserve(target, now)
        delay = (slot - now).total_seconds()
        if delay > 0:
            await self._clock.sleep(delay)

    def try_now(self, target: str) -> bool:
        """Take the target's slot only if it is free right now; never queue, and leave the
        overall budget alone. For best-effort sends (a refusal to a stranger, themselves
        capped by the caller) that must not delay the sends that matter."""
        now = self._clock.now()
        if self._next_for.get(target, now) > now:
            return False
        self._next_for[target] = now + timedelta(seconds=self._interval(target))
        self._maybe_prune(now)
        return True

    def _reserve(self, target: str, now: datetime) -> datetime:
        slot = max(now, self._next_for.get(target, now), self._next_any or now)
        self._next_for[target] = slot + timedelta(seconds=self._interval(target))
        self._next_any = slot + self._overall
        self._maybe_prune(now)
        return slot

    def _maybe_prune(self, now: datetime) -> None:
        """Forget targets that are free again; amortized O(1) per send."""
        if len(self._next_for) <= self._prune_at:
            return
        self._next_for = {t: at for t, at in self._next_for.items() if at > now}
        self._prune_at = max(PRUNE_ABOVE, 2 * len(self._next_for))
