"""Alembic environment: runs on the connection Opsloom hands over, or on OPSLOOM_DATABASE_URL."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context

from opsloom.platform.tables import metadata


def run_on(connection: Any) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_on(connection)
else:
    from opsloom.platform.database import Database
    from opsloom.platform.settings import Settings

    async def _standalone() -> None:
        db = Database(Settings().resolved_database_url)
        async with db.engine.begin() as conn:
            await conn.run_sync(run_on)
        await db.dispose()

    asyncio.run(_standalone())
