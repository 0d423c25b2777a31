"""Indexes the users' saved views need, added by the next publish of the form.

A designer marks a field `"index": true` when they know a list will filter by
it; users then save views that sort and filter by fields nobody thought of.
When the form is published, the views of every user are read, and each asks
for indexes:

- each field it sorts by first, or narrows its rows by (a comparison an index
  can answer, directly or inside an `and`), asks for an index of its own;
- a view that picks one value of a field (`department = Sales`) and also sorts
  by another (or, sorting by none, narrows a range of one: `amount > 1000`)
  asks for one index of both together, the picked fields first
  (`department, amount`); the record's status and its creation and update
  times count as fields here (`status = approved`, newest first). Such an index finds the view's rows in the order it
  shows them, and counts them without reading the table (each index holds live
  records only), where two single ones would read every row of the department.

The most asked-for indexes that do not exist yet are added, each listed in the
publish plan as a step of its own ("Index amount: 3 saved views sort or filter
by it"), up to `MAX_AUTOMATIC` a form, so that writes do not pay for an index
per whim. A field's own index is not added when an index of two that starts
with it is kept: that one answers the same lists.

An automatic index is remembered in the form's storage (`indexes`: a field id,
or the list of field ids of an index of several, `@status` for a system
column), so that the compiled table
and later publishes (a conversion rebuilds a field's column) know it. It stays
when the views that asked for it are gone: dropping and rebuilding indexes as
people edit their views would cost more than it saves. A field removed from the
form takes its indexes off the list.
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables
from opsloom.platform.errors import OpsloomError
from opsloom.runtime.conditions import parse_condition
from opsloom.runtime.conditions.ast import AllOf, Compare, Condition, FieldRef
from opsloom.runtime.fields import SYSTEM_FIELDS, FieldSpec, unit_of
from opsloom.runtime.forms import SYSTEM_COLUMN, CompiledForm, IndexEntry, indexed
from opsloom.runtime.listing import parse_sort

MAX_AUTOMATIC = 8
# The fields one view picks a value of that an index of several starts with.
MAX_PICKED = 2

# An index the views ask for: the field ids of its columns, in order.
Wanted = tuple[str, ...]

# Comparisons an index on the field's column answers: equality, sets and ranges (the date periods are ranges).
NARROWING = frozenset(
    {"eq", "in", "gt", "gte", "lt", "lte", "between", "is_empty", "today", "this_week", "this_month", "last_n_days"}
)
# Those that pick one value: the rows they keep stand in the order of an index's next column.
PICKING = frozenset({"eq"})
# Columns every form's table indexes already.
SYSTEM_INDEXED = frozenset({"id", "created_at", "updated_at", "owner_id", "department_id", "status"})
# The system columns an index of several may hold (`@status`, `@created_at`): "approved, largest
# first", "Sales's, newest first".
JOINABLE_SYSTEM = frozenset({"status", "created_at", "updated_at"})


async def used_by_views(session: AsyncSession, form: CompiledForm) -> dict[Wanted, int]:
    """Index (its columns' field ids) -> how many saved views (of any user) ask for it.

    Each view is read against the published form it was saved for; a view that no longer
    parses (a field removed since) counts for what still does."""
    v = tables.saved_views
    rows = await session.execute(
        select(v.c.sort, v.c.filter).where(v.c.app == form.app, v.c.form == form.key).order_by(v.c.id)
    )
    used: Counter[Wanted] = Counter()
    for sort, filter_text in rows:
        used.update(_asked_by_view(form, sort, filter_text))
    return dict(used)


def _asked_by_view(form: CompiledForm, sort: str | None, filter_text: str | None) -> set[Wanted]:
    sorted_by: str | None = None
    if sort:
        with contextlib.suppress(OpsloomError):
            sorted_by = _ref(parse_sort(sort, form)[0].spec)
    narrowing: list[Compare] = []
    if filter_text:
        with contextlib.suppress(OpsloomError, ValueError):
            narrowing = _narrowing(parse_condition(json.loads(filter_text), form))
    asked: set[Wanted] = {(ref,) for ref in {_ref(c.field) for c in narrowing} | ({sorted_by} if sorted_by else set())}
    picked = sorted({_ref(c.field) for c in narrowing if c.op in PICKING})[:MAX_PICKED]
    ranged = [ref for c in narrowing if c.op not in PICKING and (ref := _ref(c.field)) not in picked]
    then = sorted_by if sorted_by and sorted_by not in picked else next(iter(ranged), None)
    if picked and then:
        asked.add((*picked, then))
    return asked


def _ref(spec: FieldSpec) -> str:
    """How an index names a column: a field by its id, a system column as `@key`."""
    return SYSTEM_COLUMN + spec.key if spec.key in SYSTEM_FIELDS else spec.id


def _narrowing(condition: Condition) -> list[Compare]:
    """The comparisons that alone narrow every row the condition keeps (an `or` or a `not`
    keeps rows no single index finds; a comparison with a subform's rows reads no column of this table)."""
    if isinstance(condition, AllOf):
        return [c for item in condition.items for c in _narrowing(item)]
    if (
        isinstance(condition, Compare)
        and condition.op in NARROWING
        and not isinstance(condition.value, FieldRef)  # one field against another: every row is read
        and not condition.field.raw.get("rows_aggregate")
    ):
        return [condition]
    return []


def automatic_indexes(
    new: Mapping[str, Any], storage: Mapping[str, Any], used: Mapping[Wanted, int]
) -> tuple[list[IndexEntry], list[tuple[Wanted, int]]]:
    """The automatic indexes the form keeps (as its storage lists them), and those to add:
    (field ids, views).

    Each field of one qualifies when its values are one stored column that sorts (not a subform,
    a multiple choice, a value read at read time). A field's own index is not added when nothing
    needs one (indexed already), nor an index of several that starts with a unique field."""
    fields = {f["id"]: f for f in new["fields"]}
    kept = [entry for entry in storage.get("indexes", ()) if _fits(columns_of(entry), fields)]
    have = {columns_of(entry) for entry in kept}
    candidates = [w for w, n in used.items() if n > 0 and w not in have and _fits(w, fields) and _needs(w, fields)]
    # A field's own index finds nothing that an index of several starting with it does not.
    leading = {w[0] for w in [*have, *candidates] if len(w) > 1}
    candidates = sorted(
        (w for w in candidates if len(w) > 1 or w[0] not in leading),
        key=lambda w: (-used[w], -len(w), [key_of(ref, fields) for ref in w]),
    )
    added = [(w, used[w]) for w in candidates[: max(MAX_AUTOMATIC - len(kept), 0)]]
    return kept + [entry_of(w) for w, _ in added], added


def columns_of(entry: IndexEntry) -> Wanted:
    return (entry,) if isinstance(entry, str) else tuple(entry)


def entry_of(wanted: Sequence[str]) -> IndexEntry:
    """As the storage keeps it: a field's own index by its id (as it always has), one of several as a list."""
    return wanted[0] if len(wanted) == 1 else list(wanted)


def key_of(ref: str, fields: Mapping[str, Mapping[str, Any]]) -> str:
    """The key of an index's column: the field's, or the system column's."""
    return ref.removeprefix(SYSTEM_COLUMN) if ref.startswith(SYSTEM_COLUMN) else str(fields[ref]["key"])


def _fits(wanted: Wanted, fields: Mapping[str, Mapping[str, Any]]) -> bool:
    """Each column can be in an index: a field that sorts, or (in one of several) a system column."""
    return all(
        ref.removeprefix(SYSTEM_COLUMN) in JOINABLE_SYSTEM and len(wanted) > 1
        if ref.startswith(SYSTEM_COLUMN)
        else ref in fields and _indexable(fields[ref])
        for ref in wanted
    )


def _needs(wanted: Wanted, fields: Mapping[str, Mapping[str, Any]]) -> bool:
    if wanted[0].startswith(SYSTEM_COLUMN):
        return len(wanted) > 1  # the system column's own index is there already
    first = fields[wanted[0]]
    if len(wanted) > 1:
        return not first.get("unique")
    return not (first["key"] in SYSTEM_INDEXED or first.get("unique") or indexed(first))


def _indexable(field: Mapping[str, Any]) -> bool:
    unit = unit_of(field)
    return unit.has_column and unit.sortable and not (unit.multiple or unit.read_time or unit.child_rows)
