"""Helpers of the automations' tests: save and publish an automation, read its runs, move its clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from opsloom.platform import tables
from tests.runtime.integrations.helpers import APP


def save_automation(client, document: dict[str, Any], app: str = APP) -> dict[str, Any]:
    saved = client.put(f"/api/design/apps/{app}/automations/{document['key']}", json=document)
    assert saved.status_code == 200, saved.text
    return saved.json()


def publish_automation(client, document: dict[str, Any], app: str = APP) -> dict[str, Any]:
    saved = save_automation(client, document, app)
    assert saved["problems"] == [], saved["problems"]
    published = client.post(f"/api/design/apps/{app}/automations/{document['key']}/publish")
    assert published.status_code == 200, published.text
    return published.json()


def runs(client, key: str, app: str = APP) -> list[dict[str, Any]]:
    response = client.get(f"/api/design/apps/{app}/automations/{key}/runs", params={"limit": 200})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def published_at(client, key: str, when: datetime, app: str = APP) -> None:
    """Pretend the automation was published at `when` (a schedule fires only for slots after it)."""
    d, v = tables.definitions, tables.definition_versions

    async def move() -> None:
        async with client.app.state.db.session(write=True) as session:
            found = select(d.c.id).where(d.c.app_key == app, d.c.kind == "automation", d.c.key == key)
            await session.execute(
                update(v).where(v.c.definition_id == found.scalar_subquery()).values(published_at=when)
            )

    client.portal.call(move)


def when_published(client, key: str, app: str = APP) -> datetime:
    d, v = tables.definitions, tables.definition_versions

    async def read() -> datetime:
        async with client.app.state.db.session() as session:
            query = (
                select(v.c.published_at)
                .join(d, d.c.id == v.c.definition_id)
                .where(d.c.app_key == app, d.c.kind == "automation", d.c.key == key)
            )
            return (await session.execute(query)).scalar_one()

    return client.portal.call(read)
