"""Condition documents that cannot be parsed say where and why."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from opsloom.platform.errors import BadRequest
from opsloom.runtime.conditions import (
    MAX_DEPTH,
    MAX_NODES,
    EvalContext,
    evaluate,
    parse_condition,
)
from opsloom.runtime.forms import CompiledForm, compile_form

FIELDS = [
    {"id": "fld_title", "key": "title", "type": "text"},
    {"id": "fld_amount", "key": "amount", "type": "decimal", "precision": 12, "scale": 2},
    {"id": "fld_qty", "key": "qty", "type": "integer"},
    {"id": "fld_done", "key": "done", "type": "boolean"},
    {"id": "fld_due", "key": "due", "type": "date"},
    {
        "id": "fld_tags",
        "key": "tags",
        "type": "multiselect",
        "options": [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}],
    },
]
FORM: CompiledForm = compile_form(
    "shop",
    {"key": "order", "fields": FIELDS},
    form_id=1,
    version=1,
    storage={"table": "shop__order", "columns": {f["id"]: f["key"] for f in FIELDS}},
)
AMOUNT_OVER_10 = {"field": "amount", "op": "gt", "value": "10"}


def error_of(document: Any) -> tuple[str, str]:
    with pytest.raises(BadRequest) as caught:
        parse_condition(document, FORM)
    [error] = caught.value.errors
    assert error.path in caught.value.detail
    return error.path, error.message


def test_unknown_field_is_named_with_the_fields_there_are():
    path, message = error_of({"and": [AMOUNT_OVER_10, {"field": "price", "op": "gt", "value": 1}]})
    assert path == "filter.and[1].field"
    assert "'price' is not a field of order" in message and "amount" in message


def test_missing_field_name_is_refused():
    assert error_of({"op": "eq", "value": 1})[0] == "filter.field"


def test_operator_that_does_not_apply_to_the_type_lists_those_that_do():
    path, message = error_of({"and": [AMOUNT_OVER_10, {"field": "done", "op": "gt", "value": True}]})
    assert path == "filter.and[1].op"
    assert "boolean" in message and "eq" in message and "is_empty" in message


def test_unknown_operator_is_refused():
    assert error_of({"field": "title", "op": "like", "value": "a"})[0] == "filter.op"


def test_value_the_field_cannot_take_is_refused_where_it_is():
    assert error_of({"or": [AMOUNT_OVER_10, {"field": "amount", "op": "lt", "value": "ten"}]}) == (
        "filter.or[1].value",
        "'ten' is not a decimal number such as \"1200.50\"",
    )


def test_bad_item_of_a_list_value_is_pointed_at():
    assert error_of({"field": "qty", "op": "in", "value": [1, 2, "three"]})[0] == "filter.value[2]"


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({"field": "amount", "op": "between", "value": ["1"]}, "filter.value"),
        ({"field": "amount", "op": "in", "value": "1"}, "filter.value"),
        ({"field": "title", "op": "contains", "value": ""}, "filter.value"),
        ({"field": "due", "op": "last_n_days", "value": 0}, "filter.value"),
        ({"field": "due", "op": "last_n_days", "value": True}, "filter.value"),
        ({"field": "due", "op": "today", "value": "2026-01-01"}, "filter.value"),
        ({"field": "amount", "op": "gt"}, "filter.value"),
        ({"field": "tags", "op": "contains", "value": "c"}, "filter.value"),
        ({"field": "due", "op": "eq", "value": "31/01/2026"}, "filter.value"),
    ],
)
def test_value_of_the_wrong_shape_is_refused(document, path):
    assert error_of({"not": document})[0] == path.replace("filter", "filter.not", 1)


def test_unknown_variable_is_refused_with_the_known_ones():
    path, message = error_of({"field": "due", "op": "eq", "value": {"var": "yesterday"}})
    assert path == "filter.value"
    assert "today" in message and "current_user.id" in message


def test_variable_with_extra_keys_is_refused():
    document = {"field": "due", "op": "lt", "value": {"var": "today", "offset": 1}}
    assert error_of(document)[0] == "filter.value"


def test_nesting_deeper_than_the_limit_is_refused():
    document: Any = AMOUNT_OVER_10
    for _ in range(MAX_DEPTH):
        document = {"not": document}
    parse_condition(document, FORM)  # exactly at the limit
    path, message = error_of({"not": document})
    assert path == "filter" + ".not" * (MAX_DEPTH + 1)
    assert f"at most {MAX_DEPTH} levels" in message


def test_more_parts_than_the_limit_are_refused():
    parse_condition({"or": [AMOUNT_OVER_10] * (MAX_NODES - 1)}, FORM)  # the group is a part too
    path, message = error_of({"or": [AMOUNT_OVER_10] * MAX_NODES})
    assert path == f"filter.or[{MAX_NODES - 1}]"
    assert f"at most {MAX_NODES} parts" in message


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ([AMOUNT_OVER_10], "filter"),
        ({"and": []}, "filter.and"),
        ({"or": AMOUNT_OVER_10}, "filter.or"),
        ({"and": [AMOUNT_OVER_10], "or": [AMOUNT_OVER_10]}, "filter"),
        ({"not": AMOUNT_OVER_10, "field": "amount"}, "filter"),
        ({**AMOUNT_OVER_10, "values": 1}, "filter"),
    ],
)
def test_malformed_structure_is_refused(document, path):
    assert error_of(document)[0] == path


def test_a_negated_comparison_matches_a_record_whose_field_is_empty():
    # A record matches or it does not: "not (amount > 10)" holds for an empty amount.
    ctx = EvalContext(now=datetime(2026, 1, 31, tzinfo=UTC))
    condition = parse_condition({"not": AMOUNT_OVER_10}, FORM)
    assert evaluate(condition, {"amount": None}, ctx)
    assert evaluate(condition, {"amount": Decimal("10.00")}, ctx)
    assert not evaluate(condition, {"amount": Decimal("10.01")}, ctx)


def test_a_variable_without_a_value_matches_nothing():
    """A user with no department must not see every record that has no department."""
    from datetime import UTC, datetime

    from opsloom.runtime.conditions import EvalContext, evaluate, parse_condition

    form = _unknown_variable_form()
    condition = parse_condition(
        {"field": "department_id", "op": "eq", "value": {"var": "current_user.department_id"}}, form
    )
    ctx = EvalContext(now=datetime(2026, 1, 1, tzinfo=UTC), user={"id": 1, "department_id": None})
    assert evaluate(condition, {"department_id": None}, ctx) is False
    assert evaluate(condition, {"department_id": 3}, ctx) is False


def _unknown_variable_form():
    from opsloom.runtime.forms import compile_form

    document = {"key": "f", "label": "F", "fields": [{"id": "a", "key": "a", "type": "text", "label": "A"}]}
    return compile_form("app", document, form_id=1, version=1, storage={"table": "app__f", "columns": {"a": "a"}})
