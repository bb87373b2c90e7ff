"""Leases for several replicas: delivery lanes and the shared check schedule.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delivery_leases",
        sa.Column("notifier", sa.String(64), primary_key=True),
        sa.Column("target", sa.String(128), primary_key=True),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("until", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "check_schedule",
        sa.Column("account", sa.String(64), primary_key=True),
        sa.Column("next_at", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("until", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_check_schedule_next_at", "check_schedule", ["next_at"])


def downgrade() -> None:
    op.drop_table("check_schedule")
    op.drop_table("delivery_leases")
