"""Quiet hours: the pure "is it quiet now, and until when", exhaustively and by property,
with daylight-saving changes in real zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from balancebot.models import Severity
from balancebot.quiet import HORIZON, WEEKDAYS, QuietHours, local_instant, quiet_until

BERLIN = ZoneInfo("Europe/Berlin")
ZONES = [ZoneInfo(z) for z in ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC")]
NIGHTS = QuietHours(start="22:00", end="07:00")
WEEKEND = QuietHours(start="00:00", end="00:00", days=["sat", "sun"], include_critical=True)


def at(text: str, zone: ZoneInfo = BERLIN) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(UTC)


def wall_quiet(entry: QuietHours, moment: datetime, zone: ZoneInfo) -> bool:
    """The oracle: the entry read off the local wall clock, one entry at a time."""
    local = moment.astimezone(zone)
    day, wall = WEEKDAYS[local.weekday()], local.time().replace(tzinfo=None)
    before = WEEKDAYS[(local.weekday() - 1) % 7]
    start = datetime.strptime(entry.start, "%H:%M").time()
    end = datetime.strptime(entry.end, "%H:%M").time()
    if start < end:
        return day in entry.days and start <= wall < end
    return (day in entry.days and wall >= start) or (before in entry.days and wall < end)


@pytest.mark.parametrize(
    ("moment", "severity", "until"),
    [
        ("2026-03-04 21:59", Severity.WARNING, None),  # a Wednesday
        ("2026-03-04 22:00", Severity.WARNING, "2026-03-05 07:00"),
        ("2026-03-05 06:59", Severity.INFO, "2026-03-05 07:00"),
        ("2026-03-05 07:00", Severity.WARNING, None),
        ("2026-03-04 23:00", Severity.CRITICAL, None),  # criticals go out
        ("2026-03-06 23:00", Severity.WARNING, "2026-03-09 07:00"),  # Fri night + weekend
        ("2026-03-07 12:00", Severity.CRITICAL, "2026-03-09 00:00"),  # the weekend holds all
        ("2026-03-29 01:00", Severity.WARNING, "2026-03-30 07:00"),  # spring forward, Sunday
    ],
)
def test_examples(moment: str, severity: Severity, until: str | None) -> None:
    found = quiet_until([NIGHTS, WEEKEND], at(moment), BERLIN, severity)
    assert found == (None if until is None else at(until))


def test_dst_nights_are_shorter_and_longer() -> None:
    spring = quiet_until([NIGHTS], at("2026-03-28 23:00"), BERLIN, Severity.WARNING)
    assert spring == at("2026-03-29 07:00") and spring - at("2026-03-28 22:00") == timedelta(
        hours=8
    )
    autumn = quiet_until([NIGHTS], at("2026-10-24 23:00"), BERLIN, Severity.WARNING)
    assert autumn is not None and autumn - at("2026-10-24 22:00") == timedelta(hours=10)


def test_boundaries_in_skipped_and_repeated_hours() -> None:
    # Berlin skips 02:00-03:00 on 2026-03-29: a 02:30 boundary is the jump, 01:00 UTC
    jump = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert local_instant(jump.date(), datetime.strptime("02:30", "%H:%M").time(), BERLIN) == jump
    # and repeats 02:00-03:00 on 2026-10-25: the first 02:30 is 00:30 UTC
    first = local_instant(
        datetime(2026, 10, 25).date(), datetime.strptime("02:30", "%H:%M").time(), BERLIN
    )
    assert first == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    entry = QuietHours(start="02:30", end="04:00")
    assert quiet_until([entry], jump, BERLIN, Severity.WARNING) == at("2026-03-29 04:00")
    assert quiet_until([entry], jump - timedelta(seconds=1), BERLIN, Severity.WARNING) is None


def test_every_quarter_hour_of_a_week_matches_the_wall_clock() -> None:
    entries = [NIGHTS, QuietHours(start="12:00", end="13:30", days=["tue", "thu"])]
    moment = at("2026-05-04 00:00")  # a Monday, no clock change that week
    while moment < at("2026-05-11 00:00"):
        quiet = quiet_until(entries, moment, BERLIN, Severity.WARNING) is not None
        assert quiet == any(wall_quiet(e, moment, BERLIN) for e in entries), moment
        moment += timedelta(minutes=15)


def test_a_period_that_never_ends_is_cut_at_the_horizon() -> None:
    always = QuietHours(start="00:00", end="00:00")
    moment = at("2026-05-04 10:00")
    assert quiet_until([always], moment, BERLIN, Severity.INFO) == moment + HORIZON


clock_times = st.builds(
    "{:02d}:{:02d}".format, st.integers(0, 23), st.sampled_from([0, 15, 30, 59])
)
entries_st = st.lists(
    st.builds(
        QuietHours,
        start=clock_times,
        end=clock_times,
        days=st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True),
        include_critical=st.booleans(),
    ),
    min_size=1,
    max_size=3,
)
CLOCK_CHANGES = [  # Berlin, New York and Lord Howe (half an hour) in 2026, in UTC
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
    datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
    datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
    datetime(2026, 11, 1, 6, 0, tzinfo=UTC),
    datetime(2026, 4, 4, 15, 0, tzinfo=UTC),
    datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
]
moments = st.one_of(
    st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
    ),
    st.builds(
        lambda change, seconds: change + timedelta(seconds=seconds),
        st.sampled_from(CLOCK_CHANGES),
        st.integers(-36 * 3600, 36 * 3600),
    ),
)


@settings(max_examples=300, deadline=None)
@given(entries_st, moments, st.sampled_from(ZONES), st.sampled_from(list(Severity)))
def test_properties(
    entries: list[QuietHours], moment: datetime, zone: ZoneInfo, severity: Severity
) -> None:
    until = quiet_until(entries, moment, zone, severity)
    holding = [e for e in entries if e.holds(severity)]
    if moment.astimezone(zone).fold == 0:  # the repeated hour's second pass is ambiguous
        assert (until is not None) == any(wall_quiet(e, moment, zone) for e in holding)
    if until is None:
        return
    assert until > moment
    if until < moment + HORIZON:
        assert quiet_until(entries, until, zone, severity) is None  # it really ends there
        for fraction in (0.0, 0.25, 0.5, 0.999):
            inside = moment + (until - moment) * fraction
            assert quiet_until(entries, inside, zone, severity) == until


@given(entries_st, moments, st.sampled_from(ZONES))
def test_criticals_are_held_only_by_entries_that_say_so(
    entries: list[QuietHours], moment: datetime, zone: ZoneInfo
) -> None:
    critical = quiet_until(entries, moment, zone, Severity.CRITICAL)
    assume(not any(e.include_critical for e in entries))
    assert critical is None
