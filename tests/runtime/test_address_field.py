"""address: region levels and a detail line over HTTP, searched in every part on both databases,
one line for people, one cell in a spreadsheet."""

from __future__ import annotations

from datetime import UTC

import pytest

from opsloom.runtime.fields import FIELD_TYPES, FieldSpec
from opsloom.runtime.pages.i18n import Translator
from tests.builders import admin_client, create, field, form, message_at, problem, publish_app, records_url
from tests.conftest import DATABASES
from tests.runtime.field_checks import draft_problems, exported, field_schema, ids_matching

APP = "places"
SITE = form("site", field("title"), field("site_at", "address"), field("town", "address", levels=2))
URL = records_url(APP, "site")
SHENZHEN = {"province": "广东省", "city": "深圳市", "district": "南山区", "detail": "科苑路 15 号"}
NOTHING = dict.fromkeys(SHENZHEN)


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("address")) as client:
        publish_app(client, APP, SITE)
        yield client


@pytest.mark.parametrize(
    ("key", "sent", "stored"),
    [
        ("site_at", SHENZHEN, SHENZHEN),
        ("site_at", {"detail": "  1 Main St  "}, {**NOTHING, "detail": "1 Main St"}),
        ("site_at", {"province": "Ontario", "city": "", "district": None}, {**NOTHING, "province": "Ontario"}),
        ("town", {"province": "浙江省", "city": "杭州市"}, {"province": "浙江省", "city": "杭州市", "detail": None}),
        ("site_at", {}, None),
        ("site_at", {"city": " ", "detail": ""}, None),
        ("site_at", None, None),
    ],
)
def test_addresses_round_trip(api, key, sent, stored):
    record = create(api, URL, **{key: sent})
    assert record[key] == stored
    assert api.get(f"{URL}/{record['id']}").json()[key] == stored


@pytest.mark.parametrize(
    ("key", "sent", "hint"),
    [
        ("site_at", "广东省深圳市", "expected an object"),
        ("site_at", ["广东省"], "expected an object"),
        ("site_at", {"country": "CN"}, "no part 'country'"),
        ("site_at", {"city": 5}, "city: expected a text"),
        ("site_at", {"detail": "line one\nline two"}, "one line"),
        ("site_at", {"detail": "x" * 201}, "most allowed is 200"),
        ("site_at", {"province": "x" * 65}, "province"),
        ("town", {"district": "南山区"}, "province, city, detail only"),
    ],
)
def test_bad_addresses_are_a_422_naming_the_field(api, key, sent, hint):
    body = problem(api.post(URL, json={key: sent}), 422, key)
    assert hint in message_at(body, key)


def test_a_nul_character_is_refused_at_its_part(api):
    problem(api.post(URL, json={"site_at": {"detail": "a\x00b"}}), 422, "site_at.detail")


def test_a_patch_replaces_the_whole_address(api):
    record = create(api, URL, site_at=SHENZHEN)
    patched = api.patch(f"{URL}/{record['id']}", json={"site_at": {"city": "北京市"}}).json()
    assert patched["site_at"] == {"province": None, "city": "北京市", "district": None, "detail": None}


def test_contains_looks_in_every_part(api):
    shenzhen = create(api, URL, site_at=SHENZHEN)
    toronto = create(api, URL, site_at={"province": "Ontario", "city": "Toronto", "detail": "100 Queen St W, 50% off"})
    empty = create(api, URL, title="nowhere")
    mine = {shenzhen["id"], toronto["id"], empty["id"]}

    def found(value: str) -> set[int]:
        return ids_matching(api, URL, {"field": "site_at", "op": "contains", "value": value}) & mine

    assert found("广东") == {shenzhen["id"]}
    assert found("南山区") == {shenzhen["id"]}
    assert found("科苑路") == {shenzhen["id"]}
    assert found("toronto") == {toronto["id"]}  # A-Z fold alike on both databases
    assert found("QUEEN st") == {toronto["id"]}
    assert found("50%") == {toronto["id"]}  # % and _ are text, not wildcards
    assert found("5_%") == set()
    assert found("Paris") == set()
    assert ids_matching(api, URL, {"field": "site_at", "op": "is_empty"}) & mine == {empty["id"]}
    assert ids_matching(api, URL, {"field": "site_at", "op": "not_empty"}) & mine == {shenzhen["id"], toronto["id"]}
    problem(api.get(URL, params={"filter": '{"field": "site_at", "op": "eq", "value": "x"}'}), 400)
    problem(api.get(URL, params={"sort": "site_at"}), 400)


def test_export_writes_one_cell_that_imports_back(api):
    full = create(api, URL, site_at=SHENZHEN)
    part = create(api, URL, site_at={"province": "Ontario", "detail": "100 Queen St W"})
    street = create(api, URL, site_at={"detail": "Room 3/F"})
    for fmt in ("csv", "xlsx"):
        cells = exported(api, URL, fmt, "Site At")
        assert cells[full["id"]] == "广东省 / 深圳市 / 南山区 / 科苑路 15 号"
        assert cells[part["id"]] == "Ontario /  /  / 100 Queen St W"
        assert cells[street["id"]] == "Room 3/F"
    unit, spec = FIELD_TYPES["address"], FieldSpec("w", "w", "address", "w", "Site At")
    for record in (full, part, street):
        cell = exported(api, URL, "csv", "Site At")[record["id"]]
        assert unit.dump(spec, unit.parse(spec, unit.from_cell(spec, cell))) == record["site_at"]


def test_openapi_describes_the_parts(api):
    schema = field_schema(api, APP, "Site", "site_at")
    assert set(schema["properties"]) == {"province", "city", "district", "detail"}
    assert schema["additionalProperties"] is False
    assert set(field_schema(api, APP, "Site", "town", write=True)["properties"]) == {"province", "city", "detail"}


def test_the_designer_checks_levels_and_refuses_addresses_in_rows(api):
    assert draft_problems(api, APP, form("ok", field("a", "address", levels=1))) == {}
    assert "fields[0].levels" in draft_problems(api, APP, form("deep", field("a", "address", levels=4)))
    rows = field("stops", "subform", fields=[field("at", "address")])
    assert "fields[0].fields[0].type" in draft_problems(api, APP, form("rows", rows))


@pytest.mark.parametrize(
    ("locale", "line"),
    [("en", "科苑路 15 号, 南山区, 深圳市, 广东省"), ("zh-CN", "广东省 深圳市 南山区 科苑路 15 号")],
)
def test_people_see_one_line(locale, line):
    unit, spec = FIELD_TYPES["address"], FieldSpec("w", "w", "address", "w", "Site At")
    assert unit.display(Translator(locale), UTC, spec, SHENZHEN) == line


@pytest.mark.parametrize(
    ("cell", "parts"),
    [
        ("北京市 / 海淀区 / 中关村大街 1 号", {"province": "北京市", "city": "海淀区", "detail": "中关村大街 1 号"}),
        ("中关村大街 1 号", {"detail": "中关村大街 1 号"}),
        ("A / B / C / Unit 4/F / rear", {"province": "A", "city": "B", "district": "C", "detail": "Unit 4/F / rear"}),
    ],
)
def test_a_cell_fills_the_levels_from_the_top(cell, parts):
    unit, spec = FIELD_TYPES["address"], FieldSpec("w", "w", "address", "w", "Site At")
    assert unit.parse(spec, unit.from_cell(spec, cell)) == {**dict.fromkeys(SHENZHEN), **parts}


def test_fewer_levels_are_refused_while_an_address_has_a_part_they_drop(api):
    key = "evo_levels"
    design = f"/api/design/apps/{APP}/forms/{key}"
    publish_app(api, APP, form(key, field("at", "address")))
    url = records_url(APP, key)
    deep = create(api, url, at=SHENZHEN)
    shallow = create(api, url, at={"province": "浙江省", "detail": "西湖"})
    assert api.put(design, json=form(key, field("at", "address", levels=1))).status_code == 200
    refused = api.post(f"{design}/publish")
    assert refused.status_code == 409, refused.text
    assert [r["id"] for r in refused.json()["plan"]["blockers"][0]["records"]] == [deep["id"]]
    api.patch(f"{url}/{deep['id']}", json={"at": {"province": "广东省"}})
    assert api.post(f"{design}/publish").status_code == 200
    assert api.get(f"{url}/{shallow['id']}").json()["at"] == {"province": "浙江省", "detail": "西湖"}
