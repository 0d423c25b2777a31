"""The run-time settings an admin changes on /admin/settings.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsloom.platform.types import Json, UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "opsloom_site_settings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("document", Json, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=True),
        sa.Column("updated_by", sa.BigInteger, nullable=True),
    )
    op.bulk_insert(table, [{"id": 1, "document": {}, "version": 0}])


def downgrade() -> None:
    op.drop_table("opsloom_site_settings")
