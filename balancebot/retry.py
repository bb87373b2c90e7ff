"""Capped exponential backoff with jitter, shared by balance checks and deliveries."""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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


RETRY_AFTER_CAP = 3600.0
"""The longest wait any `Retry-After` is taken for: an hour."""
_DELTA_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def retry_after_seconds(value: object, now: datetime) -> float | None:
    """A `Retry-After` from any channel as seconds from `now`, read strictly.

    Taken: a header's delta-seconds (digits, with at most a decimal fraction: no sign,
    exponent, `inf` or `nan`) or HTTP date, or a number from a JSON answer (Telegram's
    `parameters.retry_after`). A wait longer than an hour (`1e12`, a date in 9999) is an
    hour; a date already past is 0. Absent, negative, non-finite (`inf`, `nan`) or
    anything else unreadable is None: the caller falls back to its own backoff."""
    if isinstance(value, str):
        text = value.strip()
        if _DELTA_SECONDS.fullmatch(text):
            return min(float(text), RETRY_AFTER_CAP)
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return min(max(0.0, (when - now).total_seconds()), RETRY_AFTER_CAP)
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value < 0 or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return float(min(value, RETRY_AFTER_CAP))  # an int of 400 digits too


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
    time_left: Callable[[], float] | None = None,
) -> T:
    """The same for synchronous code (the one-shot `check` on plain httpx). With
    `time_left`, a retry whose wait would not end in time is not made: the error stands."""
    for retry in range(backoff.attempts - 1):
        try:
            return attempt()
        except CheckError as exc:
            pause = _pause(exc, retry, backoff, rng)
            if time_left is not None and pause >= time_left():
                raise
            sleep(pause)
    return attempt()
