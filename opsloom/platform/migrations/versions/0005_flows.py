"""Approval flows: instances, tasks, their timeline and timers; notifications,
idempotency keys and out-of-office delegations.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsloom.platform.types import BigId, Json, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opsloom_flow_instances",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("app_key", sa.String(63), nullable=False),
        sa.Column("form_key", sa.String(63), nullable=False),
        sa.Column("form_id", sa.BigInteger, nullable=False),
        sa.Column("record_id", sa.BigInteger, nullable=False),
        sa.Column("flow_id", sa.BigInteger, nullable=False),
        sa.Column("flow_version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("submitter_id", sa.BigInteger, nullable=True),
        sa.Column("title", sa.String(255), nullable=True),
        sa.Column("state", Json, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_opsloom_flow_instances_record", "opsloom_flow_instances", ["form_id", "record_id"])
    op.create_index("ix_opsloom_flow_instances_submitter", "opsloom_flow_instances", ["submitter_id", "status"])
    op.create_table(
        "opsloom_flow_tasks",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("instance_id", sa.BigInteger, sa.ForeignKey("opsloom_flow_instances.id"), nullable=False),
        sa.Column("local_id", sa.Integer, nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("node_label", sa.String(255), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("assignee_id", sa.BigInteger, nullable=False),
        sa.Column("on_behalf_of", sa.BigInteger, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("acted_at", UTCDateTime, nullable=True),
        sa.Column("due_at", UTCDateTime, nullable=True),
        sa.UniqueConstraint("instance_id", "local_id", name="uq_opsloom_flow_tasks_local"),
    )
    op.create_index("ix_opsloom_flow_tasks_assignee", "opsloom_flow_tasks", ["assignee_id", "state"])
    op.create_table(
        "opsloom_flow_history",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("instance_id", sa.BigInteger, sa.ForeignKey("opsloom_flow_instances.id"), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor_id", sa.BigInteger, nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("node", sa.String(64), nullable=True),
        sa.Column("task_id", sa.BigInteger, nullable=True),
        sa.Column("comment", sa.String(4000), nullable=True),
        sa.Column("detail", Json, nullable=False),
    )
    op.create_index("ix_opsloom_flow_history_instance", "opsloom_flow_history", ["instance_id", "id"])
    op.create_table(
        "opsloom_flow_timers",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("instance_id", sa.BigInteger, sa.ForeignKey("opsloom_flow_instances.id"), nullable=False),
        sa.Column("local_task_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("due_at", UTCDateTime, nullable=False),
        sa.Column("done_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_opsloom_flow_timers_due", "opsloom_flow_timers", ["done_at", "due_at"])
    op.create_table(
        "opsloom_notifications",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("instance_id", sa.BigInteger, nullable=True),
        sa.Column("task_id", sa.BigInteger, nullable=True),
        sa.Column("text", sa.String(1000), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("read_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_opsloom_notifications_user", "opsloom_notifications", ["user_id", "read_at"])
    op.create_table(
        "opsloom_idempotency_keys",
        sa.Column("user_id", sa.BigInteger, primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("request", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("response", Json, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "opsloom_delegations",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger, sa.ForeignKey("opsloom_users.id"), nullable=False),
        sa.Column("delegate_id", sa.BigInteger, sa.ForeignKey("opsloom_users.id"), nullable=False),
        sa.Column("starts_at", UTCDateTime, nullable=False),
        sa.Column("ends_at", UTCDateTime, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_opsloom_delegations_user", "opsloom_delegations", ["user_id", "ends_at"])


def downgrade() -> None:
    for name in (
        "opsloom_delegations",
        "opsloom_idempotency_keys",
        "opsloom_notifications",
        "opsloom_flow_timers",
        "opsloom_flow_history",
        "opsloom_flow_tasks",
        "opsloom_flow_instances",
    ):
        op.drop_table(name)
