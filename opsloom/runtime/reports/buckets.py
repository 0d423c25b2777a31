"""Date buckets of report dimensions: a day, week, month, quarter or year as one text key.

The key is the same on SQLite and PostgreSQL (`2026-12-04`, the Monday of a
week `2026-11-30`, `2026-12`, `2026-Q4`, `2026`) and sorts in time order.
Datetimes fall in the period of the configured zone's wall clock: PostgreSQL
converts with the zone's name; SQLite, which knows no zones, with the zone's
offset at the time of the run. `period(bucket, key)` gives the first day of
the period and the first day after it, which is what a drill-down filters.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import String

BUCKETS = ("day", "week", "month", "quarter", "year")
ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-/]{1,64}")


class date_bucket(FunctionElement[str]):
    """The period key of a date (`moment=False`) or datetime column, as text."""

    type = String()
    inherit_cache = True
    # The period, kind and zone are part of the compiled SQL, so of the statement cache's key.
    _traverse_internals = [
        *FunctionElement._traverse_internals,
        ("bucket", InternalTraversal.dp_string),
        ("moment", InternalTraversal.dp_boolean),
        ("zone", InternalTraversal.dp_string),
        ("offset_minutes", InternalTraversal.dp_plain_obj),
    ]

    def __init__(self, column: Any, bucket: str, *, moment: bool, zone: str, offset_minutes: int) -> None:
        if bucket not in BUCKETS:
            raise ValueError(bucket)
        self.bucket = bucket
        self.moment = moment
        self.zone = zone
        self.offset_minutes = int(offset_minutes)
        super().__init__(column)


_PG_FORMAT = {"day": "YYYY-MM-DD", "week": "YYYY-MM-DD", "month": "YYYY-MM", "quarter": 'YYYY-"Q"Q', "year": "YYYY"}


@compiles(date_bucket, "postgresql")
def _bucket_pg(element: date_bucket, compiler: Any, **kw: Any) -> str:
    x = compiler.process(element.clauses, **kw)
    if element.moment:
        # Inline (a zone name of the settings, checked): the same text in SELECT and GROUP BY, so
        # PostgreSQL sees one expression (two bound parameters would be two).
        zone = compiler.process(_literal(element.zone), **{**kw, "literal_binds": True})
        x = f"(({x}) AT TIME ZONE {zone})"
    if element.bucket == "week":
        x = f"date_trunc('week', {x})"
    return f"to_char({x}, '{_PG_FORMAT[element.bucket]}')"


@compiles(date_bucket)
def _bucket_sqlite(element: date_bucket, compiler: Any, **kw: Any) -> str:
    x = compiler.process(element.clauses, **kw)
    day = f"date({x}, '{element.offset_minutes:+d} minutes')" if element.moment else f"date({x})"
    if element.bucket == "day":
        return day
    if element.bucket == "week":
        return f"date({day}, '-' || ((cast(strftime('%w', {day}) AS INTEGER) + 6) % 7) || ' days')"
    if element.bucket == "month":
        return f"strftime('%Y-%m', {day})"
    if element.bucket == "quarter":
        return f"(strftime('%Y', {day}) || '-Q' || ((cast(strftime('%m', {day}) AS INTEGER) + 2) / 3))"
    return f"strftime('%Y', {day})"


def _literal(value: str) -> Any:
    return literal(value, String())


def zone_name(zone: tzinfo) -> str:
    name = str(getattr(zone, "key", None) or "UTC")
    return name if ZONE_NAME.fullmatch(name) else "UTC"


def offset_minutes(zone: tzinfo, now: datetime) -> int:
    offset = now.astimezone(zone).utcoffset() or timedelta(0)
    return int(offset.total_seconds() // 60)


def period(bucket: str, key: str) -> tuple[date, date]:
    """The first day of the period named `key` and the first day after it."""
    if bucket == "day":
        start = date.fromisoformat(key)
        return start, start + timedelta(days=1)
    if bucket == "week":
        start = date.fromisoformat(key)
        return start, start + timedelta(days=7)
    if bucket == "month":
        year, month = (int(p) for p in key.split("-"))
        return date(year, month, 1), _month_after(year, month)
    if bucket == "quarter":
        year_text, quarter = key.split("-Q")
        year, first = int(year_text), 3 * (int(quarter) - 1) + 1
        return date(year, first, 1), _month_after(year, first + 2)
    year = int(key)
    return date(year, 1, 1), date(year + 1, 1, 1)


def _month_after(year: int, month: int) -> date:
    return date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
