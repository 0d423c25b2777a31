"""Subform rows: child tables with `parent_id` and `position`, written with their record.

A record's rows travel inside it as a list (`"items": [{...}, {...}]`). On create
every row is new. On update a sent list replaces the stored one: a row with the
`id` of a stored row changes that row (only the fields it sends), a row without
an id is added, a stored row left out is removed, and the list order becomes the
rows' positions. All of it runs in the record's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform.errors import FieldError, ValidationFailed
from opsloom.runtime.forms import CompiledForm

Rows = list[dict[str, Any]]


async def load_rows(
    session: AsyncSession, form: CompiledForm, parent_ids: Iterable[int], keys: Iterable[str] | None = None
) -> dict[str, dict[int, list[Mapping[str, Any]]]]:
    """Stored rows by subform key and parent id, in position order (one query per subform)."""
    ids = list(parent_ids)
    out: dict[str, dict[int, list[Mapping[str, Any]]]] = {}
    for key, child in form.children.items():
        if keys is not None and key not in keys:
            continue
        by_parent: dict[int, list[Mapping[str, Any]]] = {pid: [] for pid in ids}
        if ids:
            t = child.table
            rows = await session.execute(
                select(t).where(t.c.parent_id.in_(ids)).order_by(t.c.parent_id, t.c.position, t.c.id)
            )
            for row in rows.mappings():
                by_parent[row["parent_id"]].append(dict(row))
        out[key] = by_parent
    return out


def stored_values(child: CompiledForm, rows: list[Mapping[str, Any]]) -> Rows:
    """Stored rows as parsed values by field key, each with its `id`."""
    return [{"id": row["id"], **{s.key: row[s.column] for s in child.fields}} for row in rows]


def dump_rows(child: CompiledForm, rows: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [child.dump_row(row) for row in rows]


def merge_rows(child: CompiledForm, sent: Rows, stored: Rows, path: str) -> Rows:
    """The rows as they will be saved: sent rows with an id are laid over the stored row."""
    by_id = {row["id"]: row for row in stored}
    errors: list[FieldError] = []
    merged: Rows = []
    for i, row in enumerate(sent):
        if row["id"] is None:
            merged.append(dict(row))
            continue
        base = by_id.get(row["id"])
        if base is None:
            errors.append(FieldError(f"{path}[{i}].id", f"row {row['id']} is not a row of this record's {child.key}"))
            continue
        merged.append({**base, **row})
    if errors:
        raise ValidationFailed.of(errors)
    return merged


def missing_required(child: CompiledForm, rows: Rows, path: str) -> list[FieldError]:
    """Required fields left empty in changed rows (new rows were checked when parsed)."""
    errors = []
    for i, row in enumerate(rows):
        for spec in child.fields:
            if spec.required and spec.raw.get("visible_when") is None and child.unit(spec).is_empty(row.get(spec.key)):
                errors.append(FieldError(f"{path}[{i}].{spec.key}", "is required"))
    return errors


async def insert_rows(session: AsyncSession, child: CompiledForm, rows_by_parent: list[tuple[int, Rows]]) -> None:
    """Store the rows of new records in one statement; each row gets its new `id`."""
    placed = [(parent_id, position, row) for parent_id, rows in rows_by_parent for position, row in enumerate(rows)]
    if not placed:
        return
    t = child.table
    params = [
        {"parent_id": parent_id, "position": position, **{s.column: row.get(s.key) for s in child.fields}}
        for parent_id, position, row in placed
    ]
    result = await session.execute(insert(t).returning(t.c.id, sort_by_parameter_order=True), params)
    for (_, _, row), new_id in zip(placed, result.scalars().all(), strict=True):
        row["id"] = new_id


def dump_values(child: CompiledForm, rows: Rows) -> list[dict[str, Any]]:
    """Rows held as parsed values -> their JSON, as a read would show them."""
    return [child.dump_row({"id": row["id"], **{s.column: row.get(s.key) for s in child.fields}}) for row in rows]


async def replace_rows(session: AsyncSession, child: CompiledForm, parent_id: int, rows: Rows, stored: Rows) -> Rows:
    """Make the stored rows of one record equal `rows`; return them with their ids."""
    t = child.table
    kept = {row["id"] for row in rows if row["id"] is not None}
    gone = [row["id"] for row in stored if row["id"] not in kept]
    if gone:
        await session.execute(delete(t).where(t.c.parent_id == parent_id, t.c.id.in_(gone)))
    before = {row["id"]: (position, row) for position, row in enumerate(stored)}
    changes = []
    for position, row in enumerate(rows):
        if row["id"] is None:
            continue
        old_position, old = before[row["id"]]
        if old_position != position or any(old.get(s.key) != row.get(s.key) for s in child.fields):
            values = {"position": position, **{s.column: row.get(s.key) for s in child.fields}}
            changes.append({"rid": row["id"], **{f"v_{name}": value for name, value in values.items()}})
    if changes:
        statement = (
            update(t)
            .where(t.c.id == bindparam("rid"), t.c.parent_id == parent_id)
            .values({c.name: bindparam(f"v_{c.name}", type_=c.type) for c in t.c if c.name not in ("id", "parent_id")})
        )
        await session.execute(statement, changes, execution_options={"synchronize_session": False})
    new = [(position, row) for position, row in enumerate(rows) if row["id"] is None]
    if new:
        params = [
            {"parent_id": parent_id, "position": position, **{s.column: row.get(s.key) for s in child.fields}}
            for position, row in new
        ]
        result = await session.execute(insert(t).returning(t.c.id, sort_by_parameter_order=True), params)
        for (_, row), new_id in zip(new, result.scalars().all(), strict=True):
            row["id"] = new_id
    return rows
