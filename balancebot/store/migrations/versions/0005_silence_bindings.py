"""Mutes bound to one alert (the buttons on an alert): its currency, and whether the mute
lasts until that alert resolves.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "silence_bindings",
        sa.Column("silence_id", ID, sa.ForeignKey("silences.id"), primary_key=True),
        sa.Column("subject", sa.String(16), nullable=False),
        sa.Column("until_resolved", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("silence_bindings")
