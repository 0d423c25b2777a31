"""The outbox, subscriptions (webhooks and notification channels), deliveries and their attempts.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opsloom.platform.types import BigId, Json, UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opsloom_outbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(40), nullable=False),
        sa.Column("app_key", sa.String(63), nullable=False),
        sa.Column("form_key", sa.String(63), nullable=True),
        sa.Column("record_id", sa.BigInteger, nullable=True),
        sa.Column("actor_id", sa.BigInteger, nullable=True),
        sa.Column("payload", Json, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("dispatched_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_opsloom_outbox_waiting", "opsloom_outbox", ["dispatched_at", "id"])
    op.create_table(
        "opsloom_subscriptions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("app_key", sa.String(63), sa.ForeignKey("opsloom_apps.key"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("config", Json, nullable=False),
        sa.Column("secret", sa.String(255), nullable=True),
        sa.Column("previous_secret", sa.String(255), nullable=True),
        sa.Column("previous_secret_until", UTCDateTime, nullable=True),
        sa.Column("events", Json, nullable=False),
        sa.Column("form_key", sa.String(63), nullable=True),
        sa.Column("condition", Json, nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("owner_id", sa.BigInteger, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("deleted_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_opsloom_subscriptions_app", "opsloom_subscriptions", ["app_key", "channel"])
    op.create_table(
        "opsloom_deliveries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("subscription_id", sa.BigInteger, sa.ForeignKey("opsloom_subscriptions.id"), nullable=False),
        sa.Column("event_id", sa.BigInteger, nullable=True),
        sa.Column("topic", sa.String(40), nullable=False),
        sa.Column("payload", Json, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", UTCDateTime, nullable=False),
        sa.Column("lease_until", UTCDateTime, nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("response_status", sa.Integer, nullable=True),
        sa.Column("error", sa.String(1000), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("delivered_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_opsloom_deliveries_due", "opsloom_deliveries", ["status", "next_at"])
    op.create_index("ix_opsloom_deliveries_subscription", "opsloom_deliveries", ["subscription_id", "id"])
    op.create_table(
        "opsloom_delivery_attempts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("delivery_id", sa.BigInteger, sa.ForeignKey("opsloom_deliveries.id"), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("response_status", sa.Integer, nullable=True),
        sa.Column("response_body", sa.String(2000), nullable=True),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("error", sa.String(1000), nullable=True),
    )
    op.create_index("ix_opsloom_delivery_attempts_delivery", "opsloom_delivery_attempts", ["delivery_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_opsloom_delivery_attempts_delivery", table_name="opsloom_delivery_attempts")
    op.drop_table("opsloom_delivery_attempts")
    op.drop_index("ix_opsloom_deliveries_subscription", table_name="opsloom_deliveries")
    op.drop_index("ix_opsloom_deliveries_due", table_name="opsloom_deliveries")
    op.drop_table("opsloom_deliveries")
    op.drop_index("ix_opsloom_subscriptions_app", table_name="opsloom_subscriptions")
    op.drop_table("opsloom_subscriptions")
    op.drop_index("ix_opsloom_outbox_waiting", table_name="opsloom_outbox")
    op.drop_table("opsloom_outbox")
