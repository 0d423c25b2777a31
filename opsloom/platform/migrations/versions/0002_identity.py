"""Identity: departments, users, roles, sessions, API tokens, login throttling, audit log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsloom.platform.types import BigId, Json, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opsloom_departments",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("parent_id", BigId, sa.ForeignKey("opsloom_departments.id"), nullable=True),
        sa.Column("head_id", BigId, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "opsloom_users",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("locale", sa.String(16), nullable=False, default="zh-CN"),
        sa.Column("active", sa.Boolean, nullable=False, default=True),
        sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("department_id", BigId, sa.ForeignKey("opsloom_departments.id"), nullable=True),
        sa.Column("manager_id", BigId, sa.ForeignKey("opsloom_users.id"), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "opsloom_roles",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("app_key", sa.String(63), sa.ForeignKey("opsloom_apps.key"), nullable=False),
        sa.Column("key", sa.String(63), nullable=False),
        sa.Column("document", Json, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("app_key", "key", name="uq_opsloom_roles_key"),
    )
    op.create_table(
        "opsloom_role_members",
        sa.Column("role_id", BigId, sa.ForeignKey("opsloom_roles.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", BigId, sa.ForeignKey("opsloom_users.id"), primary_key=True),
    )
    op.create_table(
        "opsloom_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", BigId, sa.ForeignKey("opsloom_users.id"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("ip", sa.String(64), nullable=True),
    )
    op.create_table(
        "opsloom_api_tokens",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", BigId, sa.ForeignKey("opsloom_users.id"), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("apps", Json, nullable=True),
        sa.Column("can_write", sa.Boolean, nullable=False, default=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=True),
        sa.Column("last_used_at", UTCDateTime, nullable=True),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
    )
    op.create_table(
        "opsloom_login_failures",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "opsloom_audit_log",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor_id", BigId, nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(255), nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("detail", Json, nullable=True),
    )
    op.create_index("ix_opsloom_login_failures_email", "opsloom_login_failures", ["email", "at"])
    op.create_index("ix_opsloom_login_failures_ip", "opsloom_login_failures", ["ip", "at"])
    op.create_index("ix_opsloom_audit_log_at", "opsloom_audit_log", ["at"])
    op.create_index("ix_opsloom_audit_log_actor", "opsloom_audit_log", ["actor_id", "at"])


def downgrade() -> None:
    op.drop_table("opsloom_audit_log")
    op.drop_table("opsloom_login_failures")
    op.drop_table("opsloom_api_tokens")
    op.drop_table("opsloom_sessions")
    op.drop_table("opsloom_role_members")
    op.drop_table("opsloom_roles")
    op.drop_table("opsloom_users")
    op.drop_table("opsloom_departments")
