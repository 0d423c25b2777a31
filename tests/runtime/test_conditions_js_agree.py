"""The browser's evaluator (static/js/conditions.js) answers as the Python one does.

Hypothesis draws clocks, records and conditions (the strategies of
test_conditions_agree.py, plus fields compared with fields); Python answers
each (record, condition) case as it draws them, then a single `node` process
answers the whole batch and the two lists must be equal. Records travel as the
API writes them (the field types' `dump`), conditions as JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsloom.platform.errors import BadRequest
from opsloom.runtime.conditions import EvalContext, evaluate, parse_condition
from opsloom.runtime.fields import FIELD_TYPES, value_unit
from opsloom.runtime.forms import compile_form
from tests.runtime.test_conditions_agree import FIELDS as BASE_FIELDS
from tests.runtime.test_conditions_agree import RULES, USER, VALUES, VARIABLE, Values
from tests.strategies import condition_trees

CONDITIONS_JS = Path(__file__).parents[2] / "opsloom" / "runtime" / "static" / "js" / "conditions.js"

# The fields of test_conditions_agree.py, plus a second date, decimal and
# datetime so that fields can be compared with fields.
TWINS = {"start": "due", "budget": "amount", "ends": "at"}
FIELDS = {**BASE_FIELDS, **{key: BASE_FIELDS[twin] for key, twin in TWINS.items()}}
FORM_RULES = {**RULES, "budget": RULES["amount"]}
FORM = compile_form(
    "agree",
    {
        "key": "item",
        "fields": [
            {"id": f"fld_{key}", "key": key, "type": type_, **FORM_RULES.get(key, {})} for key, type_ in FIELDS.items()
        ],
    },
    form_id=1,
    version=1,
    storage={"table": "agree__item", "columns": {f"fld_{key}": key for key in FIELDS}},
)
SPECS = {spec.key: spec for spec in FORM.fields}
# As field_views.form_meta sends them: each field's value kind, with its rules.
FIELD_INFO = {key: {"kind": value_unit(SPECS[key]).client_kind, **FORM_RULES.get(key, {})} for key in FIELDS}
# Pairs of fields stored alike, which the language lets one compare with the other.
REF_PAIRS = [("title", "kind"), ("kind", "title"), ("due", "start"), ("amount", "budget"), ("at", "ends")]
REF_PAIRS += [(key, key) for key in FIELDS]

# JSON numbers are doubles in the browser: integers past 2**53 arrive rounded
# (a limitation of the API's JSON, not of the evaluators), so such integers
# travel as text in conditions and are kept within range in records.
JS_SAFE = 2**53 - 1


def _base(key: str) -> str:
    return TWINS.get(key, key)


def _explicit(text: Any) -> Any:
    """A datetime without an offset written with +00:00, as conditions.py reads it (see the xfail below)."""
    if isinstance(text, str) and datetime.fromisoformat(text.strip()).tzinfo is None:
        return text + "+00:00"
    return text


def _json_safe(value: Any) -> Any:
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > JS_SAFE:
        return str(value)
    return value


def _raw(values: Values, key: str) -> st.SearchStrategy[Any]:
    raw = values.raw(_base(key))
    if FIELDS[key] == "datetime" and values.zone is not UTC:
        raw = raw.map(_explicit)
    return raw


def _compare(values: Values, key: str, op: str) -> st.SearchStrategy[dict[str, Any]]:
    if FIELDS[key] == "datetime" or key in TWINS:
        operand = st.one_of(_raw(values, key), _raw(values, key), VARIABLE)
        if op in ("in", "not_in"):
            return st.lists(operand, max_size=4).map(lambda v: {"field": key, "op": op, "value": v})
        if op == "between":
            return st.lists(operand, min_size=2, max_size=2).map(lambda v: {"field": key, "op": op, "value": v})
        if op in ("eq", "ne", "gt", "gte", "lt", "lte"):
            return (st.none() | operand).map(lambda v: {"field": key, "op": op, "value": v})
    return values.compare(_base(key), op).map(lambda doc: {**doc, "field": key})


def _compare_fields(pair: tuple[str, str]) -> st.SearchStrategy[dict[str, Any]]:
    key, other = pair
    ops = ["eq", "ne"] if FIELDS[key] in ("text", "select", "multiselect", "boolean") else sorted(REF_OPS)
    return st.sampled_from(ops).map(lambda op: {"field": key, "op": op, "value": {"field": other}})


REF_OPS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte"})


def _condition(values: Values) -> st.SearchStrategy[dict[str, Any]]:
    # An operator first, then a field it applies to: each operator gets its share of cases.
    by_op: dict[str, list[st.SearchStrategy[dict[str, Any]]]] = {}
    for key, type_ in FIELDS.items():
        for op in sorted(FIELD_TYPES[type_].operators_for(SPECS[key]) | {"is_empty", "not_empty"}):
            by_op.setdefault(op, []).append(_compare(values, key, op))
    by_op["field against field"] = [_compare_fields(pair) for pair in REF_PAIRS]
    leaf = st.one_of(*(st.one_of(*leaves) for leaves in by_op.values()))
    return condition_trees(leaf, max_leaves=5)


def _record(values: Values) -> st.SearchStrategy[dict[str, Any]]:
    def in_range(key: str) -> st.SearchStrategy[Any]:
        value = values.stored(_base(key))
        if FIELDS[key] == "integer":
            return value.map(lambda n: n if n is None or abs(n) <= JS_SAFE else (JS_SAFE if n > 0 else -JS_SAFE))
        if FIELDS[key] == "date":  # days around today, where weeks and months begin and end
            return value | st.integers(-9, 9).map(lambda days: values.ctx.today + timedelta(days=days))
        return value

    return st.fixed_dictionaries({key: in_range(key) for key in FIELDS})


CONDITIONS = {id(values): _condition(values) for values in VALUES}
RECORDS = {id(values): _record(values) for values in VALUES}


def _context_json(values: Values) -> dict[str, Any]:
    return {
        "now": values.now.isoformat().replace("+00:00", "Z"),
        "timeZone": str(values.zone) if values.zone is not UTC else "UTC",
        "user": USER,
        "fields": FIELD_INFO,
    }


def _dump(record: dict[str, Any]) -> dict[str, Any]:
    return {key: FIELD_TYPES[FIELDS[key]].dump(SPECS[key], value) for key, value in record.items()}


@dataclass
class Case:
    context: int
    condition: Any
    record: dict[str, Any]
    python: bool


# Reads {"contexts": [...], "cases": [[context, condition, record], ...]} on stdin,
# writes one answer per case: true, false, or {"error": message}.
NODE_DRIVER = """
import { evaluate } from %s;
let input = "";
for await (const chunk of process.stdin) input += chunk;
const { contexts, cases } = JSON.parse(input);
const answers = cases.map(([context, condition, record]) => {
  try {
    return evaluate(condition, record, contexts[context]);
  } catch (problem) {
    return { error: String(problem && problem.stack || problem) };
  }
});
process.stdout.write(JSON.stringify(answers));
"""


def node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node is needed to test the browser's condition evaluator")
        pytest.skip("node is not installed")
    return node


def run_in_node(contexts: list[dict[str, Any]], cases: list[tuple[int, Any, Any]]) -> list[Any]:
    script = NODE_DRIVER % json.dumps(CONDITIONS_JS.as_uri())
    done = subprocess.run(
        [node_or_skip(), "--input-type=module", "-e", script],
        input=json.dumps({"contexts": contexts, "cases": cases}, ensure_ascii=False),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_browser_and_python_give_the_same_answers() -> None:
    node_or_skip()
    contexts = [_context_json(values) for values in VALUES]
    cases: list[Case] = []

    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def collect(data: st.DataObject) -> None:
        index = data.draw(st.integers(0, len(VALUES) - 1))
        values = VALUES[index]
        ctx = EvalContext(now=values.now, zone=values.zone, user=USER)
        records = data.draw(st.lists(RECORDS[id(values)], min_size=2, max_size=6))
        for document in data.draw(st.lists(CONDITIONS[id(values)], min_size=2, max_size=8)):
            document = _json_safe(document)
            try:
                condition = parse_condition(document, FORM)
            except BadRequest:
                continue  # refused by the server; the browser never sees it
            for record in records:
                cases.append(Case(index, document, _dump(record), evaluate(condition, record, ctx)))

    collect()
    assert len(cases) > 1000
    answers = run_in_node(contexts, [(c.context, c.condition, c.record) for c in cases])
    wrong = [(case, answer) for case, answer in zip(cases, answers, strict=True) if answer != case.python]
    assert not wrong, _explain(contexts, wrong, len(cases))


def _explain(contexts: list[dict[str, Any]], wrong: list[tuple[Case, Any]], total: int) -> str:
    lines = [f"{len(wrong)} of {total} cases differ; the first ones:"]
    for case, answer in wrong[:8]:
        ctx = contexts[case.context]
        lines += [
            f"  now={ctx['now']} zone={ctx['timeZone']}",
            f"  condition: {json.dumps(case.condition, ensure_ascii=False)}",
            f"  record: {json.dumps(case.record, ensure_ascii=False)}",
            f"  python: {case.python}  browser: {answer}",
        ]
    return "\n".join(lines)


def test_a_datetime_without_offset_is_read_in_the_configured_zone() -> None:
    node_or_skip()
    values = Values(datetime(2026, 3, 1, 15, 30, tzinfo=UTC), ZoneInfo("Asia/Shanghai"))
    ctx = EvalContext(now=values.now, zone=values.zone, user=USER)
    document = {"field": "at", "op": "gt", "value": "2026-03-01T16:30"}  # 08:30 UTC in Shanghai
    record = {key: None for key in FIELDS} | {"at": datetime(2026, 3, 1, 9, 0, tzinfo=UTC)}
    python = evaluate(parse_condition(document, FORM), record, ctx)
    [browser] = run_in_node([_context_json(values)], [(0, document, _dump(record))])
    assert browser is True  # 09:00 UTC is after 08:30 UTC
    assert python == browser
