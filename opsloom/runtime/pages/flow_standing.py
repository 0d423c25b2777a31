"""Where a request stands, for the record page and the task page: the latest run's flow, drawn with its path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.runtime.flow.drawing import Step, where_it_stands
from opsloom.runtime.flow.instances import FlowCache
from opsloom.runtime.flow.model import Flow
from opsloom.runtime.forms import CompiledForm


async def standing_of_record(
    session: AsyncSession, cache: FlowCache, form: CompiledForm, flows: list[dict[str, Any]]
) -> list[Step]:
    """The latest run of a record's flow drawn (none: the record was never submitted)."""
    if not flows:
        return []
    latest = flows[-1]
    i = tables.flow_instances
    row = (await session.execute(select(i.c.flow_id, i.c.flow_version).where(i.c.id == latest["id"]))).first()
    if row is None:
        return []
    flow = await cache.get(session, row.flow_id, row.flow_version, form)
    return standing_in(flow, latest)


def standing_in(flow: Flow, instance: Mapping[str, Any]) -> list[Step]:
    return where_it_stands({key: node.raw for key, node in flow.nodes.items()}, instance)
