"""The state store: check history, alert states, the outbox and silences.

SQLAlchemy Core over asyncio: a SQLite file by default, PostgreSQL by URL. Amounts are kept
as decimal text (exact on every backend); times as integer microseconds, handed back
timezone-aware. `Store` is the one facade; each concern is a module of its own:

    base.py      opening, schema upgrades, transactions, health
    schema.py    the tables          codec.py     rows <-> the engine's objects
    records.py   checks and alert states (group commit)
    accounts.py  accounts read back: recent results, alert states, told routes
    history.py   history and downsampling
    outbox.py    the outbox and delivery leases
    silences.py  silences and answered requests
    leases.py    replicas: delivery lanes and the shared check schedule
    migrations/  schema versions (Alembic)
"""

from __future__ import annotations

from .accounts import AccountReads, AccountView
from .base import NOTHING_YET, StoreBase, async_url, describe, engine_for
from .codec import (
    FIRING_KINDS,
    Delivery,
    OutboxEntry,
    OutboxStatus,
    SentRow,
    notification_from_json,
    notification_to_json,
)
from .history import HistoryRecords
from .leases import LeaseRecords
from .outbox import OutboxRecords
from .records import GROUP_COMMIT_MAX, CheckRecords
from .schema import (
    alert_routes,
    alert_states,
    metadata,
    outbox,
    seen_requests,
    silence_bindings,
    silence_comments,
    silences,
    snapshot_balances,
    snapshots,
)
from .silences import SilenceRecords


class Store(
    CheckRecords,
    AccountReads,
    HistoryRecords,
    OutboxRecords,
    SilenceRecords,
    LeaseRecords,
    StoreBase,
):
    """Everything the engine, the commands and the CLI keep: one object, one connection pool."""


__all__ = [
    "FIRING_KINDS",
    "GROUP_COMMIT_MAX",
    "NOTHING_YET",
    "AccountView",
    "Delivery",
    "OutboxEntry",
    "OutboxStatus",
    "SentRow",
    "Store",
    "alert_routes",
    "alert_states",
    "async_url",
    "describe",
    "engine_for",
    "metadata",
    "notification_from_json",
    "notification_to_json",
    "outbox",
    "seen_requests",
    "silence_bindings",
    "silence_comments",
    "silences",
    "snapshot_balances",
    "snapshots",
]
