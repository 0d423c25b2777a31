"""The migrations build exactly the tables the code declares, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from opsloom.platform.database import Database
from opsloom.platform.migrate import head_revision, upgrade
from opsloom.platform.tables import metadata


async def test_migrated_database_matches_the_declared_tables(db_url):
    db = Database(db_url)
    try:
        assert await upgrade(db) == head_revision()
        async with db.engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
        assert differences == []
    finally:
        await db.dispose()
