"""The platform's own tables. Changed only through Alembic migrations."""

from __future__ import annotations

from sqlalchemy import (
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
