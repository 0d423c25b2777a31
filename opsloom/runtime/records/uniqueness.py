"""Unique fields: a value that another live record already holds is refused with a 409 that
names the field (its path in the request) and, when the caller may read it, the record that
holds the value.

A write checks first (`check_unique`), so the usual clash is answered before anything is
written. Two writes of one value at the same moment may both pass that check; the unique
index (on live records) then refuses the second when the first commits. On PostgreSQL the
statement that stores the values runs in a savepoint (`store`), so that after the refusal
the check runs again, sees the record that won, and names it. SQLite runs one writer at a
time (BEGIN IMMEDIATE): there the check always sees the other record.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Result
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform.context import RequestContext
from opsloom.platform.errors import Conflict, FieldError
from opsloom.platform.permissions import FormAccess
from opsloom.runtime.access import eval_context, scope_clause
from opsloom.runtime.forms import CompiledForm
from opsloom.runtime.records.read import live


async def check_unique(
    session: AsyncSession,
    form: CompiledForm,
    rows: list[dict[str, Any]],
    paths: list[str],
    exclude_id: int | None = None,
    readable: Any = None,
    *,
    own_ids: Sequence[int | None] | None = None,
) -> None:
    """Name the field, and the record that already holds a unique value if the caller may read it.

    A row's own record (`exclude_id`, or per row `own_ids` in a batch of updates) does not count.
    The holders of a field's values are found together, a few hundred values a query."""
    errors: list[FieldError] = []
    t = form.table
    owners = list(own_ids) if own_ids is not None else [exclude_id] * len(rows)
    for spec in form.fields:
        if not spec.unique:
            continue
        seen: dict[Any, str] = {}
        wanted: list[tuple[Any, str, int | None]] = []
        for values, path, own in zip(rows, paths, owners, strict=True):
            value = values.get(spec.key)
            if value is None:
                continue
            if value in seen:
                errors.append(FieldError(f"{path}{spec.key}", f"repeats the value of {seen[value]}{spec.key}"))
                continue
            seen[value] = path
            wanted.append((value, path, own))
        column = form.column(spec)
        holders: dict[Any, list[int]] = {}
        values_wanted = [value for value, _, _ in wanted]
        for start in range(0, len(values_wanted), 500):
            found = await session.execute(
                select(column, t.c.id).where(column.in_(values_wanted[start : start + 500]), live(form))
            )
            for value, holder in found.all():
                holders.setdefault(value, []).append(holder)
        for value, path, own in wanted:
            holder = next((h for h in holders.get(value, ()) if h != own), None)
            if holder is None:
                continue
            shown = (
                readable is None or (await session.execute(select(t.c.id).where(t.c.id == holder, readable))).first()
            )
            who = f"record {holder}" if shown else "another record"
            errors.append(
                FieldError(
                    f"{path}{spec.key}", f"must be unique; {who} already has {form.dump_value(spec.key, value)!r}"
                )
            )
    if errors:
        raise Conflict(errors[0].message if len(errors) == 1 else "Some values must be unique", errors)


def readable(form: CompiledForm, ctx: RequestContext, access: FormAccess) -> Any:
    """The caller's read scope as SQL: errors may name only records the caller can read."""
    return scope_clause(access.scope("read"), form, eval_context(ctx))


def conflict(form: CompiledForm, error: IntegrityError) -> Conflict:
    text = str(error.orig)
    for spec in form.fields:
        if spec.unique and spec.column in text:
            return Conflict(
                f"{spec.key} must be unique; another record took this value just now",
                [FieldError(spec.key, "must be unique")],
            )
    return Conflict("The change conflicts with another record; reload and try again")


async def store(
    session: AsyncSession,
    form: CompiledForm,
    statement: Any,
    params: Any,
    *,
    rows: list[dict[str, Any]],
    paths: list[str],
    ctx: RequestContext,
    access: FormAccess | None,
    exclude_id: int | None = None,
) -> Result[Any]:
    """Run the statement that stores the `rows` (an insert or an update); a unique value taken
    meanwhile by another write is a 409 naming the field and the record that took it."""
    racing = session.get_bind().dialect.name == "postgresql" and any(spec.unique for spec in form.fields)
    if not racing:
        try:
            return await session.execute(statement, params)
        except IntegrityError as error:
            raise conflict(form, error) from None
    savepoint = await session.begin_nested()
    try:
        result = await session.execute(statement, params)
    except IntegrityError as error:
        await savepoint.rollback()
        scope = None if access is None else readable(form, ctx, access)
        await check_unique(session, form, rows, paths, exclude_id=exclude_id, readable=scope)
        raise conflict(form, error) from None  # the other record is gone again: say what is known
    await savepoint.commit()
    return result
