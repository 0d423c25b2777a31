"""Publish jobs: the progress of a publish that converts rows in batches.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsloom.platform.types import BigId, UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opsloom_publish_jobs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("definition_id", BigId, sa.ForeignKey("opsloom_definitions.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("done", sa.Integer, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("stage_table", sa.String(63), nullable=True),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("started_by", BigId, nullable=True),
    )
    op.create_index("ix_opsloom_publish_jobs_definition", "opsloom_publish_jobs", ["definition_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_opsloom_publish_jobs_definition", table_name="opsloom_publish_jobs")
    op.drop_table("opsloom_publish_jobs")
