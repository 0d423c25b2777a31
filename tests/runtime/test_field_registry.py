"""Every field type in the registry answers every question the platform asks about a kind of field.

The test names no type: a new unit in `opsloom/runtime/fields/` is asked the same questions
the moment it is registered.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from sqlalchemy.dialects import postgresql, sqlite

from opsloom.designer.checks import check_form
from opsloom.designer.conversions import convert_value
from opsloom.designer.documents import schema_errors
from opsloom.runtime import formulas
from opsloom.runtime.conditions import NO_VALUE_OPS, EvalContext, evaluate, parse_condition, to_sql
from opsloom.runtime.fields import FIELD_TYPES, FieldSpec, FieldType, Shape, field_schema_parts, unit_of
from opsloom.runtime.forms import compile_form, initial_storage
from opsloom.runtime.pages.i18n import Translator
from tests.builders import admin_client, publish_app, records_url
from tests.conftest import DATABASES

UNITS = sorted(FIELD_TYPES.items())
KNOWN_OPERATORS = frozenset(
    {
        "eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "between", "contains", "starts_with",
        "today", "this_week", "this_month", "last_n_days",
    }
)  # fmt: skip
ZONE = timezone(timedelta(hours=8))
CTX = EvalContext(now=datetime(2026, 1, 31, 9, 30, tzinfo=UTC), zone=ZONE, user={"id": 1, "department_id": 1})


def field_document(name: str, unit: FieldType, key: str | None = None) -> dict[str, Any]:
    key = key or f"f_{name}"
    return {"id": f"id_{key}", "key": key, "type": name, "label": {"en": name, "zh-CN": name}, **unit.starts_with}


def spec_of(name: str, unit: FieldType) -> FieldSpec:
    raw = field_document(name, unit)
    return FieldSpec(raw["id"], raw["key"], name, raw["key"], raw["label"], raw=raw)


def every_type_form() -> dict[str, Any]:
    return {"key": "every", "label": "Every type", "fields": [field_document(n, u) for n, u in UNITS]}


def compiled():
    """The form with a field of every type; its relations link to the form itself, and what is
    read from other forms (a rollup) reads it through the relation field."""
    document = every_type_form()
    relation = next(f["key"] for f in document["fields"] if unit_of(f).link == "record")
    for f in document["fields"]:
        if unit_of(f).link == "record":
            f["form"] = document["key"]
        if unit_of(f).sources(f):
            f.update(form=document["key"], via=relation)
    form = compile_form("registry", document, form_id=1, version=1, storage=initial_storage("registry", document))
    return replace(form, related={document["key"]: form})


def test_the_registry_names_each_unit_by_its_own_name_and_the_form_schema_lists_them_all():
    assert UNITS, "no field types registered"
    parts = field_schema_parts()
    for name, unit in UNITS:
        assert unit.name == name
        assert name in parts["enum"]
        assert isinstance(unit, FieldType)


def test_a_new_field_of_every_type_passes_the_schema_and_every_design_check():
    document = every_type_form()
    assert schema_errors("form", document) == []
    assert check_form(document) == []


@pytest.mark.parametrize(("name", "unit"), UNITS, ids=[n for n, _ in UNITS])
def test_each_type_answers_storage_codec_and_usage(name: str, unit: FieldType):
    spec = spec_of(name, unit)
    # Stored in a column, in child rows, or computed as it is read: exactly one.
    assert [unit.has_column, unit.child_rows, unit.read_time].count(True) == 1
    if unit.has_column:
        assert unit.column_type(spec) is not None
    else:
        with pytest.raises(TypeError):
            unit.column_type(spec)
    assert unit.is_empty(None)
    assert unit.entered or unit.leave_out, "a field people do not fill in says why a value is refused"
    assert unit.link in (None, "record", "user", "department")
    assert isinstance(unit.not_in_rows, str)
    assert unit.temporal in (None, "date", "moment")
    assert unit.formula_type(spec.raw) in (
        None,
        formulas.NUMBER,
        formulas.TEXT,
        formulas.BOOLEAN,
        formulas.DATE,
        formulas.DATETIME,
    )
    assert unit.operators_for(spec) <= KNOWN_OPERATORS
    assert isinstance(unit.sortable_for(spec), bool)
    assert unit.widget and unit.client_kind and unit.filter_input
    for op in unit.operators_for(spec):
        assert unit.filter_input_for(op) in ("text", "number", "select", "boolean", "date", "datetime-local")
    Draft202012Validator.check_schema({"type": "object", **unit.properties})
    for key, message in unit.design_problems(spec.raw):
        pytest.fail(f"a new {name} field has a problem at {key}: {message}")
    if unit.child_rows:
        return  # rows are read by the subform's own form; the HTTP test below sends them
    value = unit.parse(spec, unit.example(spec), ZONE)
    assert not unit.is_empty(value)
    assert list(unit.check(spec, value)) == []
    dumped = unit.dump(spec, value)
    assert unit.parse(spec, dumped, ZONE) == value, "a value read back parses to itself"
    value_dump = unit.value_dump(spec)  # what a page's rows are dumped with
    assert (value if value_dump is None else value_dump(value)) == dumped
    for write in (False, True):
        schema = unit.openapi_schema(spec, Shape("Every", write=write, creating=write))
        Draft202012Validator.check_schema(schema)
        if "$ref" not in json.dumps(schema):  # references to components are checked on the whole document
            errors = list(Draft202012Validator(schema).iter_errors(dumped))
            assert not errors, f"{name}: {dumped!r} does not fit its own OpenAPI schema: {errors[0].message}"
    assert unit.shown_as(spec).parse(spec, dumped, ZONE) == value


@pytest.mark.parametrize(("name", "unit"), UNITS, ids=[n for n, _ in UNITS])
def test_each_type_shows_its_value_to_people_and_in_spreadsheets(name: str, unit: FieldType):
    spec = spec_of(name, unit)
    if unit.child_rows:
        assert unit.display(Translator("en"), ZONE, spec, unit.example(spec))
        return
    dumped = unit.dump(spec, unit.parse(spec, unit.example(spec), ZONE))
    for locale in ("en", "zh-CN"):
        text = unit.display(Translator(locale), ZONE, spec, dumped)
        assert isinstance(text, str) and text
        cell = unit.to_cell(Translator(locale), ZONE, spec, dumped)
        assert isinstance(cell, str | Decimal | date | int | bool)
    if unit.entered and not unit.link and not unit.holds_files:
        cell = unit.to_cell(Translator("en"), ZONE, spec, dumped)
        back = unit.parse(spec, unit.from_cell(spec, cell), ZONE)
        assert back == unit.parse(spec, dumped, ZONE), f"{name}: the cell {cell!r} imports as {back!r}"


@pytest.mark.parametrize(("name", "unit"), UNITS, ids=[n for n, _ in UNITS])
def test_each_type_converts_without_loss_to_the_types_it_says(name: str, unit: FieldType):
    spec = spec_of(name, unit)
    if unit.child_rows or not unit.entered:
        assert not unit.lossless_to or name in unit.lossless_to or unit.lossless_to
        return
    value = unit.parse(spec, unit.example(spec), ZONE)
    for target in sorted(unit.lossless_to):
        other = spec_of(target, FIELD_TYPES[target])
        converted = convert_value(spec, other, value, ZONE)
        assert converted is not None, f"{name} -> {target} lost the value"
        if target == name:
            assert converted == value


@pytest.mark.parametrize(("name", "unit"), UNITS, ids=[n for n, _ in UNITS])
def test_each_operator_a_type_answers_parses_compiles_on_both_databases_and_evaluates(name: str, unit: FieldType):
    form = compiled()
    spec = form.by_key[f"f_{name}"]
    if unit.child_rows:
        condition = parse_condition({"field": spec.key, "agg": "count", "op": "gte", "value": 1}, form)
        assert evaluate(condition, {spec.key: [{}]}, CTX)
        return
    value = unit.parse(spec, unit.example(spec), ZONE)
    record = {spec.key: value, f"{spec.key}.title": "Office chairs"}
    for op in sorted(unit.operators_for(spec) | {"is_empty", "not_empty"}):
        document: dict[str, Any] = {"field": spec.key, "op": op}
        if op not in NO_VALUE_OPS:
            document["value"] = _operand(unit, spec, op)
        condition = parse_condition(document, form)
        clause = to_sql(condition, form, CTX)
        for dialect in (sqlite.dialect(), postgresql.dialect()):
            assert str(clause.compile(dialect=dialect))
        assert isinstance(evaluate(condition, record, CTX), bool)
    assert evaluate(parse_condition({"field": spec.key, "op": "not_empty"}, form), record, CTX)
    assert not evaluate(parse_condition({"field": spec.key, "op": "is_empty"}, form), record, CTX)


def _operand(unit: FieldType, spec: FieldSpec, op: str) -> Any:
    one = unit.example(spec)
    if unit.multiple:
        one = one[0]
    if op == "last_n_days":
        return 7
    if op in ("in", "not_in"):
        return [one]
    if op == "between":
        return [one, one]
    if op in ("contains", "starts_with") and not unit.multiple:
        return "Off"
    return one


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("registry")) as client:
        publish_app(client, "registry", every_value_form())
        yield client


def every_value_form() -> dict[str, Any]:
    """Every type whose example needs nothing else to exist (no linked record, person, file or other form)."""
    fields = [field_document(n, u) for n, u in UNITS if not u.link and not u.holds_files and not u.read_time]
    return {"key": "values", "label": "Values", "fields": fields}


def test_every_type_round_trips_through_the_api(api):
    form = every_value_form()
    sent = {f["key"]: unit_of(f).example(spec_of(f["type"], unit_of(f))) for f in form["fields"] if unit_of(f).entered}
    created = api.post(records_url("registry", "values"), json=sent)
    assert created.status_code == 201, created.text
    record = api.get(records_url("registry", "values") + f"/{created.json()['id']}").json()
    for f in form["fields"]:
        unit = unit_of(f)
        spec = spec_of(f["type"], unit)
        if unit.child_rows:
            assert [{k: v for k, v in row.items() if k != "id"} for row in record[f["key"]]] == sent[f["key"]]
        elif unit.entered:
            assert record[f["key"]] == unit.dump(spec, unit.parse(spec, sent[f["key"]], UTC)), f["type"]
        elif unit.computed:
            assert record[f["key"]] is not None, f"{f['type']} computed nothing"
        else:
            assert record[f["key"]], f"{f['type']} was not given a value"
    document = api.get("/api/apps/registry/openapi.json")
    assert document.status_code == 200
    properties = document.json()["components"]["schemas"]["Values"]["properties"]
    assert {f["key"] for f in form["fields"]} <= set(properties)


def test_the_published_form_schema_is_the_one_the_field_types_make():
    from opsloom.designer.documents import form_schema
    from opsloom.resources import data_path

    published = json.loads((data_path("schemas") / "form.schema.json").read_text(encoding="utf-8"))
    assert published == form_schema(published), "run `python -m opsloom.designer.documents` to bring it up to date"


def test_every_type_has_a_label_in_both_languages():
    for name, unit in UNITS:
        assert unit.label.get("en") and unit.label.get("zh-CN"), f"{name} has no label for the palette"


def test_the_designer_reads_the_catalogue_of_field_types(api):
    answer = api.get("/api/design/field-types")
    assert answer.status_code == 200, answer.text
    items = {item["type"]: item for item in answer.json()["items"]}
    assert set(items) == set(FIELD_TYPES)
    for name, unit in UNITS:
        item = items[name]
        assert item["label"] == dict(unit.label)
        assert item["properties"] == unit.properties
        assert item["may_be"]["in_rows"] == (not unit.not_in_rows)
        choices = unit.shown_as_choices()
        if choices is None:
            assert item["shown_as"] is None
            continue
        # A type that behaves as others (a formula as what it produces): a condition on it offers their operators.
        prop, default, units = choices
        assert item["shown_as"]["property"] == prop and item["shown_as"]["default"] in units
        for value, behaves in units.items():
            assert set(item["shown_as"]["as"][value]["operators"]) >= behaves.operators
            assert item["shown_as"]["as"][value]["widget"] == behaves.widget
    assert any(item["shown_as"] for item in items.values())
    assert TestClient(api.app).get("/api/design/field-types").status_code == 401


@pytest.mark.parametrize(("name", "unit"), UNITS)
def test_every_widget_is_a_template_of_its_own(name: str, unit: FieldType) -> None:
    """widgets.html imports `widgets/<widget>.html` by name: the file exists and defines the control macro."""
    from jinja2 import Environment, FileSystemLoader

    import opsloom.runtime.pages

    templates = Path(opsloom.runtime.pages.__file__).parent / "templates"
    path = templates / "widgets" / f"{unit.widget}.html"
    assert path.is_file(), f"{name}: no template for its widget {unit.widget!r} at {path}"
    module = Environment(loader=FileSystemLoader(templates)).get_template(f"widgets/{unit.widget}.html").module
    assert module.control.arguments == ("f", "value", "id", "locked", "common"), name
