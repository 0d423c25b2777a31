"""Saved views: a user's named filter, sort and columns for a form's list.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsloom.platform.types import BigId, Json, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opsloom_saved_views",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("opsloom_users.id"), nullable=False),
        sa.Column("app", sa.String(63), nullable=False),
        sa.Column("form", sa.String(63), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("filter", sa.Text, nullable=True),
        sa.Column("sort", sa.String(1000), nullable=True),
        sa.Column("columns", Json, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("user_id", "app", "form", "name", name="uq_opsloom_saved_views_name"),
    )


def downgrade() -> None:
    op.drop_table("opsloom_saved_views")
