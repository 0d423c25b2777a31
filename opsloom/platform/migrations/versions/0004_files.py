"""Uploaded files of attachment fields.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsloom.platform.types import BigId, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opsloom_files",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("form_id", BigId, sa.ForeignKey("opsloom_definitions.id"), nullable=False),
        sa.Column("field_id", sa.String(64), nullable=False),
        sa.Column("record_id", BigId, nullable=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(128), nullable=False, unique=True),
        sa.Column("created_by", BigId, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("detached_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_opsloom_files_record", "opsloom_files", ["form_id", "record_id"])


def downgrade() -> None:
    op.drop_table("opsloom_files")
