"""SQL and Python select the same records for conditions on rating, percent, rich_text and address
fields, on SQLite and PostgreSQL (the pattern of test_conditions_agree.py, for the types added since)."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from opsloom.runtime.conditions import EvalContext, evaluate, parse_condition, to_sql
from opsloom.runtime.fields import FIELD_TYPES
from opsloom.runtime.forms import compile_form
from tests.runtime.test_conditions_agree import CASES, Backend, open_backend
from tests.strategies import condition_trees

FIELDS = {"stars": "rating", "share": "percent", "body": "rich_text", "place": "address"}
FORM = compile_form(
    "agree",
    {"key": "more", "fields": [{"id": f"fld_{key}", "key": key, "type": type_} for key, type_ in FIELDS.items()]},
    form_id=1,
    version=1,
    storage={"table": "agree__more", "columns": {f"fld_{key}": key for key in FIELDS}},
)
SPECS = {spec.key: spec for spec in FORM.fields}
STAMP = datetime(2026, 1, 1, tzinfo=UTC)
CTX = EvalContext(now=datetime(2026, 1, 31, 9, 30, tzinfo=UTC), zone=UTC, user={"id": 3, "email": "a"})
# Texts records and conditions share, with what HTML escapes and what LIKE treats as wildcards.
WORDS = ("a", "Ab", "a_b", "50%", "o'neil", 'say "hi"', "Tom & Jerry", "x<y>", "back\\slash", "École", "中文", "😀z")
# What the markup of rich text holds besides its text: searching it finds nothing.
MARKUP = ("strong", "<p>", "</li>", "amp", "&amp;", "lt;", "p>a", "href", "nbsp")


def _parse(key: str, raw: Any) -> Any:
    return FIELD_TYPES[FIELDS[key]].parse(SPECS[key], raw)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[Backend]:
    with open_backend(FORM, request.param, tmp_path_factory.mktemp("agree_more")) as opened:
        yield opened


TEXTS = st.one_of(
    st.tuples(st.sampled_from(WORDS), CASES).map(lambda t: t[1](t[0])),
    st.tuples(st.sampled_from(WORDS), st.integers(0, 3), st.integers(1, 4)).map(lambda t: t[0][t[1] : t[1] + t[2]]),
    st.tuples(st.sampled_from(WORDS), st.sampled_from(WORDS)).map(" ".join),
    st.text(st.sampled_from("aAbB%_\\'&<>\n \"中"), min_size=1, max_size=4),
)
FRACTIONS = st.decimals(Decimal("-2"), Decimal("2"), places=3) | st.sampled_from(
    [Decimal(x) for x in ("0", "0.125", "-0.125", "1", "0.001")]
)
TAGS = st.sampled_from(["p", "li", "strong", "em", "script", "a", "br"])
OPENING = {"a": '<a href="https://example.com/?q=1&r=2" title="Tom & <Jerry>">', "br": "<br>"}


def _markup(parts: list[tuple[str, str]]) -> str:
    return "".join(f"{OPENING.get(tag, f'<{tag}>')}{html.escape(text, quote=False)}</{tag}>" for tag, text in parts)


STORED: dict[str, st.SearchStrategy[Any]] = {
    "stars": st.integers(1, 5),
    "share": FRACTIONS.map(lambda d: _parse("share", d)),
    "body": st.lists(st.tuples(TAGS, st.sampled_from(WORDS)), max_size=3).map(lambda p: _parse("body", _markup(p))),
    "place": st.fixed_dictionaries(
        {part: st.none() | st.sampled_from(WORDS) for part in ("province", "city", "district", "detail")}
    ).map(lambda d: _parse("place", d)),
}
RECORD = st.fixed_dictionaries({key: st.none() | value for key, value in STORED.items()})


def _percent_json(number: Decimal, style: int) -> Any:
    if style == 1:
        return f"{number.scaleb(2).normalize():f}%"
    if style == 2:
        return float(number)
    return str(number)


RAW: dict[str, st.SearchStrategy[Any]] = {
    "stars": st.integers(-1, 7) | st.integers(0, 6).map(str) | st.just({"var": "current_user.id"}),
    "share": st.tuples(FRACTIONS, st.integers(0, 2)).map(lambda t: _percent_json(*t)),
}


def _compare(key: str, op: str) -> st.SearchStrategy[dict[str, Any]]:
    if op in ("is_empty", "not_empty"):
        return st.just({"field": key, "op": op})
    if op == "contains":
        return (TEXTS | st.sampled_from(MARKUP)).map(lambda text: {"field": key, "op": op, "value": text or "_"})
    operand = RAW[key]
    if op in ("in", "not_in"):
        value: st.SearchStrategy[Any] = st.lists(operand, max_size=3)
    elif op == "between":
        value = st.lists(operand, min_size=2, max_size=2)
    elif op in ("eq", "ne"):
        value = st.none() | operand
    else:
        value = operand
    return value.map(lambda v: {"field": key, "op": op, "value": v})


LEAF = st.one_of(
    *(
        _compare(key, op)
        for key, type_ in FIELDS.items()
        for op in sorted(FIELD_TYPES[type_].operators_for(SPECS[key]) | {"is_empty", "not_empty"})
    ),
    st.just({"field": "stars", "op": "lt", "value": {"field": "stars"}}),
)
CONDITION = condition_trees(LEAF, max_leaves=5)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(records=st.lists(RECORD, max_size=8), conditions=st.lists(CONDITION, min_size=1, max_size=5))
def test_sql_and_python_select_the_same_records(
    backend: Backend, records: list[dict[str, Any]], conditions: list[dict[str, Any]]
) -> None:
    backend.runner.run(_check(backend.connection, dict(enumerate(records, start=1)), conditions))


async def _check(connection: AsyncConnection, records: dict[int, dict[str, Any]], conditions: list[Any]) -> None:
    table = FORM.table
    transaction = await connection.begin()
    try:
        if records:
            rows = [{"id": i, "created_at": STAMP, "updated_at": STAMP, **record} for i, record in records.items()]
            await connection.execute(table.insert(), rows)
        stored = (await connection.execute(select(table).order_by(table.c.id))).mappings()
        assert {row["id"]: {key: row[key] for key in FIELDS} for row in stored} == records
        for document in conditions:
            condition = parse_condition(document, FORM)
            query = select(table.c.id).where(to_sql(condition, FORM, CTX))
            in_sql = set((await connection.execute(query)).scalars())
            in_python = {i for i, record in records.items() if evaluate(condition, record, CTX)}
            assert in_sql == in_python, "\n".join(
                [
                    f"condition: {json.dumps(document, ensure_ascii=False)}",
                    f"only SQL: {sorted(in_sql - in_python)}; only Python: {sorted(in_python - in_sql)}",
                    *(f"record {i}: {records[i]!r}" for i in sorted(in_sql ^ in_python)),
                    f"SQL: {query}",
                ]
            )
    finally:
        await transaction.rollback()
