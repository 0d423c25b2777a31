"""Saved views: a user's named filter, sort, columns (chosen, ordered, resized) and grouping for one form's list.

A view belongs to one user and is checked, when saved, against the form as
that user sees it (hidden fields do not exist), with the very parsers the
records API uses, so a view that saves is a view that lists. It is checked
again when applied: a later publish or role change may have made it invalid,
and the list then says so instead of failing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import BadRequest, Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from opsloom.runtime.conditions import parse_condition
from opsloom.runtime.fields import dump_datetime, unit_of
from opsloom.runtime.forms import CompiledForm
from opsloom.runtime.listing import parse_sort

MAX_NAME = 100
MAX_VIEWS = 50
MAX_COLUMNS = 50
DEFAULT_COLUMNS = 6
MIN_WIDTH, MAX_WIDTH = 48, 1200
PROPERTIES = ("name", "filter", "sort", "columns", "widths", "group_by")


@dataclass(frozen=True)
class ViewInput:
    """What a caller asks to save, checked (`check_view`) before it is stored."""

    name: str
    filter: Any = None  # a condition document, or None
    sort: str | None = None
    columns: tuple[str, ...] = ()
    widths: dict[str, int] | None = None  # {field key: pixels}, as the user resized the columns
    group_by: str | None = None  # a single-choice, person or department field


def default_columns(visible: CompiledForm) -> list[str]:
    """The first fields a list shows when nobody chose: subforms are rows, not cells."""
    return [spec.key for spec in visible.fields if unit_of(spec).one_value][:DEFAULT_COLUMNS]


def view_input(payload: Any) -> ViewInput:
    """The JSON body of `POST .../views` as a ViewInput; wrong shapes are 422 with their paths."""
    if not isinstance(payload, dict):
        raise ValidationFailed.of([FieldError("$", 'send {"name": ..., "filter": ..., "sort": ..., "columns": [...]}')])
    problems: list[FieldError] = []
    extra = sorted(set(payload) - set(PROPERTIES))
    problems += [FieldError(key, "is not a property of a view; use " + ", ".join(PROPERTIES)) for key in extra]
    name, sort, columns = payload.get("name"), payload.get("sort"), payload.get("columns", [])
    widths, group_by = payload.get("widths"), payload.get("group_by")
    if widths is not None and not (
        isinstance(widths, dict) and all(isinstance(w, int) and not isinstance(w, bool) for w in widths.values())
    ):
        problems.append(FieldError("widths", 'expected {"field key": pixels, ...}'))
    if group_by is not None and not isinstance(group_by, str):
        problems.append(FieldError("group_by", "expected a field key, or null for no grouping"))
    if not isinstance(name, str):
        problems.append(FieldError("name", "is required: a text of 1 to 100 characters"))
    if sort is not None and not isinstance(sort, str):
        problems.append(FieldError("sort", "expected a text such as '-amount,title'"))
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        problems.append(FieldError("columns", "expected a list of field keys"))
    if problems:
        raise ValidationFailed.of(problems)
    assert isinstance(name, str) and isinstance(columns, list)  # checked above
    return ViewInput(name, payload.get("filter"), sort or None, tuple(columns), widths or None, group_by or None)


def check_view(view: ViewInput, visible: CompiledForm) -> ViewInput:
    """The view, trimmed, if it fits the form as the caller sees it; otherwise 400/422 with paths."""
    name = view.name.strip()
    problems: list[FieldError] = []
    if not 1 <= len(name) <= MAX_NAME:
        problems.append(FieldError("name", f"use 1 to {MAX_NAME} characters"))
    if len(view.columns) > MAX_COLUMNS:
        problems.append(FieldError("columns", f"choose at most {MAX_COLUMNS} columns"))
    for i, key in enumerate(view.columns):
        spec = visible.by_key.get(key)
        if spec is None or not unit_of(spec).one_value:
            problems.append(FieldError(f"columns[{i}]", f"'{key}' is not a field you can show in the list"))
    if len(set(view.columns)) != len(view.columns):
        problems.append(FieldError("columns", "name each field once"))
    for key, width in (view.widths or {}).items():
        spec = visible.by_key.get(key)
        if spec is None or not unit_of(spec).one_value:
            problems.append(FieldError(f"widths.{key}", f"'{key}' is not a field you can show in the list"))
        elif not MIN_WIDTH <= width <= MAX_WIDTH:
            problems.append(FieldError(f"widths.{key}", f"use {MIN_WIDTH} to {MAX_WIDTH} pixels"))
    if view.group_by is not None:
        spec = visible.by_key.get(view.group_by)
        if spec is None or not unit_of(spec).groupable:
            problems.append(FieldError("group_by", "name a single-choice, person or department field you can see"))
    if problems:
        raise ValidationFailed.of(problems)
    if view.filter is not None:
        parse_condition(view.filter, visible)  # BadRequest with paths such as filter.and[1].op
    sort = view.sort.strip() if view.sort else None
    if sort:
        parse_sort(sort, visible)
    columns = view.columns or tuple(default_columns(visible))
    return ViewInput(name, view.filter, sort, columns, view.widths, view.group_by)


def _as_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "filter": json.loads(row.filter) if row.filter else None,
        "sort": row.sort,
        "columns": list(row.columns or []),
        "widths": dict(row.widths or {}),
        "group_by": row.group_by,
        "created_at": dump_datetime(row.created_at),
    }


def _mine(user_id: int | None, app: str, form: str) -> list[Any]:
    v = tables.saved_views
    return [v.c.user_id == user_id, v.c.app == app, v.c.form == form]


async def list_views(session: AsyncSession, user_id: int | None, app: str, form: str) -> list[dict[str, Any]]:
    v = tables.saved_views
    rows = await session.execute(select(v).where(*_mine(user_id, app, form)).order_by(v.c.name, v.c.id))
    return [_as_json(row) for row in rows]


async def get_view(session: AsyncSession, user_id: int | None, app: str, form: str, view_id: int) -> dict[str, Any]:
    """One of the user's views; someone else's view does not exist for them (404)."""
    v = tables.saved_views
    row = (await session.execute(select(v).where(*_mine(user_id, app, form), v.c.id == view_id))).first()
    if row is None:
        raise NotFound(f"You have no saved view {view_id} of {form}")
    return _as_json(row)


async def create_view(
    session: AsyncSession, ctx: RequestContext, app: str, visible: CompiledForm, view: ViewInput
) -> dict[str, Any]:
    user_id = ctx.principal.user_id
    if user_id is None:
        raise BadRequest("Only a user can save views", [FieldError("$", "log in as a user")])
    if not ctx.principal.can_write:
        raise PermissionDenied("This token may only read; saving a view is a change")
    view = check_view(view, visible)
    v = tables.saved_views
    mine = _mine(user_id, app, visible.key)
    count = (await session.execute(select(func.count()).select_from(v).where(*mine))).scalar_one()
    if count >= MAX_VIEWS:
        raise Conflict(
            f"You already have {MAX_VIEWS} views of this form",
            [FieldError("name", f"delete a view first; at most {MAX_VIEWS} per form")],
        )
    if (await session.execute(select(v.c.id).where(*mine, v.c.name == view.name))).first():
        raise _taken(view.name)
    values = {"user_id": user_id, "app": app, "form": visible.key, **_stored(view), "created_at": ctx.now}
    try:
        async with session.begin_nested():  # two saves of one name at once: the second is told, not a 500
            new_id = (await session.execute(insert(v).values(**values).returning(v.c.id))).scalar_one()
    except IntegrityError:
        raise _taken(view.name) from None
    return await get_view(session, user_id, app, visible.key, new_id)


async def update_view(
    session: AsyncSession, ctx: RequestContext, app: str, visible: CompiledForm, view_id: int, payload: Any
) -> dict[str, Any]:
    """Rename a view, or change its filter, sort, columns, widths or grouping; what the body leaves out stays."""
    user_id = ctx.principal.user_id
    if not ctx.principal.can_write:
        raise PermissionDenied("This token may only read; changing a view is a change")
    current = await get_view(session, user_id, app, visible.key, view_id)
    if not isinstance(payload, dict):
        raise ValidationFailed.of([FieldError("$", 'send the parts to change, e.g. {"name": "Big requests"}')])
    kept = {key: current[key] for key in PROPERTIES}
    view = check_view(view_input({**kept, **payload}), visible)
    v = tables.saved_views
    mine = _mine(user_id, app, visible.key)
    if (await session.execute(select(v.c.id).where(*mine, v.c.name == view.name, v.c.id != view_id))).first():
        raise _taken(view.name)
    try:
        async with session.begin_nested():
            await session.execute(update(v).where(*mine, v.c.id == view_id).values(**_stored(view)))
    except IntegrityError:
        raise _taken(view.name) from None
    return await get_view(session, user_id, app, visible.key, view_id)


def _stored(view: ViewInput) -> dict[str, Any]:
    """A checked view as the columns of its row."""
    return {
        "name": view.name,
        "filter": json.dumps(view.filter, ensure_ascii=False, default=str) if view.filter is not None else None,
        "sort": view.sort,
        "columns": list(view.columns),
        "widths": dict(view.widths) if view.widths else None,
        "group_by": view.group_by,
    }


def _taken(name: str) -> Conflict:
    return Conflict(
        f"You already have a view named '{name}'",
        [FieldError("name", "choose another name, or delete the old view first")],
    )


async def delete_view(session: AsyncSession, ctx: RequestContext, app: str, form: str, view_id: int) -> None:
    user_id = ctx.principal.user_id
    if not ctx.principal.can_write:
        raise PermissionDenied("This token may only read; deleting a view is a change")
    await get_view(session, user_id, app, form, view_id)
    v = tables.saved_views
    await session.execute(delete(v).where(*_mine(user_id, app, form), v.c.id == view_id))
