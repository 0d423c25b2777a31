"""The browser's evaluator answers subform aggregates and `users` conditions as Python does.

The companion of test_conditions_js_agree.py, with the form and strategies of
test_aggregates_agree.py: records travel as the API writes them (subforms as
lists of rows), conditions as JSON. A condition the server refuses must throw
ConditionError in the browser too, so malformed aggregates are drawn as well.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsloom.platform.errors import BadRequest
from opsloom.runtime.conditions import EvalContext, evaluate, parse_condition
from opsloom.runtime.fields import FIELD_TYPES
from opsloom.runtime.pages.field_views import form_meta
from tests.runtime.test_aggregates_agree import FORM, SUBFORMS, leaves, records
from tests.runtime.test_conditions_agree import USER, VALUES
from tests.runtime.test_conditions_js_agree import CONDITIONS_JS, JS_SAFE, _json_safe, node_or_skip
from tests.strategies import condition_trees

# JSON numbers are doubles in the browser, so ids and quantities stay below 2**53 here.
USER_IDS = (1, 2, 3, 7, JS_SAFE)
# As the record page sends them to the browser (field_views.form_meta): value kinds and rules.
FIELD_INFO = form_meta(FORM)["fields"]
SPECS = {spec.key: spec for spec in FORM.fields}
CHILD_SPECS = {key: {spec.key: spec for spec in child.fields} for key, child in FORM.children.items()}

# Aggregates the server refuses: the browser must not answer them either.
REFUSED = [
    {"field": "items", "agg": "avg", "op": "eq", "value": 1},
    {"field": "items", "agg": "COUNT", "op": "eq", "value": 1},
    {"field": "items", "agg": None, "op": "eq", "value": 1},
    {"field": "items.qty", "agg": "count", "op": "eq", "value": 1},
    {"field": "items", "agg": "sum", "op": "eq", "value": 1},
    {"field": "items.note", "agg": "max", "op": "eq", "value": 1},
    {"field": "items.nope", "agg": "min", "op": "eq", "value": 1},
    {"field": "items.qty.x", "agg": "sum", "op": "eq", "value": 1},
    {"field": "title", "agg": "count", "op": "eq", "value": 1},
    {"field": "nope", "agg": "count", "op": "eq", "value": 1},
    {"field": "", "agg": "count", "op": "eq", "value": 1},
    {"field": 3, "agg": "count", "op": "eq", "value": 1},
    {"field": "items", "agg": "count", "op": "contains", "value": 1},
    {"field": "items", "agg": "count", "op": "is_empty"},
    {"field": "items", "agg": "count", "op": "eq"},
    {"field": "items", "agg": "count", "op": "eq", "value": "two"},
    {"field": "items.qty", "agg": "sum", "op": "gt", "value": "1.5"},
    {"field": "items", "agg": "count", "op": "eq", "value": {"field": "title"}},
    {"field": "items.qty", "agg": "max", "op": "gt", "value": {"field": "parts.weight"}},
    {"field": "items", "agg": "count", "op": "eq", "value": 1, "extra": True},
    {"field": "items", "op": "is_empty"},
    {"field": "items.qty", "op": "eq", "value": 1},
    {"field": "watchers", "op": "eq", "value": 7},
    {"field": "watchers", "op": "contains", "value": "ann"},
    {"field": "watchers", "op": "contains", "value": 0},
    {"field": "watchers", "op": "contains", "value": {"var": "current_user.name"}},
]
DOCUMENTS = condition_trees(st.one_of(leaves(USER_IDS), leaves(USER_IDS), st.sampled_from(REFUSED)), max_leaves=4)


def _in_range(record: dict[str, Any]) -> dict[str, Any]:
    def clamp(n: Any) -> Any:
        return n if not isinstance(n, int) or abs(n) <= JS_SAFE else (JS_SAFE if n > 0 else -JS_SAFE)

    rows = {key: [{k: clamp(v) for k, v in row.items()} for row in record[key]] for key in SUBFORMS}
    return {**record, **rows}


RECORDS = records(USER_IDS).map(_in_range)


def _dump(record: dict[str, Any]) -> dict[str, Any]:
    """The record as the API writes it; rows carry their ids."""
    out = {key: FIELD_TYPES[SPECS[key].type].dump(SPECS[key], record[key]) for key in ("title", "watchers")}
    for key, specs in CHILD_SPECS.items():
        out[key] = [
            {"id": i, **{name: FIELD_TYPES[specs[name].type].dump(specs[name], value) for name, value in row.items()}}
            for i, row in enumerate(record[key], start=1)
        ]
    return out


def _context_json(index: int) -> dict[str, Any]:
    values = VALUES[index]
    return {"now": values.now.isoformat(), "timeZone": str(values.zone), "user": USER, "fields": FIELD_INFO}


REFUSE = "refused"


@dataclass
class Case:
    context: int
    condition: Any
    record: dict[str, Any]
    python: bool | str  # True, False, or REFUSE (the server answers 400)


# Like test_conditions_js_agree.py's driver, but a ConditionError (a refusal) is told
# apart from any other exception (a bug): {"refused": message} or {"error": stack}.
NODE_DRIVER = """
import { ConditionError, evaluate } from %s;
let input = "";
for await (const chunk of process.stdin) input += chunk;
const { contexts, cases } = JSON.parse(input);
const answers = cases.map(([context, condition, record]) => {
  try {
    return evaluate(condition, record, contexts[context]);
  } catch (problem) {
    if (problem instanceof ConditionError) return { refused: problem.message };
    return { error: String((problem && problem.stack) || problem) };
  }
});
process.stdout.write(JSON.stringify(answers));
"""


def _run_in_node(contexts: list[dict[str, Any]], cases: list[Case]) -> list[Any]:
    done = subprocess.run(
        [node_or_skip(), "--input-type=module", "-e", NODE_DRIVER % json.dumps(CONDITIONS_JS.as_uri())],
        input=json.dumps({"contexts": contexts, "cases": [(c.context, c.condition, c.record) for c in cases]}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _refused(document: Any) -> bool:
    try:
        parse_condition(document, FORM)
    except BadRequest:
        return True
    return False


def _agrees(case: Case, answer: Any) -> bool:
    if case.python == REFUSE:
        return isinstance(answer, dict) and "refused" in answer
    return answer is case.python


def test_browser_and_python_agree_on_aggregates_and_people() -> None:
    node_or_skip()
    cases: list[Case] = []

    @settings(
        max_examples=120,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def collect(data: st.DataObject) -> None:
        index = data.draw(st.integers(0, len(VALUES) - 1))
        ctx = EvalContext(now=VALUES[index].now, zone=VALUES[index].zone, user=USER)
        drawn = data.draw(st.lists(RECORDS, min_size=2, max_size=6))
        for document in data.draw(st.lists(DOCUMENTS, min_size=2, max_size=8)):
            document = _json_safe(document)
            try:
                condition = parse_condition(document, FORM)
            except BadRequest:
                cases.append(Case(index, document, _dump(drawn[0]), REFUSE))
                continue
            cases.extend(Case(index, document, _dump(r), evaluate(condition, r, ctx)) for r in drawn)

    collect()
    assert sum(case.python != REFUSE for case in cases) > 1000
    assert [d for d in REFUSED if not _refused(d)] == []
    cases += [Case(0, document, {}, REFUSE) for document in REFUSED]  # each at least once, alone
    answers = _run_in_node([_context_json(i) for i in range(len(VALUES))], cases)
    wrong = [(case, answer) for case, answer in zip(cases, answers, strict=True) if not _agrees(case, answer)]
    assert not wrong, _explain(wrong, len(cases))


def _explain(wrong: list[tuple[Case, Any]], total: int) -> str:
    lines = [f"{len(wrong)} of {total} cases differ; the first ones:"]
    for case, answer in wrong[:8]:
        values = VALUES[case.context]
        lines += [
            f"  now={values.now.isoformat()} zone={values.zone}",
            f"  condition: {json.dumps(case.condition, ensure_ascii=False)}",
            f"  record: {json.dumps(case.record, ensure_ascii=False)}",
            f"  python: {case.python}  browser: {answer}",
        ]
    return "\n".join(lines)
