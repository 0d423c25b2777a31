"""Template packages installed into apps: the base of the next upgrade, and the backup before it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsloom.platform.types import BigId, Json, UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opsloom_app_packages",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("app_key", sa.String(63), nullable=False),
        sa.Column("package_key", sa.String(63), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("documents", Json, nullable=False),
        sa.Column("previous", Json, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("installed_at", UTCDateTime, nullable=False),
        sa.Column("installed_by", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_opsloom_app_packages_app", "opsloom_app_packages", ["app_key", "id"])


def downgrade() -> None:
    op.drop_index("ix_opsloom_app_packages_app", "opsloom_app_packages")
    op.drop_table("opsloom_app_packages")
