"""The platform's own tables. Changed only through Alembic migrations."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

from opsloom.platform.types import BigId, Json, UTCDateTime

metadata = MetaData()

apps = Table(
    "opsloom_apps",
    metadata,
    Column("key", String(63), primary_key=True),
    Column("document", Json, nullable=False),
    Column("package_version", String(64), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

definitions = Table(
    "opsloom_definitions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("app_key", String(63), ForeignKey("opsloom_apps.key"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("key", String(63), nullable=False),
    Column("draft", Json, nullable=True),
    Column("draft_revision", Integer, nullable=False, default=0),
    Column("draft_updated_at", UTCDateTime, nullable=True),
    Column("draft_updated_by", BigId, nullable=True),
    Column("published_version", Integer, nullable=True),
    Column("storage", Json, nullable=True),
    UniqueConstraint("app_key", "kind", "key", name="uq_opsloom_definitions_key"),
)

definition_versions = Table(
    "opsloom_definition_versions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("definition_id", BigId, ForeignKey("opsloom_definitions.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("document", Json, nullable=False),
    Column("plan", Json, nullable=True),
    Column("published_at", UTCDateTime, nullable=False),
    Column("published_by", BigId, nullable=True),
    UniqueConstraint("definition_id", "version", name="uq_opsloom_definition_versions"),
)

record_history = Table(
    "opsloom_record_history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("form_id", BigId, ForeignKey("opsloom_definitions.id"), nullable=False),
    Column("record_id", BigId, nullable=False),
    Column("record_version", Integer, nullable=False),
    Column("action", String(16), nullable=False),
    Column("actor_id", BigId, nullable=True),
    Column("at", UTCDateTime, nullable=False),
    Column("changes", Json, nullable=False),
    Index("ix_opsloom_record_history_record", "form_id", "record_id", "id"),
)

# ---------------------------------------------------------------- identity

departments = Table(
    "opsloom_departments",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(120), nullable=False),
    Column("parent_id", BigId, ForeignKey("opsloom_departments.id"), nullable=True),
    Column("head_id", BigId, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

users = Table(
    "opsloom_users",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(120), nullable=False),
    Column("phone", String(32), nullable=True),
    Column("locale", String(16), nullable=False, default="zh-CN"),
    Column("active", Boolean, nullable=False, default=True),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("password_hash", String(255), nullable=True),
    Column("department_id", BigId, ForeignKey("opsloom_departments.id"), nullable=True),
    Column("manager_id", BigId, ForeignKey("opsloom_users.id"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

roles = Table(
    "opsloom_roles",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("app_key", String(63), ForeignKey("opsloom_apps.key"), nullable=False),
    Column("key", String(63), nullable=False),
    Column("document", Json, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("app_key", "key", name="uq_opsloom_roles_key"),
)

role_members = Table(
    "opsloom_role_members",
    metadata,
    Column("role_id", BigId, ForeignKey("opsloom_roles.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", BigId, ForeignKey("opsloom_users.id"), primary_key=True),
)

sessions = Table(
    "opsloom_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", BigId, ForeignKey("opsloom_users.id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("ip", String(64), nullable=True),
)

api_tokens = Table(
    "opsloom_api_tokens",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("user_id", BigId, ForeignKey("opsloom_users.id"), nullable=False),
    Column("name", String(120), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("apps", Json, nullable=True),
    Column("can_write", Boolean, nullable=False, default=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
)

login_failures = Table(
    "opsloom_login_failures",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False),
    Column("ip", String(64), nullable=True),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_opsloom_login_failures_email", "email", "at"),
    Index("ix_opsloom_login_failures_ip", "ip", "at"),
)

audit_log = Table(
    "opsloom_audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor_id", BigId, nullable=True),
    Column("action", String(64), nullable=False),
    Column("target", String(255), nullable=True),
    Column("ip", String(64), nullable=True),
    Column("detail", Json, nullable=True),
    Index("ix_opsloom_audit_log_at", "at"),
    Index("ix_opsloom_audit_log_actor", "actor_id", "at"),
)

# Counters behind autonumber fields: one row per (form, field, period). The row
# is updated in the transaction that creates the record, so numbers are gap-free.
sequences = Table(
    "opsloom_sequences",
    metadata,
    Column("form_id", BigId, primary_key=True),
    Column("field_id", String(64), primary_key=True),
    Column("period", String(16), primary_key=True),
    Column("value", BigInteger, nullable=False),
)
