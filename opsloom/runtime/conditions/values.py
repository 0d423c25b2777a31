"""What SQL and Python share when they judge a condition: a compared value resolved
against the context (variables, local times), the days a period covers, ASCII case folding."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from opsloom.runtime.conditions.ast import EvalContext, LocalTime, Var
from opsloom.runtime.fields import FieldSpec, FieldType, Invalid, value_unit

ASCII_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ASCII_FOLD = str.maketrans(ASCII_UPPER, ASCII_UPPER.lower())


def fold(text: str) -> str:
    return text.translate(_ASCII_FOLD)


def day_range(op: str, value: Any, ctx: EvalContext) -> tuple[date, date]:
    """The local days [first, last] that today/this_week/this_month/last_n_days cover."""
    today = ctx.today
    if op == "today":
        return today, today
    if op == "this_week":
        start = today - timedelta(days=today.weekday())
        return start, start + timedelta(days=6)
    if op == "this_month":
        start = today.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        return start, following - timedelta(days=1)
    return today - timedelta(days=value - 1), today  # last_n_days, today included


def moment_bounds(first: date, last: date, zone: tzinfo) -> tuple[datetime, datetime]:
    start = datetime.combine(first, time.min, zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, zone).astimezone(UTC)
    return start, end


def resolve(spec: FieldSpec, value: Any, ctx: EvalContext) -> Any:
    if isinstance(value, tuple):
        return tuple(resolve(spec, v, ctx) for v in value)
    if isinstance(value, LocalTime):
        return value.moment.replace(tzinfo=ctx.zone).astimezone(UTC)
    if not isinstance(value, Var):
        return value
    resolved = ctx.variable(value.name)
    if resolved is None:
        return None
    unit = item_unit(spec)
    if unit.temporal == "moment" and isinstance(resolved, date) and not isinstance(resolved, datetime):
        return datetime.combine(resolved, time.min, ctx.zone).astimezone(UTC)
    if unit.temporal == "date" and isinstance(resolved, datetime):
        return resolved.astimezone(ctx.zone).date()
    try:
        return unit.parse(spec, resolved, ctx.zone)
    except Invalid:
        return None


def item_unit(spec: FieldSpec) -> FieldType:
    """The unit a compared value is parsed by: one item of a list (an option, a person), else the field's."""
    unit = value_unit(spec)
    return unit.element(spec)
