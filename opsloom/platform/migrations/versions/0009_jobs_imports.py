"""Background jobs, and spreadsheet imports with the rows each one landed.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsloom.platform.types import BigId, Json, UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opsloom_jobs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("payload", Json, nullable=False),
        sa.Column("progress", Json, nullable=False),
        sa.Column("result", Json, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", UTCDateTime, nullable=True),
        sa.Column("created_by", BigId, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=True),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_opsloom_jobs_claim", "opsloom_jobs", ["state", "id"])
    op.create_table(
        "opsloom_imports",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("app_key", sa.String(63), nullable=False),
        sa.Column("form_key", sa.String(63), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("file_key", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("file_size", sa.BigInteger, nullable=False),
        sa.Column("file_format", sa.String(8), nullable=False),
        sa.Column("encoding", sa.String(16), nullable=True),
        sa.Column("options", Json, nullable=False),
        sa.Column("job_id", BigId, sa.ForeignKey("opsloom_jobs.id"), nullable=True),
        sa.Column("rows_done", sa.Integer, nullable=False),
        sa.Column("counts", Json, nullable=False),
        sa.Column("created_by", BigId, nullable=True),
        sa.Column("token_apps", Json, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=True),
        sa.Column("undone_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_opsloom_imports_form", "opsloom_imports", ["app_key", "form_key", "id"])
    op.create_table(
        "opsloom_import_rows",
        sa.Column("import_id", BigId, sa.ForeignKey("opsloom_imports.id"), primary_key=True),
        sa.Column("row_number", sa.Integer, primary_key=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("record_id", BigId, nullable=True),
        sa.Column("detail", Json, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("opsloom_import_rows")
    op.drop_index("ix_opsloom_imports_form", table_name="opsloom_imports")
    op.drop_table("opsloom_imports")
    op.drop_index("ix_opsloom_jobs_claim", table_name="opsloom_jobs")
    op.drop_table("opsloom_jobs")
