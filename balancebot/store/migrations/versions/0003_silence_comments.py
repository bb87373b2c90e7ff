"""Comments on silences (`balancebot silences add --comment`).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "silence_comments",
        sa.Column("silence_id", ID, sa.ForeignKey("silences.id"), primary_key=True),
        sa.Column("comment", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("silence_comments")
