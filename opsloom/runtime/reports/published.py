"""Published reports and dashboards of an app, read from the definition store's tables.

(The designer writes them; the runtime only reads the published version.)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.errors import NotFound


def _published(app: str, kind: str) -> Any:
    d, v = tables.definitions, tables.definition_versions
    return (
        select(d.c.key, v.c.document)
        .join(v, and_(v.c.definition_id == d.c.id, v.c.version == d.c.published_version))
        .where(d.c.app_key == app, d.c.kind == kind)
    )


async def published_document(session: AsyncSession, app: str, kind: str, key: str) -> dict[str, Any]:
    d = tables.definitions
    row = (await session.execute(_published(app, kind).where(d.c.key == key))).first()
    if row is None:
        raise NotFound(f"App '{app}' has no published {kind} '{key}'")
    return dict(row.document)


async def published_documents(session: AsyncSession, app: str, kind: str) -> list[dict[str, Any]]:
    d = tables.definitions
    rows = await session.execute(_published(app, kind).order_by(d.c.key))
    return [dict(row.document) for row in rows]
