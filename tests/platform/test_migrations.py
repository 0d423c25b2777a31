"""The migrations build exactly the tables the code declares, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, select, text

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


async def test_upgrading_rebuilds_forms_indexes_for_live_records(db_url):
    """0017: a form table's plain indexes become live-record ones under the same names; unique ones, a
    subform's, the platform's and a table no form owns stay as they were, and every row stays."""
    db = Database(db_url)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        await _upgrade_to(db, "0016")
        async with db.session(write=True) as session:
            for statement in (
                "CREATE TABLE shop__order"
                " (id INTEGER PRIMARY KEY, deleted_at TIMESTAMP NULL, amount NUMERIC, code TEXT)",
                "CREATE INDEX ix_shop__order_fld_amount_1 ON shop__order (amount)",
                "CREATE UNIQUE INDEX uq_shop__order_fld_code_1 ON shop__order (code) WHERE deleted_at IS NULL",
                "CREATE TABLE shop__order__lines (id INTEGER PRIMARY KEY, parent_id INTEGER, position INTEGER)",
                "CREATE INDEX ix_shop__order__lines_parent_1 ON shop__order__lines (parent_id, position)",
                # Someone else's table in the same database, which the upgrade must leave alone.
                "CREATE TABLE theirs (id INTEGER PRIMARY KEY, deleted_at TIMESTAMP NULL, amount NUMERIC)",
                "CREATE INDEX ix_theirs_amount ON theirs (amount)",
                "INSERT INTO shop__order (id, amount, code) VALUES (1, 10, 'a'), (2, 20, 'b')",
            ):
                await session.execute(text(statement))
            await session.execute(insert(tables.apps).values(key="shop", document={}, created_at=at, updated_at=at))
            storage = {"table": "shop__order", "columns": {}, "subforms": {"f1": {"table": "shop__order__lines"}}}
            form = {"app_key": "shop", "kind": "form", "key": "order", "draft_revision": 0, "storage": storage}
            await session.execute(insert(tables.definitions).values(**form))
        assert await upgrade(db) == head_revision()
        async with db.session() as session:
            definitions = await _index_definitions(session)
            kept = (await session.execute(text("SELECT count(*) FROM shop__order"))).scalar_one()
        amount = definitions["ix_shop__order_fld_amount_1"]
        assert "WHERE" in amount and "deleted_at IS NULL" in amount
        if db.engine.dialect.name == "sqlite":
            assert "(amount, deleted_at)" in amount  # 0018's shape, at head
        else:
            assert "(amount)" in amount
        assert "WHERE" not in definitions["ix_shop__order__lines_parent_1"]
        assert "WHERE" not in definitions["ix_theirs_amount"]
        assert definitions["uq_shop__order_fld_code_1"].startswith("CREATE UNIQUE INDEX")
        assert all("WHERE" not in sql for name, sql in definitions.items() if name.startswith("ix_opsloom_"))
        assert kept == 2
    finally:
        await db.dispose()


async def test_upgrading_puts_deleted_at_last_in_sqlites_live_indexes(db_url):
    """0018 (SQLite): `(deleted_at, column)` becomes `(column, deleted_at)` under the same name, still over
    live records only; a unique index and a table no form owns stay; a page by id then walks the
    primary key with no statistics of the table, where it had sorted every live record."""
    db = Database(db_url)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        await _upgrade_to(db, "0017")
        sqlite = db.engine.dialect.name == "sqlite"
        shape = "(deleted_at, amount) WHERE deleted_at IS NULL" if sqlite else "(amount) WHERE deleted_at IS NULL"
        page = "SELECT * FROM shop__order WHERE deleted_at IS NULL AND id < 5 ORDER BY id DESC LIMIT 3"
        async with db.session(write=True) as session:
            for statement in (
                "CREATE TABLE shop__order"
                " (id INTEGER PRIMARY KEY, deleted_at TIMESTAMP NULL, amount NUMERIC, code TEXT)",
                f"CREATE INDEX ix_shop__order_fld_amount_1 ON shop__order {shape}",
                "CREATE UNIQUE INDEX uq_shop__order_fld_code_1 ON shop__order (code) WHERE deleted_at IS NULL",
                "CREATE TABLE theirs (id INTEGER PRIMARY KEY, deleted_at TIMESTAMP NULL, amount NUMERIC)",
                f"CREATE INDEX ix_theirs_amount ON theirs {shape}",
                "INSERT INTO shop__order (id, amount, code) VALUES (1, 10, 'a'), (2, 20, 'b'), (3, 30, 'c')",
            ):
                await session.execute(text(statement))
            await session.execute(insert(tables.apps).values(key="shop", document={}, created_at=at, updated_at=at))
            storage = {"table": "shop__order", "columns": {}, "subforms": {}}
            form = {"app_key": "shop", "kind": "form", "key": "order", "draft_revision": 0, "storage": storage}
            await session.execute(insert(tables.definitions).values(**form))
            before = await _plan(session, page)
        assert await upgrade(db) == head_revision()
        async with db.session() as session:
            definitions = await _index_definitions(session)
            rows = (await session.execute(text(page))).all()
            after = await _plan(session, page)
        amount = definitions["ix_shop__order_fld_amount_1"]
        assert "deleted_at IS NULL" in amount
        assert ("(amount, deleted_at)" if sqlite else "(amount)") in amount
        assert ("(deleted_at, amount)" if sqlite else "(amount)") in definitions["ix_theirs_amount"]
        assert definitions["uq_shop__order_fld_code_1"].startswith("CREATE UNIQUE INDEX")
        assert [row.id for row in rows] == [3, 2, 1]
        if sqlite:
            assert "TEMP B-TREE" in before and "INTEGER PRIMARY KEY" not in before, before
            assert "INTEGER PRIMARY KEY" in after and "TEMP B-TREE" not in after, after
    finally:
        await db.dispose()


async def _plan(session: Any, query: str) -> str:
    """SQLite's plan of a query, as one line (empty on PostgreSQL)."""
    if session.get_bind().dialect.name != "sqlite":
        return ""
    return " | ".join(row[3] for row in await session.execute(text(f"EXPLAIN QUERY PLAN {query}")))


async def _index_definitions(session: Any) -> dict[str, str]:
    """Every index's CREATE statement as the database keeps it, quotes dropped."""
    if session.get_bind().dialect.name == "sqlite":
        listing = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    else:
        listing = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
    return {name: sql.replace('"', "") for name, sql in await session.execute(text(listing))}


async def _upgrade_to(db: Database, revision: str) -> None:
    config = alembic_config()

    def run(connection: Any) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with db.session(write=True) as session:
        await (await session.connection()).run_sync(run)
