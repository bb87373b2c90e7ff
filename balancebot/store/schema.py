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


snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("provider", sa.String(64), nullable=False),
    sa.Column("taken_at", UTCDateTime(), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # "ok" or a FailureKind
    sa.Column("is_available", sa.Boolean(), nullable=True),
    sa.Column("message", sa.Text(), nullable=True),
    sa.Index("ix_snapshots_account_taken_at", "account", "taken_at"),
)


snapshot_balances = sa.Table(
    "snapshot_balances",
    metadata,
    sa.Column(
        "snapshot_id",
        ID,
        sa.ForeignKey("snapshots.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("currency", sa.String(3), primary_key=True),
    sa.Column("total", sa.String(40), nullable=False),
    sa.Column("granted", sa.String(40), nullable=False),
    sa.Column("topped_up", sa.String(40), nullable=False),
)


alert_states = sa.Table(
    "alert_states",
    metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("rule", sa.String(64), primary_key=True),
    sa.Column("subject", sa.String(16), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("severity", sa.Integer(), nullable=True),
    sa.Column("pending_checks", sa.Integer(), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=True),
    sa.Column("last_notified_at", UTCDateTime(), nullable=True),
)


outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("notifier", sa.String(64), nullable=False),
    sa.Column("target", sa.String(128), nullable=False),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("payload", sa.Text(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False, default=0),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("delivered_at", UTCDateTime(), nullable=True),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.Column("group_key", sa.String(64), nullable=True),  # sent with its group's other rows
    sa.Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    sa.Index("ix_outbox_group", "notifier", "target", "group_key"),
)


_earlier = outbox.alias("earlier")


silences = sa.Table(
    "silences",
    metadata,
    sa.Column("id", ID, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(64), nullable=True),
    sa.Column("rule", sa.String(64), nullable=True),
    sa.Column("until", UTCDateTime(), nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)


silence_comments = sa.Table(
    "silence_comments",
    metadata,
    sa.Column("silence_id", ID, sa.ForeignKey("silences.id"), primary_key=True),
    sa.Column("comment", sa.Text(), nullable=False),
)

silence_bindings = sa.Table(  # a mute from an alert's button: bound to that alert's key
    "silence_bindings",
    metadata,
    sa.Column("silence_id", ID, sa.ForeignKey("silences.id"), primary_key=True),
    sa.Column("subject", sa.String(16), nullable=False),
    sa.Column("until_resolved", sa.Boolean(), nullable=False),
)

silence_matchers = sa.Table(  # a mute by labels: all of its matchers hold (labels.py)
    "silence_matchers",
    metadata,
    sa.Column("silence_id", ID, sa.ForeignKey("silences.id"), primary_key=True),
    sa.Column("position", sa.Integer(), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("op", sa.String(2), nullable=False),
    sa.Column("value", sa.Text(), nullable=False),
)


alert_routes = sa.Table(
    "alert_routes",
    metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("rule", sa.String(64), primary_key=True),
    sa.Column("subject", sa.String(16), primary_key=True),
    sa.Column("notifier", sa.String(64), primary_key=True),
    sa.Column("target", sa.String(128), primary_key=True),
)
"""Where each open alert was told it fired: its resolved notice goes there and nowhere else."""


seen_requests = sa.Table(
    "seen_requests",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)
"""Signed requests already answered (Slack HTTP), kept across restarts until they expire."""
