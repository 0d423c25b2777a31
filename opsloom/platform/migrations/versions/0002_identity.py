"""Identity: departments, users, roles, sessions, API tokens, login throttling, audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

from opsloom.platform import tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Created from the Core definitions in opsloom.platform.tables. A later revision
# that changes one of these tables must first freeze its present definition here.
NEW_TABLES = (
    tables.departments,
    tables.users,
    tables.roles,
    tables.role_members,
    tables.sessions,
    tables.api_tokens,
    tables.login_failures,
    tables.audit_log,
)


def upgrade() -> None:
    bind = op.get_bind()
    for table in NEW_TABLES:
        table.create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(NEW_TABLES):
        table.drop(bind)
