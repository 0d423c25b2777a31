"""The migrations build exactly the tables the code declares, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, select

from opsloom.platform import tables
from opsloom.platform.database import Database
from opsloom.platform.migrate import alembic_config, head_revision, upgrade
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


async def test_upgrading_keeps_every_users_language_and_lets_new_users_have_none(db_url):
    """0007 makes `locale` nullable (on SQLite by replacing the column, with other tables pointing at users)."""
    db = Database(db_url)
    users, views = tables.users, tables.saved_views
    at = datetime(2026, 1, 1, tzinfo=UTC)
    person = {"active": True, "is_admin": False, "created_at": at, "updated_at": at}
    try:
        await _upgrade_to(db, "0006")
        async with db.session(write=True) as session:
            await session.execute(insert(users).values(id=1, email="a@example.com", name="A", locale="en", **person))
            await session.execute(
                insert(users).values(id=2, email="b@example.com", name="B", locale="zh-CN", manager_id=1, **person)
            )
            view = {"app": "a", "form": "f", "name": "mine", "columns": [], "created_at": at}
            await session.execute(insert(views).values(user_id=2, **view))
        assert await upgrade(db) == head_revision()
        async with db.session(write=True) as session:
            await session.execute(insert(users).values(id=3, email="c@example.com", name="C", **person))
            rows = (await session.execute(select(users.c.id, users.c.locale, users.c.manager_id).order_by("id"))).all()
        assert [tuple(row) for row in rows] == [(1, "en", None), (2, "zh-CN", 1), (3, None, None)]
    finally:
        await db.dispose()


async def _upgrade_to(db: Database, revision: str) -> None:
    config = alembic_config()

    def run(connection: Any) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with db.session(write=True) as session:
        await (await session.connection()).run_sync(run)
