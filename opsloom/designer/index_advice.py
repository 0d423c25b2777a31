"""Indexes the users' saved views need, added by the next publish of the form.

A designer marks a field `"index": true` when they know a list will filter by
it; users then save views that sort and filter by fields nobody thought of.
When the form is published, the views of every user are read, and each field a
view sorts by first, or narrows its rows by (a comparison an index can answer,
directly or inside an `and`), counts one use. The most used fields that have no
index yet get one, listed in the publish plan as a step of its own ("Index
amount: 3 saved views sort or filter by it"), up to `MAX_AUTOMATIC` a form, so
that writes do not pay for an index per whim.

An automatic index is remembered in the form's storage (`indexes`: field ids),
so that the compiled table and later publishes (a conversion rebuilds a field's
column) know it. It stays when the views that asked for it are gone: dropping
and rebuilding indexes as people edit their views would cost more than it saves.
A field removed from the form leaves the list.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.errors import OpsloomError
from opsloom.runtime.conditions import parse_condition
from opsloom.runtime.conditions.ast import AllOf, Compare, Condition, FieldRef
from opsloom.runtime.fields import unit_of
from opsloom.runtime.forms import CompiledForm, indexed
from opsloom.runtime.listing import parse_sort

MAX_AUTOMATIC = 8

# Comparisons an index on the field's column answers: equality, sets and ranges (the date periods are ranges).
NARROWING = frozenset(
    {"eq", "in", "gt", "gte", "lt", "lte", "between", "is_empty", "today", "this_week", "this_month", "last_n_days"}
)
# Columns every form's table indexes already.
SYSTEM_INDEXED = frozenset({"id", "created_at", "updated_at", "owner_id", "department_id", "status"})


async def used_by_views(session: AsyncSession, form: CompiledForm) -> dict[str, int]:
    """Field id -> how many saved views (of any user) sort by it first or narrow their rows by it.

    Each view is read against the published form it was saved for; a view that no longer
    parses (a field removed since) counts for what still does."""
    v = tables.saved_views
    rows = await session.execute(
        select(v.c.sort, v.c.filter).where(v.c.app == form.app, v.c.form == form.key).order_by(v.c.id)
    )
    used: Counter[str] = Counter()
    for sort, filter_text in rows:
        used.update(_fields_of_view(form, sort, filter_text))
    return dict(used)


def _fields_of_view(form: CompiledForm, sort: str | None, filter_text: str | None) -> set[str]:
    fields: set[str] = set()
    if sort:
        with contextlib.suppress(OpsloomError):
            fields.add(parse_sort(sort, form)[0].spec.id)
    if filter_text:
        with contextlib.suppress(OpsloomError, ValueError):
            fields |= _narrowed_by(parse_condition(json.loads(filter_text), form))
    return fields


def _narrowed_by(condition: Condition) -> set[str]:
    """The fields whose comparison alone narrows every row the condition keeps (an `or` or a `not`
    keeps rows no single index finds; a comparison with a subform's rows reads no column of this table)."""
    if isinstance(condition, AllOf):
        return set().union(*(_narrowed_by(item) for item in condition.items))
    if (
        isinstance(condition, Compare)
        and condition.op in NARROWING
        and not isinstance(condition.value, FieldRef)  # one field against another: every row is read
        and not condition.field.raw.get("rows_aggregate")
    ):
        return {condition.field.id}
    return set()


def automatic_indexes(
    new: Mapping[str, Any], storage: Mapping[str, Any], used: Mapping[str, int]
) -> tuple[list[str], list[tuple[str, str, int]]]:
    """The automatic indexes the form keeps (field ids), and those to add: (field id, key, views).

    A field qualifies when its values are one stored column that sorts (not a subform, a
    multiple choice, a value read at read time) and nothing indexes it already."""
    fields = {f["id"]: f for f in new["fields"]}
    kept = [fid for fid in storage.get("indexes", ()) if fid in fields and _indexable(fields[fid])]
    room = MAX_AUTOMATIC - len(kept)
    wanted = sorted(
        (fid for fid, n in used.items() if n > 0 and fid in fields and fid not in kept and _needs_one(fields[fid])),
        key=lambda fid: (-used[fid], fields[fid]["key"]),
    )
    added = [(fid, fields[fid]["key"], used[fid]) for fid in wanted[: max(room, 0)]]
    return kept + [fid for fid, _, _ in added], added


def _needs_one(field: Mapping[str, Any]) -> bool:
    indexed_already = field["key"] in SYSTEM_INDEXED or field.get("unique") or indexed(field)
    return _indexable(field) and not indexed_already


def _indexable(field: Mapping[str, Any]) -> bool:
    unit = unit_of(field)
    return unit.has_column and unit.sortable and not (unit.multiple or unit.read_time or unit.child_rows)
