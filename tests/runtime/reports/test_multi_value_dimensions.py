"""A multiple-choice or people field as a report dimension: a record counts under each of its values, in one
statement, with the viewer's row scope and hidden fields, on both databases."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from tests.builders import admin_client, problem
from tests.conftest import DATABASES
from tests.runtime.flow.office import Office
from tests.runtime.reports.shop import Shop, by


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("multi_value")) as client:
        yield client


class Tagged:
    def __init__(self, api) -> None:
        self.shop = Shop(api, app="tagged")
        office = Office(api, "tagged")
        self.ann, self.bob = office.person("ann"), office.person("bob")
        role = {
            "app": "tagged",
            "key": "requester",
            "label": "requester",
            "permissions": {self.shop.request: {"create": "all", "read": "own", "fields": {"amount": "hidden"}}},
        }
        assert api.post("/api/roles", json=role).status_code == 200
        added = api.post("/api/roles/tagged/requester/members", json={"add": [self.ann.id, self.bob.id]})
        assert added.status_code == 200, added.text
        shop = self.shop
        shop.add(self.ann.client, qty=1, category="it", tags=["red", "green"], watchers=[self.ann.id, self.bob.id])
        shop.add(self.ann.client, qty=2, category="it", tags=["red"], watchers=[self.bob.id])
        shop.add(self.bob.client, qty=4, category="office", tags=["green", "blue"])
        shop.add(self.bob.client, qty=8, category="office")
        records = api.get(shop.records, params={"limit": 50}).json()["items"]
        amounts = {1: "10.00", 2: "20.00", 4: "40.00", 8: "80.00"}
        for record in records:
            patched = api.patch(f"{shop.records}/{record['id']}", json={"amount": amounts[record["qty"]]})
            assert patched.status_code == 200, patched.text
        shop.report(
            "by_tag",
            dimensions=[{"field": "tags"}],
            measures=[
                {"key": "n", "agg": "count"},
                {"key": "units", "agg": "sum", "field": "qty"},
                {"key": "per_record", "formula": "units / n"},
            ],
        )


@pytest.fixture(scope="module")
def tagged(api):
    return Tagged(api)


def test_a_record_counts_under_each_of_its_options_and_the_total_counts_it_once(tagged):
    answer = tagged.shop.answer("by_tag")
    rows = by(answer, "tags")
    assert {k: (r["values"]["n"], r["values"]["units"]) for k, r in rows.items()} == {
        "red": (2, 3),
        "green": (2, 5),
        "blue": (1, 4),
        None: (1, 8),
    }
    assert rows["green"]["labels"]["tags"] == "Green"
    assert rows["green"]["values"]["per_record"] == "2.50"
    assert rows[None]["labels"]["tags"] in ("(empty)", "（空）")
    assert sum(r["values"]["n"] for r in answer["rows"]) == 6  # more than the records...
    assert answer["total"]["values"]["n"] == 4  # ...which the total counts once each
    assert answer["total"]["values"]["units"] == 15
    assert answer["multi_value"] is True
    assert answer["columns"][0]["multiple"] is True
    for row in answer["rows"]:  # the drill-down lists the records holding the value
        behind = tagged.shop.behind(row["filter"])
        assert len(behind) == row["values"]["n"]
        assert sum(r["qty"] for r in behind) == row["values"]["units"]


def test_a_single_value_report_says_its_rows_add_up(tagged):
    tagged.shop.report("by_category", dimensions=[{"field": "category"}], measures=[{"key": "n", "agg": "count"}])
    answer = tagged.shop.answer("by_category")
    assert answer["multi_value"] is False
    assert sum(r["values"]["n"] for r in answer["rows"]) == answer["total"]["values"]["n"] == 4


def test_subtotals_of_a_category_count_its_records_once_under_a_tag_dimension(tagged):
    tagged.shop.report(
        "category_tag",
        dimensions=[{"field": "category"}, {"field": "tags"}],
        measures=[{"key": "n", "agg": "count"}, {"key": "total", "agg": "sum", "field": "amount"}],
    )
    answer = tagged.shop.answer("category_tag")
    cells = {(r["values"]["category"], r["values"]["tags"]): r["values"]["n"] for r in answer["rows"]}
    assert cells == {
        ("it", "red"): 2,
        ("it", "green"): 1,
        ("office", "green"): 1,
        ("office", "blue"): 1,
        ("office", None): 1,
    }
    subtotals = {s["values"]["category"]: (s["values"]["n"], s["values"]["total"]) for s in answer["subtotals"]}
    assert subtotals == {"it": (2, "30.00"), "office": (2, "120.00")}
    assert answer["total"]["values"] == {"n": 4, "total": "150.00"}
    for row in answer["rows"]:
        assert len(tagged.shop.behind(row["filter"])) == row["values"]["n"]


def test_top_n_ranks_the_options_and_folds_the_others(tagged):
    tagged.shop.report(
        "top_tag",
        dimensions=[{"field": "tags"}],
        measures=[{"key": "units", "agg": "sum", "field": "qty"}],
        limit=1,
        others=True,
    )
    answer = tagged.shop.answer("top_tag")
    assert [(r["values"]["tags"], r["other"], r["values"]["units"]) for r in answer["rows"]] == [
        (None, False, 8),
        (None, True, 12),  # red 3 + green 5 + blue 4
    ]


def test_people_count_under_each_person_labelled_by_name(tagged):
    tagged.shop.report("by_watcher", dimensions=[{"field": "watchers"}], measures=[{"key": "n", "agg": "count"}])
    answer = tagged.shop.answer("by_watcher")
    rows = by(answer, "watchers")
    assert {k: r["values"]["n"] for k, r in rows.items()} == {tagged.ann.id: 1, tagged.bob.id: 2, None: 2}
    assert rows[tagged.bob.id]["labels"]["watchers"].startswith("bob")
    assert answer["total"]["values"]["n"] == 4
    for row in answer["rows"]:
        assert len(tagged.shop.behind(row["filter"])) == row["values"]["n"]


def test_the_viewers_row_scope_and_hidden_fields_still_apply(tagged):
    mine = tagged.shop.answer("by_tag", tagged.ann.client)  # ann reads her own two requests
    assert {k: r["values"]["n"] for k, r in by(mine, "tags").items()} == {"red": 2, "green": 1}
    assert mine["total"]["values"]["n"] == 2
    for row in mine["rows"]:
        assert len(tagged.shop.behind(row["filter"], tagged.ann.client)) == row["values"]["n"]
    tagged.shop.report(
        "tag_amount",
        dimensions=[{"field": "tags"}],
        measures=[{"key": "n", "agg": "count"}, {"key": "total", "agg": "sum", "field": "amount"}],
    )
    refused = tagged.shop.run("tag_amount", tagged.ann.client)  # sums the amount, hidden from her
    problem(refused, 422, "measures[1].field")


def test_the_designer_check_takes_a_multi_value_dimension(tagged, api):
    shop = tagged.shop
    body = {"key": "tags_check", "label": "t", "form": shop.request, "dimensions": [{"field": "tags"}]}
    saved = api.put(
        f"/api/design/apps/{shop.app}/reports/tags_check", json={**body, "measures": [{"key": "n", "agg": "count"}]}
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["problems"] == []
    preview = shop.preview(dimensions=[{"field": "watchers"}], measures=[{"key": "n", "agg": "count"}])
    assert preview.status_code == 200, preview.text
    assert sum(r["values"]["n"] for r in preview.json()["rows"]) == 5
    assert Decimal(by(shop.answer("by_tag"), "tags")["blue"]["values"]["per_record"]) == Decimal("4.00")


def test_the_report_page_notes_the_overlap_and_a_point_cross_filters_by_contains(tagged, api):
    tagged.shop.report(
        "tag_bars", dimensions=[{"field": "tags"}], measures=[{"key": "n", "agg": "count"}], display={"type": "bar"}
    )
    html = api.get("/apps/tagged/reports/tag_bars", headers={"Accept-Language": "en"}).text
    assert "data-multi-value" in html and "add up to more than the total" in html
    boot = json.loads(re.search(r'class="chart-boot">(.*?)</script>', html, re.S).group(1))
    points = {p["labels"][0]: p for p in boot["points"]}
    assert points["Red"]["cross"] == {"field": "tags", "op": "contains", "value": "red"}
    assert "data-multi-value" not in api.get("/apps/tagged/reports/by_category").text


def test_the_designer_offers_linked_fields_and_subform_columns_in_groups(tagged, api):
    html = api.get("/design/apps/tagged/reports/new_one").text
    boot = json.loads(re.search(r'id="designer-boot">(.*?)</script>', html, re.S).group(1))
    source = next(s for s in boot["sources"] if s["key"] == tagged.shop.request)
    own = {f["key"]: f["may_be"] for f in source["fields"]}
    assert own["tags"]["dimension"] and own["watchers"]["dimension"]
    groups = {g["key"]: g for g in source["groups"]}
    assert groups["supplier"]["kind"] == "relation" and groups["items"]["kind"] == "rows"
    supplier = {f["key"]: f["may_be"] for f in groups["supplier"]["fields"]}
    assert supplier["supplier.name"]["dimension"] and supplier["supplier.rating"]["measure"]
    items = {f["key"]: f["may_be"] for f in groups["items"]["fields"]}
    assert items["items.price"]["measure"] and items["items.item"]["dimension"]


def test_top_n_of_a_single_value_first_dimension_ranks_records_not_their_values(tagged):
    tagged.shop.report(
        "top_category_tag",
        dimensions=[{"field": "category"}, {"field": "tags"}],
        measures=[{"key": "n", "agg": "count"}, {"key": "units", "agg": "sum", "field": "qty"}],
        sort=[{"by": "units", "desc": True}],
        limit=1,
    )
    answer = tagged.shop.answer("top_category_tag")
    assert {r["values"]["category"] for r in answer["rows"]} == {"office"}
    assert [(s["values"]["category"], s["values"]["n"], s["values"]["units"]) for s in answer["subtotals"]] == [
        ("office", 2, 12)
    ]
    assert answer["total"]["values"] == {"n": 2, "units": 12}
