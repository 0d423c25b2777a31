"""SQL and Python select the same records for every condition, on SQLite and PostgreSQL.

The database and the table are made once per database; each hypothesis example
inserts its records in a transaction, asks both evaluators every condition,
and rolls back.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from opsloom.platform.database import Database
from opsloom.runtime.conditions import EvalContext, evaluate, parse_condition, to_sql
from opsloom.runtime.fields import FIELD_TYPES
from opsloom.runtime.forms import CompiledForm, compile_form
from tests.databases import database
from tests.strategies import condition_trees

OPTIONS = ("a", "b", "C", "É'%")
FIELDS = {
    "title": "text",
    "qty": "integer",
    "amount": "decimal",
    "done": "boolean",
    "due": "date",
    "at": "datetime",
    "kind": "select",
    "tags": "multiselect",
}
RULES: dict[str, dict[str, Any]] = {
    "amount": {"precision": 12, "scale": 2},
    "kind": {"options": [{"value": o, "label": o} for o in OPTIONS]},
    "tags": {"options": [{"value": o, "label": o} for o in OPTIONS]},
}
FORM = compile_form(
    "agree",
    {
        "key": "item",
        "fields": [
            {"id": f"fld_{key}", "key": key, "type": type_, **RULES.get(key, {})} for key, type_ in FIELDS.items()
        ],
    },
    form_id=1,
    version=1,
    storage={"table": "agree__item", "columns": {f"fld_{key}": key for key in FIELDS}},
)
SPECS = {spec.key: spec for spec in FORM.fields}
STAMP = datetime(2026, 1, 1, tzinfo=UTC)

ZONES = (UTC, ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York"))
NOWS = (
    datetime(2026, 1, 31, 16, 30, tzinfo=UTC),  # already 1 February in Shanghai
    datetime(2024, 2, 29, 15, 59, 59, 999999, tzinfo=UTC),  # leap day, a moment before midnight
    datetime(2025, 12, 28, 20, 0, tzinfo=UTC),  # Sunday in UTC, Monday in Shanghai
    datetime(2026, 3, 8, 6, 59, tzinfo=UTC),  # New York moves its clocks that morning
    datetime(2026, 6, 15, 12, 0, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
)
USER = {"id": 7, "department_id": 3, "email": "a"}
VARIABLES = ("today", "now", "current_user.id", "current_user.email")
TRICKY = "aAbBzZ%_\\'/. \téÉßİıſK中😀"
# Texts that records and conditions share, so that eq, in and contains find matches.
WORDS = ("a", "Ab", "a_b", "50%", "o'neil", "back\\slash", "x/y", "École", "straße", "İı", "中文", "😀z")


# ------------------------------------------------------------ databases


@dataclass
class Backend:
    runner: asyncio.Runner
    connection: AsyncConnection


@contextmanager
def open_backend(form: CompiledForm, name: str, directory: Path) -> Iterator[Backend]:
    """A fresh database (`name`: sqlite or postgresql) holding `form`'s table, and a connection to it."""
    with database(name, directory) as url, asyncio.Runner() as runner:
        db = Database(url)

        async def open_connection() -> AsyncConnection:
            async with db.engine.begin() as connection:
                await connection.run_sync(form.table.create)
            return await db.engine.connect()

        connection = runner.run(open_connection())
        try:
            yield Backend(runner, connection)
        finally:
            runner.run(connection.close())
            runner.run(db.dispose())


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[Backend]:
    with open_backend(FORM, request.param, tmp_path_factory.mktemp("agree")) as opened:
        yield opened


# ----------------------------------------------------------- strategies


def _parse(key: str, raw: Any) -> Any:
    return FIELD_TYPES[FIELDS[key]].parse(SPECS[key], raw)


def _word() -> st.SearchStrategy[str]:
    chars = st.sampled_from(TRICKY) | st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
    return st.text(chars, max_size=6)


CASES = st.sampled_from([str, str.upper, str.lower, str.swapcase])
TEXTS = st.one_of(
    st.tuples(st.sampled_from(WORDS), CASES).map(lambda t: t[1](t[0])),
    st.tuples(st.sampled_from(WORDS), CASES, st.integers(0, 3), st.integers(1, 3)).map(
        lambda t: t[1](t[0])[t[2] : t[2] + t[3]]
    ),
    st.tuples(st.sampled_from(WORDS), st.sampled_from(WORDS)).map("".join),
    _word(),
)
INTEGERS = st.sampled_from([0, 1, -1, 2**31, -(2**31), 2**63 - 1, -(2**63 - 1)]) | st.integers(-20, 20)
DECIMALS = (
    st.sampled_from(
        [Decimal(x) for x in ("0.00", "-0.00", "0.01", "-0.01", "0.5", "1", "9999999999.99")]
        + [Decimal("-9999999999.99")]
    )
    | st.decimals(-100, 100, places=2)
    | st.decimals(Decimal("-9999999999.99"), Decimal("9999999999.99"), places=2)
)
VARIABLE = st.sampled_from(VARIABLES).map(lambda name: {"var": name})


@dataclass(frozen=True)
class Values:
    """What records and conditions are made of, for one clock: built once, drawn often."""

    now: datetime
    zone: Any

    @functools.cached_property
    def ctx(self) -> EvalContext:
        return EvalContext(now=self.now, zone=self.zone, user=USER)

    @functools.cached_property
    def dates(self) -> st.SearchStrategy[date]:
        today = self.ctx.today
        near = st.integers(-45, 45).map(lambda days: today + timedelta(days=days))
        return near | st.dates(date(2000, 1, 1), date(2035, 12, 31))

    @functools.cached_property
    def moments(self) -> st.SearchStrategy[datetime]:
        today, zone = self.ctx.today, self.zone

        def local_midnight(days: int) -> datetime:
            return datetime.combine(today + timedelta(days=days), time.min, zone).astimezone(UTC)

        anchor = st.integers(-45, 45).map(local_midnight) | st.just(self.now)
        tiny = st.sampled_from([0, 1, -1, 10**6, -(10**6), 3600 * 10**6, -3600 * 10**6])
        shift = tiny.map(lambda us: timedelta(microseconds=us)) | st.integers(-3 * 86400, 3 * 86400).map(
            lambda s: timedelta(seconds=s)
        )
        near = st.tuples(anchor, shift).map(lambda t: t[0] + t[1])
        anywhere = st.datetimes(datetime(2000, 1, 1), datetime(2035, 12, 31), timezones=st.just(UTC))
        return near | anywhere

    def stored(self, key: str) -> st.SearchStrategy[Any]:
        """A parsed value of the field, as a record holds it."""
        type_ = FIELDS[key]
        if type_ == "text":
            value: st.SearchStrategy[Any] = TEXTS.map(lambda s: _parse(key, s))
        elif type_ == "integer":
            value = INTEGERS
        elif type_ == "decimal":
            value = DECIMALS.map(lambda d: _parse(key, d))
        elif type_ == "boolean":
            value = st.booleans()
        elif type_ == "date":
            value = self.dates
        elif type_ == "datetime":
            value = self.moments
        elif type_ == "select":
            value = st.sampled_from(OPTIONS)
        else:
            value = st.lists(st.sampled_from(OPTIONS), unique=True).map(lambda v: _parse(key, v))
        return st.none() | value

    @functools.cached_property
    def record(self) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries({key: self.stored(key) for key in FIELDS})

    def raw(self, key: str) -> st.SearchStrategy[Any]:
        """A JSON value of the field as a condition document may write it."""
        type_ = FIELDS[key]
        if type_ == "text":
            return TEXTS
        if type_ == "integer":
            small = st.integers(-20, 20)
            return INTEGERS | INTEGERS.map(str) | small.map(float) | small.map(lambda n: f" {n} ")
        if type_ == "decimal":
            return st.tuples(DECIMALS, st.integers(0, 4)).map(lambda t: _decimal_json(*t))
        if type_ == "boolean":
            return st.booleans()
        if type_ == "date":
            return self.dates.map(date.isoformat)
        if type_ == "datetime":
            return st.tuples(self.moments, st.sampled_from(ZONES), st.booleans()).map(
                lambda t: t[0].replace(tzinfo=None).isoformat() if t[2] else t[0].astimezone(t[1]).isoformat()
            )
        if type_ == "select":
            return st.sampled_from((*OPTIONS, ""))
        return st.sampled_from(OPTIONS)

    def compare(self, key: str, op: str) -> st.SearchStrategy[dict[str, Any]]:
        operand = st.one_of(self.raw(key), self.raw(key), self.raw(key), VARIABLE)
        if op in ("is_empty", "not_empty", "today", "this_week", "this_month"):
            return st.sampled_from([{"field": key, "op": op}, {"field": key, "op": op, "value": None}])
        if op == "last_n_days":
            value: st.SearchStrategy[Any] = st.integers(1, 50) | st.just(36600)
        elif op in ("in", "not_in"):
            value = st.lists(operand, max_size=4)
        elif op == "between":
            value = st.lists(operand, min_size=2, max_size=2)
        elif op in ("contains", "starts_with") and FIELDS[key] == "text":
            value = TEXTS.map(lambda s: s or "_")
        elif op in ("eq", "ne"):
            value = st.none() | operand
        else:
            value = operand
        return value.map(lambda v: {"field": key, "op": op, "value": v})

    @functools.cached_property
    def condition(self) -> st.SearchStrategy[dict[str, Any]]:
        leaf = st.one_of(
            *(
                self.compare(key, op)
                for key, type_ in FIELDS.items()
                for op in sorted(FIELD_TYPES[type_].operators_for(SPECS[key]) | {"is_empty", "not_empty"})
            )
        )
        return condition_trees(leaf, max_leaves=6)


def _decimal_json(number: Decimal, style: int) -> Any:
    """The same decimal written as JSON may write it: text, padded, 1E+2, a number."""
    if style == 1:
        return f" {number} "
    if style == 2:
        return str(number.normalize())
    if style == 3:
        return float(number)
    if style == 4 and number == int(number):
        return int(number)
    return str(number)


VALUES = [Values(now, zone) for now in NOWS for zone in ZONES]


@dataclass(frozen=True)
class Scenario:
    ctx: EvalContext
    records: list[dict[str, Any]]
    conditions: list[dict[str, Any]]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    values = draw(st.sampled_from(VALUES))
    records = draw(st.lists(values.record, max_size=10))
    conditions = draw(st.lists(values.condition, min_size=1, max_size=6))
    return Scenario(values.ctx, records, conditions)


# ----------------------------------------------------------------- test


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenario=scenarios())
def test_sql_and_python_select_the_same_records(backend: Backend, scenario: Scenario) -> None:
    backend.runner.run(_check(backend.connection, scenario))


async def _check(connection: AsyncConnection, scenario: Scenario) -> None:
    table, ctx = FORM.table, scenario.ctx
    records = dict(enumerate(scenario.records, start=1))
    transaction = await connection.begin()
    try:
        if records:
            await connection.execute(
                table.insert(),
                [{"id": id_, "created_at": STAMP, "updated_at": STAMP, **record} for id_, record in records.items()],
            )
        stored = (await connection.execute(select(table).order_by(table.c.id))).mappings()
        assert {row["id"]: {key: row[key] for key in FIELDS} for row in stored} == records
        for document in scenario.conditions:
            condition = parse_condition(document, FORM)
            query = select(table.c.id).where(to_sql(condition, FORM, ctx))
            in_sql = set((await connection.execute(query)).scalars())
            in_python = {id_ for id_, record in records.items() if evaluate(condition, record, ctx)}
            assert in_sql == in_python, _explain(document, ctx, records, in_sql, in_python, query)
    finally:
        await transaction.rollback()


def _explain(
    document: Any,
    ctx: EvalContext,
    records: dict[int, dict[str, Any]],
    in_sql: set[int],
    in_python: set[int],
    query: Any,
) -> str:
    differ = sorted(in_sql ^ in_python)
    lines = [
        f"condition: {json.dumps(document, ensure_ascii=False)}",
        f"now={ctx.now.isoformat()} zone={ctx.zone}",
        f"only SQL: {sorted(in_sql - in_python)}; only Python: {sorted(in_python - in_sql)}",
        *(f"record {id_}: {records[id_]!r}" for id_ in differ),
        f"SQL: {query}",
    ]
    return "\n".join(lines)
