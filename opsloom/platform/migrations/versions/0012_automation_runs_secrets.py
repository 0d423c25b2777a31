"""Automation runs (exactly-once firing of schedules and date triggers) and an app's named secrets.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsloom.platform.types import BigId, Json, UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opsloom_automation_runs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("app_key", sa.String(63), nullable=False),
        sa.Column("automation_key", sa.String(63), nullable=False),
        sa.Column("fire_key", sa.String(120), nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", Json, nullable=True),
        sa.UniqueConstraint("app_key", "automation_key", "fire_key", name="uq_opsloom_automation_runs_fire"),
    )
    op.create_index("ix_opsloom_automation_runs_latest", "opsloom_automation_runs", ["app_key", "automation_key", "id"])
    op.create_table(
        "opsloom_secrets",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("app_key", sa.String(63), sa.ForeignKey("opsloom_apps.key"), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("value", sa.String(8000), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("app_key", "name", name="uq_opsloom_secrets_name"),
    )


def downgrade() -> None:
    op.drop_table("opsloom_secrets")
    op.drop_index("ix_opsloom_automation_runs_latest", table_name="opsloom_automation_runs")
    op.drop_table("opsloom_automation_runs")
