"""Autonumber fields: `PR-{YYYY}{MM}-{seq:4}`, gap-free per period, safe under concurrency.

Tokens: {YYYY} {YY} {MM} {DD} (the creation date in the configured zone),
{seq:N} (the counter, zero-padded to N digits) and {field_key} (a value of the
record). The counter restarts each period: `reset` is year, month, day or
never; by default the finest date token of the pattern decides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import tables

TOKEN = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::(\d{1,2}))?\}")
DATE_TOKENS = ("YYYY", "YY", "MM", "DD")


def pattern_problems(pattern: str, field_keys: set[str]) -> list[str]:
    problems = []
    tokens = TOKEN.findall(pattern)
    if not any(name == "seq" for name, _ in tokens):
        problems.append("the pattern needs a {seq} or {seq:N} token for the running number")
    for name, width in tokens:
        if name == "seq":
            if width and not 1 <= int(width) <= 12:
                problems.append("{seq:N} pads to at most 12 digits")
        elif name not in DATE_TOKENS and name not in field_keys:
            problems.append(f"{{{name}}} is neither a date token ({', '.join(DATE_TOKENS)}) nor a field of this form")
    return problems


def reset_of(spec_raw: Mapping[str, Any]) -> str:
    if spec_raw.get("reset"):
        return spec_raw["reset"]
    pattern = spec_raw["pattern"]
    for token, reset in (("{DD}", "day"), ("{MM}", "month"), ("{YYYY}", "year"), ("{YY}", "year")):
        if token in pattern:
            return reset
    return "never"


def period_of(reset: str, moment: datetime, zone: tzinfo) -> str:
    local = moment.astimezone(zone)
    return {
        "day": local.strftime("%Y-%m-%d"),
        "month": local.strftime("%Y-%m"),
        "year": local.strftime("%Y"),
    }.get(reset, "-")


def render(pattern: str, seq: int, moment: datetime, zone: tzinfo, values: Mapping[str, Any]) -> str:
    local = moment.astimezone(zone)

    def token(match: re.Match[str]) -> str:
        name, width = match.group(1), match.group(2)
        if name == "seq":
            return str(seq).zfill(int(width or 1))
        if name == "YYYY":
            return f"{local.year:04d}"
        if name == "YY":
            return f"{local.year % 100:02d}"
        if name == "MM":
            return f"{local.month:02d}"
        if name == "DD":
            return f"{local.day:02d}"
        value = values.get(name)
        return "" if value is None else str(value)

    return TOKEN.sub(token, pattern)


async def take_numbers(session: AsyncSession, form_id: int, field_id: str, period: str, count: int) -> range:
    """Take the next `count` numbers of a counter, in one statement.

    The counter's row stays locked until the transaction ends (that is what makes the
    numbers gap-free), so every other create of the form waits here: take numbers as
    the last step of a write, just before it commits."""
    s = tables.sequences
    bump = (
        update(s)
        .where(s.c.form_id == form_id, s.c.field_id == field_id, s.c.period == period)
        .values(value=s.c.value + count)
        .returning(s.c.value)
    )
    last = (await session.execute(bump)).scalar()
    if last is None:  # the first number of the period: make its counter (once, if two race) and take from it
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        await session.execute(
            insert(s).values(form_id=form_id, field_id=field_id, period=period, value=0).on_conflict_do_nothing()
        )
        last = (await session.execute(bump)).scalar_one()
    return range(last - count + 1, last + 1)
