"""Listing records: filtered, searched, sorted, paged by cursor, with a bounded total."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Text, cast, column, func, literal, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform.context import RequestContext
from opsloom.platform.errors import BadRequest, FieldError
from opsloom.platform.http import decode_json
from opsloom.platform.permissions import FormAccess
from opsloom.runtime.access import eval_context, scope_clause
from opsloom.runtime.conditions import Condition, ascii_lower, fold, parse_condition, template, to_sql
from opsloom.runtime.fields import FieldSpec, unit_of
from opsloom.runtime.forms import CompiledForm, confirm_current, published_probe
from opsloom.runtime.link_titles import expand_links, filter_context, parse_expand
from opsloom.runtime.listing import after_cursor, decode_cursor, encode_cursor, order_by, parse_limit, parse_sort
from opsloom.runtime.records.read import attach_rows, live

MAX_GROUPS = 500
MAX_SHAPES = 64  # the list statements a form keeps, by shape (see `_reused`)
SHAPES = "list_shapes"  # their key in the form's statements
TOTAL = "_opsloom_total"  # the page's column that carries the count
COUNT = func.count()  # count(*), built once: every list with its total names it


@dataclass(frozen=True)
class ListRequest:
    filter: str | None = None
    sort: str | None = None
    limit: str | None = None
    cursor: str | None = None
    q: str | None = None
    count: str | None = None
    expand: str | None = None
    with_rows: bool = True  # subform rows; a page that shows no subform columns skips loading them
    group: str | None = None  # an option or person field: rows sorted by it first, and each value counted


async def list_records(
    session: AsyncSession,
    form: CompiledForm,
    ctx: RequestContext,
    request: ListRequest,
    access: FormAccess,
    *,
    exact_count_limit: int = 10_000,
    probe: bool = False,
) -> dict[str, Any]:
    access.require("read")
    full, form = form, form.restricted(access.hidden)
    scope = access.scope("read")
    condition = _parse_filter(request.filter, form) if request.filter else None
    title = _searched_title(request.q, form) if request.q else None
    group = _group_spec(request.group, form)
    keys = parse_sort(_grouped_sort(group.key, request.sort) if group else request.sort, form)
    limit = parse_limit(request.limit)
    after = after_cursor(keys, decode_cursor(request.cursor, keys, request.filter), form) if request.cursor else None
    counted = request.count != "none"
    cap = None if request.count == "exact" else exact_count_limit
    # A list that differs from one asked before only in the values its filter compares, and those of
    # its cursor, reuses the statements built for that one (`shape`), sent with its own values
    # (`values`). Not a search or a grouping, nor under a role's own conditions (they name the user).
    reusable = title is None and group is None and not scope.conditions
    plan = template(condition) if reusable and condition is not None else None
    shape: tuple[Any, ...] | None = None
    values: dict[str, Any] = {}
    if reusable and (condition is None or plan is not None):
        cursor = after and after.shape
        shape = (access.hidden, scope, plan and plan.shape, cursor, request.sort, limit, counted, cap, probe)
    if shape is not None and plan is not None:
        condition, values = plan.condition, plan.values
        evaluation = eval_context(ctx)  # a plain comparison reads no linked record's title
    elif condition is not None:
        evaluation = await filter_context(session, ctx, form, condition)

    def where() -> list[Any]:
        clauses = [live(form), scope_clause(scope, full, eval_context(ctx))]
        if condition is not None:
            clauses.append(to_sql(condition, form, evaluation))
        if title is not None:
            clauses.append(title)
        return clauses

    rows: Sequence[Any] = []  # tuples in the order of `columns`
    columns: list[str] = []
    if limit:  # `limit=0` asks for the count alone: no page is built, read or sorted

        def page() -> Any:
            clauses = where()
            built = select(form.table, *form.read_columns()).where(*clauses, *([] if after is None else [after.clause]))
            built = built.order_by(*order_by(keys, form)).limit(limit + 1)
            if probe:
                built = built.add_columns(published_probe(full))
            if counted:  # the total rides along with the page: one statement, one round trip
                built = built.add_columns(_count_query(form, clauses, cap).scalar_subquery().label(TOTAL))
            return built

        sent = values if after is None else {**values, **after.values}
        result = await session.execute(_reused(full, ("page", shape), page), sent or None)
        columns, rows = list(result.keys()), result.all()
    # An empty page (nothing matches, or a cursor past the last row) brings neither the count nor the
    # published version with it: one more statement asks for both.
    if rows:
        first = rows[0]._mapping
    elif counted or probe:
        in_place = _reused(full, ("count", shape), lambda: _in_place_of_rows(full, where(), cap, counted, probe))
        first = (await session.execute(in_place, values or None)).mappings().one()
    else:
        first = {}
    if probe:
        confirm_current(full, first)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(keys, rows[-1]._mapping, form, request.filter)
    items = form.dump_rows(rows, columns)
    if request.with_rows:
        await attach_rows(session, form, items)
    await expand_links(session, ctx, form, items, parse_expand(request.expand, form))
    answer: dict[str, Any] = {"items": items, "next_cursor": next_cursor}
    if group is not None:
        answer["groups"] = await _group_counts(session, form, group, where())
    if counted:
        n = first[TOTAL]
        unfiltered = scope.all and not request.filter and not request.q
        answer["total"], answer["total_exact"] = await _bounded_total(session, form, n, cap, unfiltered)
    return answer


def _parse_filter(text: str, form: CompiledForm) -> Condition:
    try:
        document = decode_json(text)
    except ValueError:
        raise BadRequest(
            "The filter is not valid JSON",
            [FieldError("filter", 'send a condition such as {"field": "amount", "op": "gt", "value": 10}')],
        ) from None
    return parse_condition(document, form)


def _searched_title(q: str, form: CompiledForm) -> Any:
    """The condition that the title holds `q` (case-folded), for a search."""
    if "\x00" in q:
        raise BadRequest("The search text holds a NUL character", [FieldError("q", "remove the \\u0000")])
    title_spec = form.by_key.get(form.title_field or "")
    if title_spec is None:  # none, or hidden from this caller
        raise BadRequest("This form has no title field to search", [FieldError("q", "remove q")])
    return ascii_lower(form.column(title_spec)).contains(fold(q), autoescape=True)


def _reused(full: CompiledForm, key: tuple[str, tuple[Any, ...] | None], build: Callable[[], Any]) -> Any:
    """The statement of a list of this shape, built once (the last MAX_SHAPES shapes of a form are
    kept); built anew when the list has none (`key[1]` None: its SQL depends on its values)."""
    if key[1] is None:
        return build()
    kept: dict[Any, Any] = full.statements.setdefault(SHAPES, {})
    statement = kept.get(key)
    if statement is None:
        if len(kept) >= MAX_SHAPES:
            del kept[next(iter(kept))]  # the oldest
        statement = kept[key] = build()
    return statement


def _group_spec(key: str | None, form: CompiledForm) -> FieldSpec | None:
    """The field a list is grouped by, if the caller may see it and it groups (one option, one person)."""
    if not key:
        return None
    spec = form.by_key.get(key.strip())
    if spec is None or not unit_of(spec).groupable:
        raise BadRequest(
            f"Cannot group by '{key}'",
            [FieldError("group", "name a single-choice, person or department field you can see")],
        )
    return spec


def _grouped_sort(group: str, sort: str | None) -> str:
    """The sort with the group field first (keeping its direction when the sort names it already)."""
    parts = [part.strip() for part in (sort or "-id").split(",") if part.strip()]
    mine = [part for part in parts if part.lstrip("-+") == group]
    rest = [part for part in parts if part.lstrip("-+") != group]
    return ",".join((mine or [group]) + rest)


async def _group_counts(
    session: AsyncSession, form: CompiledForm, spec: FieldSpec, where: Sequence[Any]
) -> list[dict[str, Any]]:
    """How many rows (of all pages, within the caller's scope and filter) hold each value of the field."""
    value = form.column(spec)
    rows = await session.execute(
        select(value, COUNT).select_from(form.table).where(*where).group_by(value).limit(MAX_GROUPS)
    )
    return [{"value": form.unit(spec).dump(spec, v) if v is not None else None, "count": n} for v, n in rows]


def _in_place_of_rows(form: CompiledForm, where: Sequence[Any], cap: int | None, counted: bool, probe: bool) -> Any:
    """What an empty page would have carried: the count (if asked for) and the published version."""
    columns = [_count_query(form, where, cap).scalar_subquery().label(TOTAL)] if counted else []
    if probe:
        columns.append(published_probe(form))
    return select(*columns)


def _count_query(form: CompiledForm, where: Sequence[Any], cap: int | None) -> Any:
    """The rows matching `where`, counted exactly, or up to `cap` + 1 so a huge table is not walked.

    Never correlated: set in a page of the same table, it still counts the whole table's matches."""
    t = form.table
    if cap is None:
        return select(COUNT).select_from(t).where(*where).correlate(None)
    bounded = select(t.c.id).where(*where).limit(cap + 1).subquery()
    return select(COUNT).select_from(bounded).correlate(None)


async def _bounded_total(
    session: AsyncSession, form: CompiledForm, n: int, cap: int | None, unfiltered: bool
) -> tuple[int, bool]:
    """The total and whether it is exact: past `cap`, PostgreSQL's estimate of a whole table, else `cap`."""
    if cap is None or n <= cap:
        return n, True
    if session.get_bind().dialect.name == "postgresql" and unfiltered:
        estimate = (
            await session.execute(
                select(func.greatest(cast(func.coalesce(_reltuples(form.table.name), 0), BigInteger()), cap))
            )
        ).scalar_one()
        return int(estimate), False
    return cap, False


def _reltuples(name: str) -> Any:
    """PostgreSQL's own estimate of a table's rows, kept by ANALYZE and autovacuum."""
    pg_class = table("pg_class", column("reltuples"), column("oid"))
    return (
        select(pg_class.c.reltuples)
        .where(pg_class.c.oid == func.to_regclass(cast(literal(name), Text())))
        .scalar_subquery()
    )
