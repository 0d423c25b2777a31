"""percent: an exact fraction over HTTP, shown as 12.5%, in conditions, formulas, export and OpenAPI."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from opsloom.platform.errors import BadRequest
from opsloom.runtime.conditions import EvalContext, evaluate, parse_condition
from opsloom.runtime.fields import FIELD_TYPES, FieldSpec
from opsloom.runtime.forms import compile_form
from opsloom.runtime.pages.field_views import form_meta
from opsloom.runtime.pages.i18n import Translator
from tests.builders import admin_client, create, field, form, message_at, problem, publish_app, records_url
from tests.conftest import DATABASES
from tests.runtime.field_checks import draft_problems, exported, field_schema, ids_matching
from tests.runtime.test_conditions_js_agree import run_in_node

APP = "rates"
DEAL = form(
    "deal",
    field("title"),
    field("amount", "decimal", precision=12, scale=2),
    field("discount", "percent"),
    field("fine", "percent", places=2),
    field("saved", "formula", formula="amount * discount", scale=2),
    title_field="title",
)
URL = records_url(APP, "deal")
CTX = EvalContext(now=datetime(2026, 1, 31, 9, 30, tzinfo=UTC))


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("percent")) as client:
        publish_app(client, APP, DEAL)
        yield client


@pytest.mark.parametrize(
    ("key", "sent", "stored"),
    [
        ("discount", "0.125", "0.125"),
        ("discount", "12.5%", "0.125"),
        ("discount", " 12.5 % ", "0.125"),
        ("discount", 0.125, "0.125"),
        ("discount", 1, "1.000"),
        ("discount", "150%", "1.500"),
        ("discount", "-2%", "-0.020"),
        ("discount", "-0%", "0.000"),
        ("fine", "12.25%", "0.1225"),
        ("discount", "", None),
        ("discount", None, None),
    ],
)
def test_percentages_are_kept_exactly_as_fractions(api, key, sent, stored):
    record = create(api, URL, **{key: sent})
    assert record[key] == stored
    assert api.get(f"{URL}/{record['id']}").json()[key] == stored


@pytest.mark.parametrize(
    ("key", "sent", "hint"),
    [
        ("discount", "12.55%", "more than 1 decimal places"),
        ("discount", "0.1255", "more than 1 decimal places"),
        ("fine", "1.005%", "more than 2 decimal places"),
        ("discount", "a lot", "percentage"),
        ("discount", "%", "percentage"),
        ("discount", "NaN", "finite"),
        ("discount", "1e20", "too large"),
        ("discount", True, "percentage"),
        ("discount", [1], "percentage"),
    ],
)
def test_bad_percentages_are_a_422_naming_the_field(api, key, sent, hint):
    body = problem(api.post(URL, json={key: sent}), 422, key)
    assert hint in message_at(body, key)


def test_conditions_compare_percentages_as_numbers(api):
    low, high, none = create(api, URL, discount="5%"), create(api, URL, discount="12.5%"), create(api, URL)
    mine = {low["id"], high["id"], none["id"]}
    assert ids_matching(api, URL, {"field": "discount", "op": "gt", "value": "10%"}) & mine == {high["id"]}
    assert ids_matching(api, URL, {"field": "discount", "op": "eq", "value": 0.125}) & mine == {high["id"]}
    between = {"field": "discount", "op": "between", "value": ["0.01", "6%"]}
    assert ids_matching(api, URL, between) & mine == {low["id"]}
    assert ids_matching(api, URL, {"field": "discount", "op": "is_empty"}) & mine == {none["id"]}
    sorted_ids = [r["id"] for r in api.get(URL, params={"sort": "-discount", "limit": 500}).json()["items"]]
    assert sorted_ids.index(high["id"]) < sorted_ids.index(low["id"])


def test_a_formula_multiplies_by_the_fraction(api):
    assert create(api, URL, amount="200.00", discount="12.5%")["saved"] == "25.00"


def test_export_writes_the_percentage(api):
    record = create(api, URL, title="Export", discount="12.5%", fine="0.5%")
    assert exported(api, URL, "csv", "Discount")[record["id"]] == "12.5%"
    assert exported(api, URL, "csv", "Fine")[record["id"]] == "0.50%"
    assert exported(api, URL, "xlsx", "Discount")[record["id"]] == "12.5%"


def test_openapi_describes_the_fraction(api):
    read = field_schema(api, APP, "Deal", "discount")
    assert read["type"] in ("string", ["string", "null"]) and read["example"] == "0.125"
    assert "12.5%" in field_schema(api, APP, "Deal", "discount", write=True)["description"]


def test_the_designer_allows_up_to_six_places(api):
    assert draft_problems(api, APP, form("ok", field("p", "percent", places=6))) == {}
    assert "fields[0].places" in draft_problems(api, APP, form("bad", field("p", "percent", places=7)))


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_people_see_a_percent_sign_in_both_languages(locale):
    unit = FIELD_TYPES["percent"]
    spec = FieldSpec("p", "p", "percent", "p", "P", raw={})
    assert unit.display(Translator(locale), UTC, spec, "0.125") == "12.5%"
    assert unit.display(Translator(locale), UTC, spec, "12.000") == "1,200.0%"
    assert unit.parse(spec, unit.from_cell(spec, 0.125)) == Decimal("0.125")  # a percent-formatted cell
    assert unit.parse(spec, unit.from_cell(spec, "12.5%")) == Decimal("0.125")


def test_more_places_keep_every_value_and_fewer_are_refused_while_a_value_needs_them(api):
    key = "evo_places"
    design = f"/api/design/apps/{APP}/forms/{key}"
    publish_app(api, APP, form(key, field("rate", "percent")))
    url = records_url(APP, key)
    record = create(api, url, rate="12.5%")
    publish_app(api, APP, form(key, field("rate", "percent", places=3)))
    assert api.get(f"{url}/{record['id']}").json()["rate"] == "0.12500"
    assert create(api, url, rate="1.125%")["rate"] == "0.01125"
    assert api.put(design, json=form(key, field("rate", "percent", places=0))).status_code == 200
    refused = api.post(f"{design}/publish")
    assert refused.status_code == 409, refused.text
    assert record["id"] in [r["id"] for r in refused.json()["plan"]["blockers"][0]["records"]]


def test_the_browser_is_told_the_places_and_compares_fields_as_the_server_does():
    """form_meta sends a percentage's places and a decimal's scale; conditions.js then lets the
    same pairs of fields be compared as the server does (their stored scales must match)."""
    shapes = {
        "amount": {"type": "decimal", "precision": 12, "scale": 2},
        "whole": {"type": "percent", "places": 0},
        "fine": {"type": "percent", "places": 2},
        "ratio": {"type": "decimal", "precision": 12, "scale": 4},
    }
    compiled = compile_form(
        APP,
        {"key": "scales", "fields": [{"id": f"fld_{key}", "key": key, **shape} for key, shape in shapes.items()]},
        form_id=1,
        version=1,
        storage={"table": "rates__scales", "columns": {f"fld_{key}": key for key in shapes}},
    )
    meta = form_meta(compiled)["fields"]
    assert meta["whole"]["places"] == 0 and meta["fine"]["places"] == 2
    assert meta["amount"]["scale"] == 2 and meta["ratio"]["scale"] == 4
    record = {"amount": "0.50", "whole": "0.75", "fine": "0.2500", "ratio": "0.2500"}
    stored = {spec.key: compiled.unit(spec).parse(spec, record[spec.key]) for spec in compiled.fields}
    pairs = [("whole", "amount"), ("fine", "ratio"), ("fine", "amount"), ("whole", "fine")]
    context = {"now": "2026-01-31T09:30:00Z", "timeZone": "UTC", "user": {"id": 1}, "fields": meta}
    cases = [(0, {"field": a, "op": "gt", "value": {"field": b}}, record) for a, b in pairs]
    answers = run_in_node([context], cases)
    for (_, document, _), answer in zip(cases, answers, strict=True):
        try:
            expected: Any = evaluate(parse_condition(document, compiled), stored, CTX)
        except BadRequest:
            expected = None  # the server refuses to compare them
        if expected is None:
            assert isinstance(answer, dict) and "cannot be compared" in answer["error"], (document, answer)
        else:
            assert answer == expected, (document, answer)
    assert answers[:2] == [True, False]
