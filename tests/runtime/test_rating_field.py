"""rating: 1..max stars over HTTP, in conditions, formulas, export, OpenAPI and the designer."""

from __future__ import annotations

import pytest

from opsloom.runtime.fields import FIELD_TYPES, FieldSpec
from opsloom.runtime.pages.i18n import Translator
from tests.builders import admin_client, create, field, form, message_at, problem, publish_app, records_url
from tests.conftest import DATABASES
from tests.runtime.field_checks import draft_problems, exported, field_schema, ids_matching

APP = "ratings"
REVIEW = form(
    "review",
    field("title"),
    field("stars", "rating"),
    field("score", "rating", max=10),
    field("doubled", "formula", formula="stars * 2", scale=0),
    title_field="title",
)
URL = records_url(APP, "review")


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("rating")) as client:
        publish_app(client, APP, REVIEW)
        yield client


@pytest.mark.parametrize(("sent", "stored"), [(1, 1), (5, 5), ("4", 4), (3.0, 3), (None, None)])
def test_stars_round_trip(api, sent, stored):
    record = create(api, URL, stars=sent)
    assert record["stars"] == stored
    assert api.get(f"{URL}/{record['id']}").json()["stars"] == stored


@pytest.mark.parametrize(
    ("key", "sent", "hint"),
    [
        ("stars", 0, "from 1 to 5"),
        ("stars", 6, "from 1 to 5"),
        ("stars", -1, "from 1 to 5"),
        ("score", 11, "from 1 to 10"),
        ("stars", 4.5, "whole number"),
        ("stars", True, "whole number"),
        ("stars", "four", "whole number"),
        ("stars", [4], "whole number"),
    ],
)
def test_bad_stars_are_a_422_naming_the_field(api, key, sent, hint):
    body = problem(api.post(URL, json={key: sent}), 422, key)
    assert hint in message_at(body, key)


def test_a_patch_keeps_to_the_stars_too(api):
    record = create(api, URL, stars=2, score=10)
    assert api.patch(f"{URL}/{record['id']}", json={"stars": 5}).json()["stars"] == 5
    problem(api.patch(f"{URL}/{record['id']}", json={"stars": 6}), 422, "stars")
    assert api.get(f"{URL}/{record['id']}").json()["stars"] == 5


def test_conditions_compare_stars_as_numbers(api):
    url = records_url(APP, "review")
    low, high, none = create(api, url, stars=2), create(api, url, stars=5), create(api, url)
    mine = {low["id"], high["id"], none["id"]}
    assert ids_matching(api, url, {"field": "stars", "op": "gte", "value": 4}) & mine == {high["id"]}
    assert ids_matching(api, url, {"field": "stars", "op": "between", "value": [1, 3]}) & mine == {low["id"]}
    assert ids_matching(api, url, {"field": "stars", "op": "in", "value": [2, 5]}) & mine == {low["id"], high["id"]}
    assert ids_matching(api, url, {"field": "stars", "op": "is_empty"}) & mine == {none["id"]}
    below = create(api, url, stars=3, score=9)
    assert below["id"] in ids_matching(api, url, {"field": "stars", "op": "lt", "value": {"field": "score"}})
    response = api.get(url, params={"filter": '{"field": "stars", "op": "contains", "value": "4"}'})
    problem(response, 400)


def test_a_formula_reads_the_stars_as_a_number(api):
    assert create(api, URL, stars=4)["doubled"] == "8"


def test_export_writes_the_number_of_stars(api):
    record = create(api, URL, title="Export", stars=3)
    assert exported(api, URL, "csv", "Stars")[record["id"]] == "3"
    assert exported(api, URL, "xlsx", "Stars")[record["id"]] == 3


def test_openapi_states_the_range(api):
    assert field_schema(api, APP, "Review", "stars")["maximum"] == 5
    schema = field_schema(api, APP, "Review", "score", write=True)
    assert "integer" in schema["type"] and (schema["minimum"], schema["maximum"]) == (1, 10)


def test_the_designer_allows_up_to_ten_stars(api):
    assert draft_problems(api, APP, form("fine", field("stars", "rating", max=10))) == {}
    assert "fields[0].max" in draft_problems(api, APP, form("many", field("stars", "rating", max=11)))
    assert "fields[0].max" in draft_problems(api, APP, form("none", field("stars", "rating", max=0)))
    assert "'min'" in draft_problems(api, APP, form("floor", field("stars", "rating", min=2)))["fields[0]"]


def test_people_see_stars_out_of_the_most():
    unit = FIELD_TYPES["rating"]
    spec = FieldSpec("s", "s", "rating", "s", "Stars", raw={"max": 10})
    assert unit.display(Translator("zh-CN"), None, spec, 7) == "7/10"
    assert unit.parse(spec, unit.from_cell(spec, "7/10")) == 7
