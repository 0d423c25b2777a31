"""Saved views keep the list's layout: column widths and the field rows are grouped by.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsloom.platform.types import Json

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("opsloom_saved_views") as batch:
        batch.add_column(sa.Column("widths", Json, nullable=True))
        batch.add_column(sa.Column("group_by", sa.String(63), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("opsloom_saved_views") as batch:
        batch.drop_column("group_by")
        batch.drop_column("widths")
