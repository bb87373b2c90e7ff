"""How rows and the engine's objects map onto each other: outbox entries, notifications as
JSON, snapshots as rows."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ..models import (
    BalanceSnapshot,
    CheckFailure,
    CheckResult,
    Currency,
    CurrencyBalance,
    FailureKind,
    Notification,
    Severity,
    TransitionKind,
)
from .schema import from_micros

FIRING_KINDS = frozenset({TransitionKind.FIRING, TransitionKind.REPEAT, TransitionKind.ESCALATED})
"""The notices that say an alert fires: a route sent one is where its resolved notice goes."""


class OutboxStatus:
    PENDING = "pending"
    DELIVERED = "delivered"
    MUTED = "muted"
    FAILED = "failed"
    HELD = "held"  # quiet hours: waits for the summary at their end (next_attempt_at)
    SUMMARIZED = "summarized"  # went out in a quiet-hours summary
    SUPERSEDED = "superseded"  # a later notice of the same alert went out in its place


@dataclass(frozen=True, slots=True)
class Grouping:
    """A route's grouping of one row: its group's key, how long a new group waits for more
    alerts, and how long changes to a group already told wait (Alertmanager's
    `group_wait` and `group_interval`)."""

    key: str
    wait: timedelta
    interval: timedelta


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """A notification bound for one notifier's target, before it has an id."""

    notifier: str
    target: str
    notification: Notification
    muted: bool = False
    held_until: datetime | None = None  # quiet hours: in the summary at this time
    told: bool = False  # sent while the store was unavailable: recorded as delivered
    group: Grouping | None = None  # sent with the other rows of its group to this target

    @property
    def status(self) -> str:
        if self.told:
            return OutboxStatus.DELIVERED
        if self.muted:
            return OutboxStatus.MUTED
        return OutboxStatus.PENDING if self.held_until is None else OutboxStatus.HELD


@dataclass(frozen=True, slots=True)
class SentRow:
    """An alert notice in the outbox, with whether it went out or was muted."""

    notifier: str
    target: str
    status: str
    notification: Notification


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    notifier: str
    target: str
    notification: Notification
    attempts: int
    group: str | None = None
    members: tuple[Delivery, ...] = ()
    """A grouped message: the rows it stands for (`delivery_groups.py`); sent, they all are."""

    @property
    def ids(self) -> list[int]:
        """The rows this delivery marks delivered, retried or failed."""
        return [member.id for member in self.members] or [self.id]


def notification_to_json(n: Notification) -> str:
    data = asdict(n)
    data.update(
        kind=n.kind.value,
        severity=n.severity.name,
        details=list(n.details),
        labels=dict(n.labels),
        at=n.at.isoformat(),
        started_at=n.started_at.isoformat(),
    )
    return json.dumps(data, ensure_ascii=False)


def notification_from_json(text: str) -> Notification:
    data = json.loads(text)
    return Notification(
        kind=TransitionKind(data["kind"]),
        severity=Severity[data["severity"]],
        account=data["account"],
        rule=data["rule"],
        subject=data["subject"],
        headline=data["headline"],
        details=tuple(data["details"]),
        at=datetime.fromisoformat(data["at"]),
        started_at=datetime.fromisoformat(data["started_at"]),
        labels=data.get("labels", {}),  # rows queued before alerts had labels have none
        group=data.get("group", ""),
    )


def matches_null(column: sa.Column[Any], value: str | None) -> sa.ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def as_utc(value: int | datetime) -> datetime:
    """max() keeps the column type on some backends and returns the raw integer on others."""
    return value if isinstance(value, datetime) else from_micros(int(value))


def snapshot_row(result: CheckResult) -> dict[str, Any]:
    """Every key in every row: rows inserted together must have the same columns."""
    row: dict[str, Any] = {
        "account": result.account,
        "provider": result.provider,
        "taken_at": result.taken_at,
    }
    if isinstance(result, CheckFailure):
        row.update(outcome=result.kind.value, is_available=None, message=result.message)
    else:
        row.update(outcome="ok", is_available=result.is_available, message=None)
    return row


def new_id(inserted: sa.CursorResult[Any]) -> int:
    key = inserted.inserted_primary_key
    assert key is not None
    return int(key[0])


def result_from_row(row: Any, balances: dict[Currency, CurrencyBalance]) -> CheckResult:
    if row.outcome == "ok":
        return BalanceSnapshot(
            row.account, row.provider, row.taken_at, bool(row.is_available), balances
        )
    return CheckFailure(
        row.account, row.provider, row.taken_at, FailureKind(row.outcome), row.message or ""
    )
