"""Platform tables: apps, definitions and their versions, record history.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsloom.platform.types import BigId, Json, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opsloom_apps",
        sa.Column("key", sa.String(63), primary_key=True),
        sa.Column("document", Json, nullable=False),
        sa.Column("package_version", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "opsloom_definitions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("app_key", sa.String(63), sa.ForeignKey("opsloom_apps.key"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.String(63), nullable=False),
        sa.Column("draft", Json, nullable=True),
        sa.Column("draft_revision", sa.Integer, nullable=False),
        sa.Column("draft_updated_at", UTCDateTime, nullable=True),
        sa.Column("draft_updated_by", BigId, nullable=True),
        sa.Column("published_version", sa.Integer, nullable=True),
        sa.Column("storage", Json, nullable=True),
        sa.UniqueConstraint("app_key", "kind", "key", name="uq_opsloom_definitions_key"),
    )
    op.create_table(
        "opsloom_definition_versions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("definition_id", BigId, sa.ForeignKey("opsloom_definitions.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("document", Json, nullable=False),
        sa.Column("plan", Json, nullable=True),
        sa.Column("published_at", UTCDateTime, nullable=False),
        sa.Column("published_by", BigId, nullable=True),
        sa.UniqueConstraint("definition_id", "version", name="uq_opsloom_definition_versions"),
    )
    op.create_table(
        "opsloom_record_history",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("form_id", BigId, sa.ForeignKey("opsloom_definitions.id"), nullable=False),
        sa.Column("record_id", BigId, nullable=False),
        sa.Column("record_version", sa.Integer, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor_id", BigId, nullable=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("changes", Json, nullable=False),
    )
    op.create_index(
        "ix_opsloom_record_history_record",
        "opsloom_record_history",
        ["form_id", "record_id", "id"],
    )


def downgrade() -> None:
    op.drop_table("opsloom_record_history")
    op.drop_table("opsloom_definition_versions")
    op.drop_table("opsloom_definitions")
    op.drop_table("opsloom_apps")
