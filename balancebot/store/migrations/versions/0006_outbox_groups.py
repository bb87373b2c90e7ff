"""Grouped notifications: an outbox row names the group it goes out with (a route's
`group_by`), so a group's rows to one target are sent as one message, after a restart too.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("group_key", sa.String(64), nullable=True))
    op.create_index("ix_outbox_group", "outbox", ["notifier", "target", "group_key"])


def downgrade() -> None:
    op.drop_index("ix_outbox_group", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("group_key")
