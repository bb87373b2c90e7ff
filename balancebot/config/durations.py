"""Durations in the configuration, each kind with the range `validate` holds it to.

A value outside its range is a config error with its key path, never a traceback or a
flood later: a `check_interval` of a millisecond would hammer the provider, `"999999999d"`
is a time `run` cannot compute, and `inf`, `1e308` or `"1000000000d"` a timedelta Python
cannot hold. The ranges
are documented in docs/configuration.md ("Durations"); `RANGES` lists them for that table.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import ClassVar

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_SPELLED = (("d", 86400_000), ("h", 3600_000), ("m", 60_000), ("s", 1000), ("ms", 1))


def _span(**parts: float) -> timedelta:
    return timedelta(**parts)


class Duration(timedelta):
    """A timedelta written as `90`, `"90s"`, `"5m"`, `"1h30m"` or `"2d"` in the config,
    from `LOW` to `HIGH` (any duration: 1 ms to 10 years; the kinds below are narrower)."""

    LOW: ClassVar[timedelta] = _span(milliseconds=1)
    HIGH: ClassVar[timedelta] = _span(days=3650)


class Delay(Duration):
    """A Duration that may be zero (`jitter = "0s"`: no jitter); at most the interval."""

    LOW = _span()
    HIGH = _span(days=1)


class CheckInterval(Duration):
    """How often an account is checked: the demo checks every second; a day at most."""

    LOW = _span(seconds=1)
    HIGH = _span(days=1)


class RequestTimeout(Duration):
    """One request (a check, a delivery, a heartbeat)."""

    LOW = _span(milliseconds=10)
    HIGH = _span(minutes=10)


class RepeatInterval(Duration):
    """How often a firing alert is told again."""

    LOW = _span(seconds=1)
    HIGH = _span(days=365)


class Window(Duration):
    """A span of history a trend rule reads (windows, runways, periods, min_history)."""

    LOW = _span(seconds=1)
    HIGH = _span(days=365)


class MaxAge(Duration):
    """How old a balance chat may show without checking again."""

    LOW = _span(seconds=1)
    HIGH = _span(days=1)


class Retention(Duration):
    """How long full-resolution history is kept before downsampling."""

    LOW = _span(hours=1)
    HIGH = _span(days=3650)


class Resolution(Duration):
    """What old history is downsampled to."""

    LOW = _span(seconds=1)
    HIGH = _span(days=1)


def spell(span: timedelta) -> str:
    """`timedelta(hours=1, minutes=30)` → `1h30m`, as the config writes it."""
    millis = round(span.total_seconds() * 1000)
    if millis == 0:
        return "0s"
    parts = []
    for unit, size in _SPELLED:
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _shown(value: object) -> str:
    """A value in a message: quoted if text, and never more than a line's worth."""
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else f"{text[:39]}…"


def parse_duration(value: object, kind: type[Duration] = Duration) -> timedelta:
    """`90`, `"90s"`, `"5m"`, `"1h30m"`, `"2d"` → a timedelta within `kind`'s range."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 5m, 4h or a number of seconds")
    elif isinstance(value, int | float):
        seconds = float(value) if abs(value) < 1e300 else math.inf if value > 0 else -math.inf
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if not text or _DURATION_PART.sub("", text):
            raise ValueError(f"{_shown(value)} is not a duration like 30s, 5m, 4h or 1h30m")
        parts = _DURATION_PART.findall(text)
        seconds = sum(float(n) * _DURATION_UNITS[unit] for n, unit in parts if len(n) < 300)
        if any(len(n) >= 300 for n, _ in parts):  # too many digits for a float
            seconds = math.inf
    else:
        raise ValueError("expected a duration like 30s, 5m, 4h or a number of seconds")
    if math.isnan(seconds):
        raise ValueError("expected a duration like 30s, 5m, 4h or a number of seconds")
    if seconds <= 0 < kind.LOW.total_seconds():
        raise ValueError("a duration must be positive")
    if seconds < 0:
        raise ValueError("a duration must be positive or zero")
    low, high = kind.LOW.total_seconds(), kind.HIGH.total_seconds()
    if not low <= seconds <= high:
        written = _shown(value) if isinstance(value, str) else f"{_shown(value)} seconds"
        raise ValueError(f"{written} is not in the range {spell(kind.LOW)} to {spell(kind.HIGH)}")
    return kind(seconds=seconds)


RANGES: tuple[type[Duration], ...] = (
    CheckInterval,
    Delay,
    RequestTimeout,
    RepeatInterval,
    Window,
    MaxAge,
    Retention,
    Resolution,
    Duration,
)
