"""What every table shares: one `MetaData`, exact UTC timestamps, portable ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def to_micros(moment: datetime) -> int:
    return (moment - EPOCH) // MICROSECOND


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Microseconds since the epoch, UTC: exact, sortable, the same on every backend, and
    an order of magnitude cheaper to read back than SQLite's text timestamps."""

    impl = sa.BigInteger()
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> int | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use timezone-aware UTC")
        return to_micros(value)

    def process_result_value(self, value: int | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else from_micros(value)


metadata = sa.MetaData()
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER only
