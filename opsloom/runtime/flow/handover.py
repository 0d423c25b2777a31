"""Handing a person's open tasks to someone else, as an administrator does when a colleague leaves.

Each task goes through the flow shell (`instances.hand_over_task`): the instance
is locked, the engine judges, and the timeline and the audit log say that the
administrator handed it over, from whom and to whom. All in the caller's
transaction: either every task moves or none does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.context import RequestContext
from opsloom.runtime.flow import instances
from opsloom.runtime.flow.model import OPEN


async def open_tasks_of(session: AsyncSession, user_id: int) -> list[dict[str, Any]]:
    """The tasks that wait for this person (their turn now, or later), oldest first, with what they are about."""
    t, i = tables.flow_tasks, tables.flow_instances
    rows = await session.execute(
        select(t, i.c.app_key, i.c.form_key, i.c.record_id, i.c.title)
        .join(i, i.c.id == t.c.instance_id)
        .where(t.c.assignee_id == user_id, t.c.state.in_(OPEN), i.c.status == "running")
        .order_by(t.c.id)
    )
    return [
        {
            **instances.task_view(dict(row)),
            "app": row["app_key"],
            "form": row["form_key"],
            "record_id": row["record_id"],
            "title": row["title"],
        }
        for row in rows.mappings().all()
    ]


async def hand_over_open_tasks(
    session: AsyncSession,
    ctx: RequestContext,
    services: instances.Services,
    from_user: int,
    to_user: int,
    comment: str | None = None,
) -> int:
    """Give every open task of `from_user` to `to_user`; answer how many moved."""
    tasks = await open_tasks_of(session, from_user)
    for task in tasks:
        await instances.hand_over_task(session, ctx, services, task["id"], to_user, comment)
    return len(tasks)
