"""Capped exponential backoff with jitter, shared by balance checks and deliveries."""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from .clock import Clock
from .errors import CheckError, RateLimited

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Backoff:
    initial: float = 1.0
    factor: float = 2.0
    cap: float = 30.0
    attempts: int = 3

    def delay(self, retry: int, rng: random.Random) -> float:
        """Delay before retry number `retry` (0-based): half fixed, half random."""
        ceiling = min(self.cap, self.initial * self.factor**retry)
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """An HTTP `Retry-After` (seconds, or a date) as seconds from `now`; None if absent or
    unreadable, so the caller falls back to its own backoff."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    return max(0.0, seconds) if seconds == seconds and seconds != float("inf") else None


def _pause(exc: CheckError, retry: int, backoff: Backoff, rng: random.Random) -> float:
    """Seconds to wait before retry number `retry`, or `exc` again when waiting cannot help.

    A `Retry-After` longer than the backoff cap is not slept inside a check: the error
    escapes and the next scheduled check tries again."""
    if not exc.transient:
        raise exc
    delay = backoff.delay(retry, rng)
    if isinstance(exc, RateLimited) and exc.retry_after is not None:
        if exc.retry_after > backoff.cap:
            raise exc
        delay = max(delay, exc.retry_after)
    return delay


async def retry_transient(
    attempt: Callable[[], Awaitable[T]],
    backoff: Backoff,
    clock: Clock,
    rng: random.Random,
) -> T:
    """Run `attempt`, retrying transient `CheckError`s; permanent ones escape at once."""
    for retry in range(backoff.attempts - 1):
        try:
            return await attempt()
        except CheckError as exc:
            await clock.sleep(_pause(exc, retry, backoff, rng))
    return await attempt()


def retry_transient_sync(
    attempt: Callable[[], T],
    backoff: Backoff,
    rng: random.Random,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """The same for synchronous code (the one-shot `check` on plain httpx)."""
    for retry in range(backoff.attempts - 1):
        try:
            return attempt()
        except CheckError as exc:
            sleep(_pause(exc, retry, backoff, rng))
    return attempt()
