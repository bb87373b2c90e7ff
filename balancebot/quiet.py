"""Quiet hours: when warnings and infos wait, and until when.

`[[quiet_hours]]` entries are weekly periods on the local wall clock of the configured
timezone, like Alertmanager's `mute_time_intervals`: on each of `days` (the day a period
starts) from `start` to `end`; an `end` at or before `start` runs overnight into the next
day, and `start == end` is the whole day. Criticals are never held unless the entry says
`include_critical = true`. Entries that touch or overlap make one period.

Daylight saving: a boundary in the hour the clocks skip falls at the jump; one in the
hour they repeat, at its first occurrence. Periods are absolute instants in between, so
a "22:00-07:00" night is 8 or 10 hours long on the nights the clocks change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

from msgspec import Struct, field

from .models import Severity

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HORIZON = timedelta(days=8)
"""A quiet period that never ends is cut here: held notices go out at least weekly."""

_CLOCK = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")  # 24-hour HH:MM


class QuietHours(Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    start: str  # checked in __post_init__: a pattern's error would quote the regex
    end: str
    days: list[Weekday] = field(default_factory=lambda: list(WEEKDAYS))
    include_critical: bool = False

    def __post_init__(self) -> None:
        for key in ("start", "end"):
            if not _CLOCK.match(getattr(self, key)):
                raise ValueError(
                    f"{key}: {getattr(self, key)!r} is not a time like 07:00 "
                    "(24-hour hours and minutes, 00:00 to 23:59)"
                )
        if not self.days:
            raise ValueError("days: list at least one day (mon ... sun), or leave it out")

    def holds(self, severity: Severity) -> bool:
        return severity < Severity.CRITICAL or self.include_critical


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def local_instant(day: date, at: time, zone: tzinfo) -> datetime:
    """The first instant (UTC) at which the wall clock in `zone` shows `at` on `day`, or
    has passed it: in a skipped hour, the moment the clocks jump."""
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first
    low = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)  # wall clock before `at`
    high = first  # wall clock after it
    while high - low > timedelta(microseconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high


def periods(
    entries: Iterable[QuietHours], around: datetime, zone: tzinfo
) -> list[tuple[datetime, datetime]]:
    """Every entry's periods that start from two days before `around` to HORIZON after."""
    today = around.astimezone(zone).date()
    found = []
    for entry in entries:
        start, end = _clock(entry.start), _clock(entry.end)
        for offset in range(-2, HORIZON.days + 1):
            day = today + timedelta(days=offset)
            if WEEKDAYS[day.weekday()] not in entry.days:
                continue
            ends_on = day + timedelta(days=1) if end <= start else day
            found.append((local_instant(day, start, zone), local_instant(ends_on, end, zone)))
    return sorted(found)


def quiet_until(
    entries: Sequence[QuietHours], moment: datetime, zone: tzinfo, severity: Severity
) -> datetime | None:
    """When the quiet period holding a notice of this severity at `moment` ends, or None
    if it may go out now."""
    spans = periods([e for e in entries if e.holds(severity)], moment, zone)
    ends = [end for start, end in spans if start <= moment < end]
    if not ends:
        return None
    until = max(ends)
    for start, end in spans:  # sorted by start: periods that touch or overlap join up
        if start <= until < end:
            until = end
    return min(until, moment + HORIZON)
