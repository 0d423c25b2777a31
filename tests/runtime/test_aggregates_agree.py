"""Subform aggregates and `users` fields: SQL and Python select the same records.

The companion of test_conditions_agree.py for conditions that read a record's
subform rows (`{"field": "items.price", "agg": "sum", ...}`) or a list of people
(`{"field": "watchers", "op": "contains", ...}`). Each hypothesis example inserts
records into the parent table and their rows into the child tables, asks both
evaluators every condition, and rolls back.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from opsloom.platform.database import Database
from opsloom.runtime.conditions import EvalContext, evaluate, parse_condition, to_sql
from opsloom.runtime.forms import CompiledForm, compile_form
from tests.databases import database
from tests.runtime.test_conditions_agree import (
    DECIMALS,
    INTEGERS,
    STAMP,
    VALUES,
    VARIABLE,
    Backend,
    _decimal_json,
    _explain,
)
from tests.strategies import condition_trees

# Two subforms, so that an aggregate of one never counts the rows of the other. Rows hold
# drawn values, formula columns too: the evaluators read what is stored, however it came.
ITEMS = {
    "qty": {"type": "integer"},
    "price": {"type": "decimal", "precision": 12, "scale": 2},
    "line": {"type": "formula", "formula": "qty * price", "result": "number", "precision": 14, "scale": 3},
    "note": {"type": "text"},
}
PARTS = {"weight": {"type": "decimal", "precision": 12, "scale": 2}}
SUBFORMS = {"items": ITEMS, "parts": PARTS}
NUMBER_COLUMNS = [(key, column) for key, columns in SUBFORMS.items() for column in columns if column != "note"]
USER_IDS = (1, 2, 3, 7, 999_999_999_999_999_999)  # 7 is the current user, 3 their department


def _subform(key: str, columns: dict[str, dict[str, Any]]) -> dict[str, Any]:
    fields = [{"id": f"fld_{key}_{name}", "key": name, **rules} for name, rules in columns.items()]
    return {"id": f"fld_{key}", "key": key, "type": "subform", "fields": fields}


def _storage(table: str) -> dict[str, Any]:
    return {
        "table": table,
        "columns": {"fld_title": "title", "fld_watchers": "watchers"},
        "subforms": {
            f"fld_{key}": {"table": f"{table}__{key}", "columns": {f"fld_{key}_{c}": c for c in columns}}
            for key, columns in SUBFORMS.items()
        },
    }


FORM: CompiledForm = compile_form(
    "aggr",
    {
        "key": "order",
        "fields": [
            {"id": "fld_title", "key": "title", "type": "text"},
            {"id": "fld_watchers", "key": "watchers", "type": "users"},
            *(_subform(key, columns) for key, columns in SUBFORMS.items()),
        ],
    },
    form_id=1,
    version=1,
    storage=_storage("aggr__order"),
)


# ------------------------------------------------------------ databases


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[Backend]:
    directory: Path = tmp_path_factory.mktemp("aggregates")
    with database(request.param, directory) as url, asyncio.Runner() as runner:
        db = Database(url)

        async def open_connection() -> AsyncConnection:
            async with db.engine.begin() as connection:
                for table in (FORM.table, *(child.table for child in FORM.children.values())):
                    await connection.run_sync(table.create)
            return await db.engine.connect()

        connection = runner.run(open_connection())
        try:
            yield Backend(runner, connection)
        finally:
            runner.run(connection.close())
            runner.run(db.dispose())


# ----------------------------------------------------------- strategies
# Row values come from a small pool as often as from anywhere, so that sums,
# minima and maxima land on the values conditions compare them with.

SMALL_DECIMALS = ("0.10", "0.20", "0.30", "0.60", "1.00", "-0.50", "0.00", "-0.00", "2.50")
SMALL_INTEGERS = st.integers(-3, 6)
# Ways JSON may spell a number as text; Python's int() and Decimal() read any Unicode digit.
ARABIC_INDIC = str.maketrans("0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669")
SPELLINGS = st.sampled_from(
    [str, lambda n: f" {n} ", lambda n: str(n).translate(ARABIC_INDIC), lambda n: f"\x1c{n}\u3000"]
)


def _decimals(scale: int) -> st.SearchStrategy[Decimal]:
    unit = Decimal(1).scaleb(-scale)
    pool = st.sampled_from(SMALL_DECIMALS).map(Decimal)
    return (pool | pool | DECIMALS).map(lambda d: d.quantize(unit))


def _column_value(rules: dict[str, Any]) -> st.SearchStrategy[Any]:
    if rules["type"] == "integer":
        return SMALL_INTEGERS | SMALL_INTEGERS | INTEGERS
    if rules["type"] == "text":
        return st.sampled_from(["x", "y"])
    return _decimals(rules.get("scale", 2))


def _rows(columns: dict[str, dict[str, Any]]) -> st.SearchStrategy[list[dict[str, Any]]]:
    row = st.fixed_dictionaries({name: st.none() | _column_value(rules) for name, rules in columns.items()})
    return st.one_of(st.just([]), st.lists(row, min_size=1, max_size=5))


@functools.cache
def records(user_ids: tuple[int, ...] = USER_IDS) -> st.SearchStrategy[dict[str, Any]]:
    """A record as Python holds it: parsed values, and each subform a list of rows."""
    watchers = st.none() | st.lists(st.sampled_from(user_ids), min_size=1, max_size=3, unique=True)
    return st.fixed_dictionaries(
        {
            "title": st.none() | st.sampled_from(["a", "b"]),
            "watchers": watchers,
            **{key: _rows(columns) for key, columns in SUBFORMS.items()},
        }
    )


def _number_json(rules: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value a condition may compare an aggregate of this column (or a count) with, as JSON."""
    if rules["type"] == "integer":
        small = st.integers(-3, 12)
        spelled = st.tuples(small, SPELLINGS).map(lambda t: t[1](t[0]))
        return small | small | INTEGERS | spelled | small.map(float)
    written = st.tuples(_decimals(rules.get("scale", 2)), st.integers(0, 4)).map(lambda t: _decimal_json(*t))
    return written | written.map(lambda v: v.translate(ARABIC_INDIC) if isinstance(v, str) else v)


def aggregate_condition(agg: str, key: str, rules: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    operand = st.one_of(_number_json(rules), _number_json(rules), _number_json(rules), VARIABLE)
    ops: dict[str, st.SearchStrategy[Any]] = {
        "eq": st.none() | operand,
        "ne": st.none() | operand,
        "in": st.lists(operand, max_size=4),
        "not_in": st.lists(operand, max_size=4),
        "between": st.lists(operand, min_size=2, max_size=2),
        **{op: operand for op in ("gt", "gte", "lt", "lte")},
    }
    return st.sampled_from(sorted(ops)).flatmap(
        lambda op: ops[op].map(lambda v: {"field": key, "agg": agg, "op": op, "value": v})
    )


def users_condition(user_ids: tuple[int, ...]) -> st.SearchStrategy[dict[str, Any]]:
    ids = st.sampled_from(user_ids)
    person = st.one_of(
        ids,
        st.tuples(ids, SPELLINGS).map(lambda t: t[1](t[0])),
        st.sampled_from(["current_user.id", "current_user.department_id", "current_user.email", "today"]).map(
            lambda name: {"var": name}
        ),
    )
    return st.one_of(
        person.map(lambda v: {"field": "watchers", "op": "contains", "value": v}),
        st.sampled_from([{"field": "watchers", "op": op} for op in ("is_empty", "not_empty")]),
    )


@functools.cache
def leaves(user_ids: tuple[int, ...] = USER_IDS) -> st.SearchStrategy[dict[str, Any]]:
    counts = [aggregate_condition("count", key, {"type": "integer"}) for key in SUBFORMS]
    numbers = [
        aggregate_condition(agg, f"{key}.{column}", SUBFORMS[key][column])
        for key, column in NUMBER_COLUMNS
        for agg in ("sum", "min", "max")
    ]
    title = st.sampled_from(["a", "b"]).map(lambda v: {"field": "title", "op": "eq", "value": v})
    return st.one_of(st.one_of(*counts), st.one_of(*numbers), users_condition(user_ids), title)


DOCUMENTS = condition_trees(leaves(), max_leaves=4)


@dataclass(frozen=True)
class Scenario:
    ctx: EvalContext
    records: list[dict[str, Any]]
    conditions: list[dict[str, Any]]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    values = draw(st.sampled_from(VALUES))
    drawn = draw(st.lists(records(), min_size=2, max_size=8))
    documents = draw(st.lists(DOCUMENTS, min_size=3, max_size=8))
    return Scenario(values.ctx, drawn, documents)


def _order(*qty: int | None) -> dict[str, Any]:
    return {"title": None, "watchers": None, "items": [{**dict.fromkeys(ITEMS), "qty": q} for q in qty], "parts": []}


BIG = 2**63 - 1
# Sums past 64 bits (and partial sums that pass it and come back), counts past 32 bits.
BEYOND_64_BITS = Scenario(
    VALUES[0].ctx,
    [_order(BIG, BIG, -5), _order(-BIG, -BIG), _order(BIG, 1), _order(BIG, 1, -2), _order(-BIG, -2, 1), _order()],
    [
        {"field": "items.qty", "agg": "sum", "op": "gt", "value": BIG - 1},
        {"field": "items.qty", "agg": "sum", "op": "eq", "value": BIG - 1},
        {"field": "items.qty", "agg": "sum", "op": "gte", "value": BIG},
        {"field": "items.qty", "agg": "sum", "op": "lt", "value": str(-BIG)},
        {"field": "items.qty", "agg": "sum", "op": "between", "value": [-BIG, BIG]},
        {"field": "items", "agg": "count", "op": "lt", "value": 2**31},
        {"field": "items", "agg": "count", "op": "in", "value": [2**40, 3]},
    ],
)


# ----------------------------------------------------------------- test


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenario=scenarios())
@example(scenario=BEYOND_64_BITS)
def test_sql_and_python_select_the_same_records_by_their_rows(backend: Backend, scenario: Scenario) -> None:
    backend.runner.run(_check(backend.connection, scenario))


async def _check(connection: AsyncConnection, scenario: Scenario) -> None:
    table, ctx = FORM.table, scenario.ctx
    records = dict(enumerate(scenario.records, start=1))
    transaction = await connection.begin()
    try:
        await _insert(connection, records)
        assert await _read_back(connection) == records
        for document in scenario.conditions:
            condition = parse_condition(document, FORM)
            query = select(table.c.id).where(to_sql(condition, FORM, ctx))
            in_sql = set((await connection.execute(query)).scalars())
            in_python = {id_ for id_, record in records.items() if evaluate(condition, record, ctx)}
            assert in_sql == in_python, _explain(document, ctx, records, in_sql, in_python, query)
    finally:
        await transaction.rollback()


async def _insert(connection: AsyncConnection, records: dict[int, dict[str, Any]]) -> None:
    if not records:
        return
    parents = [
        {"id": id_, "created_at": STAMP, "updated_at": STAMP, "title": r["title"], "watchers": r["watchers"]}
        for id_, r in records.items()
    ]
    await connection.execute(FORM.table.insert(), parents)
    for key, child in FORM.children.items():
        rows = [
            {"parent_id": id_, "position": position, **row}
            for id_, record in records.items()
            for position, row in enumerate(record[key])
        ]
        if rows:
            await connection.execute(child.table.insert(), rows)


async def _read_back(connection: AsyncConnection) -> dict[int, dict[str, Any]]:
    """The records as stored, rows included: what the database will aggregate."""
    table = FORM.table
    stored = {
        row["id"]: {"title": row["title"], "watchers": row["watchers"], **{key: [] for key in SUBFORMS}}
        for row in (await connection.execute(select(table).order_by(table.c.id))).mappings()
    }
    for key, child in FORM.children.items():
        t = child.table
        for row in (await connection.execute(select(t).order_by(t.c.parent_id, t.c.position))).mappings():
            stored[row["parent_id"]][key].append({name: row[name] for name in SUBFORMS[key]})
    return stored
