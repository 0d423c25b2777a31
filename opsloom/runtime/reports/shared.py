"""Shared filters of a run (a dashboard's, or the viewer's): a date range, departments, any condition.

They arrive as the run request's body and become condition documents on the
report's source form, so a drill-down carries them as they were applied:

    {"date_range": {"from": "2026-01-01", "to": "2026-03-31"},   # or {"period": "this_month"}
     "department": 3,                                            # or [3, 4], or "current"
     "filter": {"field": "category", "op": "eq", "value": "it"}}
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from opsloom.platform.errors import FieldError, ValidationFailed
from opsloom.runtime.fields import value_unit
from opsloom.runtime.forms import CompiledForm
from opsloom.runtime.reports.plan import ReportPlan

PERIODS = ("today", "this_week", "this_month")
KEYS = ("filter", "date_range", "department")


def _fail(path: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"The shared filter is not valid: {message}", [FieldError(path, message)])


def shared_conditions(
    shared: Any, plan: ReportPlan | None, view: CompiledForm, *, lenient: bool = False
) -> list[tuple[str, Any]]:
    """(JSON path, condition document) of every shared filter in a run request's body.

    The date range applies to the report's date field (`plan`; without one, and for a process view, the
    records' `created_at`). `lenient` (a dashboard's items): a date range the form cannot take is left out."""
    if shared is None:
        return []
    if not isinstance(shared, Mapping):
        raise _fail("$", "send an object with filter, date_range and department (each optional)")
    for key in shared:
        if key not in KEYS:
            raise _fail(key, f"is not a shared filter; use {', '.join(KEYS)}")
    out: list[tuple[str, Any]] = []
    if shared.get("filter") is not None:
        out.append(("filter", shared["filter"]))
    if shared.get("date_range") is not None:
        try:
            out.append(("date_range", _date_range(shared["date_range"], plan, view)))
        except ValidationFailed:
            if not lenient:
                raise
    if shared.get("department") is not None:
        out.append(("department", _department(shared["department"])))
    return out


def _date_range(value: Any, plan: ReportPlan | None, view: CompiledForm) -> Any:
    key = plan.date_field.spec.key if plan is not None and plan.date_field is not None else "created_at"
    spec = view.spec(key)
    if spec is None:
        raise _fail("date_range", f"the report's date field '{key}' is not a field you may see")
    if not isinstance(value, Mapping):
        raise _fail("date_range", 'send {"from": "2026-01-01", "to": "2026-03-31"} or {"period": "this_month"}')
    if "period" in value:
        if value["period"] == "last_n_days":
            return {"field": key, "op": "last_n_days", "value": value.get("days")}
        if value["period"] not in PERIODS:
            raise _fail("date_range.period", f"use one of {', '.join(PERIODS)} or last_n_days with days")
        return {"field": key, "op": value["period"]}
    parts = []
    start, end = _day(value, "from"), _day(value, "to")
    if start is None and end is None:
        raise _fail("date_range", "give from, to (or both) as YYYY-MM-DD, or a period")
    moment = value_unit(spec).temporal == "moment"
    if start is not None:
        parts.append({"field": key, "op": "gte", "value": f"{start}T00:00:00" if moment else start.isoformat()})
    if end is not None:
        if moment:  # up to the end of that day, in the configured zone
            parts.append({"field": key, "op": "lt", "value": f"{end + timedelta(days=1)}T00:00:00"})
        else:
            parts.append({"field": key, "op": "lte", "value": end.isoformat()})
    return parts[0] if len(parts) == 1 else {"and": parts}


def _day(value: Mapping[str, Any], name: str) -> date | None:
    text = value.get(name)
    if text is None:
        return None
    try:
        return date.fromisoformat(str(text))
    except ValueError:
        raise _fail(f"date_range.{name}", f"{text!r} is not a date; write YYYY-MM-DD") from None


def _department(value: Any) -> Any:
    if value == "current":
        return {"field": "department_id", "op": "eq", "value": {"var": "current_user.department_id"}}
    if isinstance(value, int) and not isinstance(value, bool):
        return {"field": "department_id", "op": "eq", "value": value}
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return {"field": "department_id", "op": "in", "value": value}
    raise _fail("department", 'send a department id, a list of ids, or "current"')
