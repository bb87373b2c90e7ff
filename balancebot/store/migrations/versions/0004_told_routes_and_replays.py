"""Where each open alert was told it fired (resolved notices go there only), and the Slack
HTTP requests already answered (replays refused across restarts).

A store from before this revision had no record of who was told: each firing alert is
taken to have been told wherever an unmuted firing, repeat or escalation row went since it
started, so its resolved notice still goes out where the firing did.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TOLD_KINDS = ("firing", "repeat", "escalated")


def upgrade() -> None:
    routes = op.create_table(
        "alert_routes",
        sa.Column("account", sa.String(64), primary_key=True),
        sa.Column("rule", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(16), primary_key=True),
        sa.Column("notifier", sa.String(64), primary_key=True),
        sa.Column("target", sa.String(128), primary_key=True),
    )
    op.create_table(
        "seen_requests",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )
    assert routes is not None
    bind = op.get_bind()
    firing = {
        (r.account, r.rule, r.subject): r.started_at
        for r in bind.execute(
            sa.text(
                "SELECT account, rule, subject, started_at FROM alert_states"
                " WHERE status = 'firing'"
            )
        )
    }
    if not firing:
        return
    told: list[dict[str, str]] = []
    rows = bind.execute(
        sa.text(
            "SELECT notifier, target, created_at, kind, payload FROM outbox WHERE status != 'muted'"
        )
    )
    for row in rows:
        if row.kind not in TOLD_KINDS:
            continue
        note = json.loads(row.payload)
        started = firing.get((note["account"], note["rule"], note["subject"]))
        route = {"account": note["account"], "rule": note["rule"], "subject": note["subject"]}
        route |= {"notifier": row.notifier, "target": row.target}
        if started is not None and row.created_at >= started and route not in told:
            told.append(route)
    if told:
        op.bulk_insert(routes, told)


def downgrade() -> None:
    op.drop_table("seen_requests")
    op.drop_table("alert_routes")
