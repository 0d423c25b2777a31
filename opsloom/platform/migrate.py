"""Bring the platform tables up to the newest migration."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from opsloom.platform.database import Database
from opsloom.resources import data_path, migrations_path

# Any constant works; it only has to be the same in every Opsloom process.
_PG_LOCK = 0x0951_00A1


def alembic_config() -> Config:
    config = Config(str(data_path("alembic.ini")))
    config.set_main_option("script_location", str(migrations_path()))
    return config


async def upgrade(db: Database) -> str | None:
    """Upgrade to head in one transaction. Safe when several processes start at once."""
    config = alembic_config()

    def _run(connection: Any) -> str | None:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        return MigrationContext.configure(connection).get_current_revision()

    async with db.session(write=True) as session:
        connection = await session.connection()
        revision = await connection.run_sync(_run)
    db.migrated = True
    return revision


async def note_current(db: Database) -> None:
    """For a process that leaves migrating to another (`opsloom serve`'s workers): note whether
    the schema is at head, as `upgrade` does (`Database.migrated`)."""
    async with db.session() as session:
        connection = await session.connection()
        revision = await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
    db.migrated = revision == head_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
