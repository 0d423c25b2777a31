"""Roles whose members are everyone, or everyone in a department and below (a pilot group).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsloom.platform.types import BigId

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("opsloom_roles", sa.Column("everyone", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "opsloom_role_departments",
        sa.Column(
            "role_id", BigId, sa.ForeignKey("opsloom_roles.id", ondelete="CASCADE"), primary_key=True, nullable=False
        ),
        sa.Column(
            "department_id",
            BigId,
            sa.ForeignKey("opsloom_departments.id", ondelete="CASCADE"),
            primary_key=True,
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_table("opsloom_role_departments")
    with op.batch_alter_table("opsloom_roles") as batch:
        batch.drop_column("everyone")
