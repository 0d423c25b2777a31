"""The browser's evaluator (static/js/conditions.js) answers conditions on rating, percent, rich_text
and address fields as the Python one does (records as the API writes them, conditions as JSON)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsloom.runtime.conditions import evaluate, parse_condition
from opsloom.runtime.fields import FIELD_TYPES
from tests.runtime.test_conditions_agree_more_types import CONDITION, CTX, FIELDS, FORM, RECORD, SPECS
from tests.runtime.test_conditions_js_agree import node_or_skip, run_in_node

CONTEXT = {"now": "2026-01-31T09:30:00Z", "timeZone": "UTC", "user": dict(CTX.user), "fields": {}}
CONTEXT["fields"] = {key: {"kind": FIELD_TYPES[type_].client_kind} for key, type_ in FIELDS.items()}


def _dump(record: dict[str, Any]) -> dict[str, Any]:
    return {key: FIELD_TYPES[FIELDS[key]].dump(SPECS[key], value) for key, value in record.items()}


def test_browser_and_python_give_the_same_answers() -> None:
    node_or_skip()
    cases: list[tuple[Any, dict[str, Any], bool]] = []

    @settings(
        max_examples=150,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(records=st.lists(RECORD, min_size=2, max_size=6), conditions=st.lists(CONDITION, min_size=2, max_size=6))
    def collect(records: list[dict[str, Any]], conditions: list[Any]) -> None:
        for document in conditions:
            condition = parse_condition(document, FORM)
            cases.extend((document, _dump(record), evaluate(condition, record, CTX)) for record in records)

    collect()
    assert len(cases) > 1000
    answers = run_in_node([CONTEXT], [(0, document, record) for document, record, _ in cases])
    wrong = [(case, answer) for case, answer in zip(cases, answers, strict=True) if answer != case[2]]
    assert not wrong, "\n".join(
        f"condition {json.dumps(d, ensure_ascii=False)} record {json.dumps(r, ensure_ascii=False)}: "
        f"python {p}, browser {a}"
        for (d, r, p), a in wrong[:8]
    )
