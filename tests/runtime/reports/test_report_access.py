"""Who sees what in a report: row scopes, hidden fields, people and departments, joins, subform rows,
exports and dashboards, on both databases."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from tests.builders import admin_client, problem
from tests.conftest import DATABASES
from tests.runtime.flow.office import Office, Person
from tests.runtime.reports.shop import Shop, by


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("report_access")) as client:
        yield client


class World:
    def __init__(self, api) -> None:
        self.shop = Shop(api, app="buying")
        office = Office(api, "buying")
        self.sales = office.department("Sales")
        self.ops = office.department("Ops")
        self.ann, self.bob = office.person("ann"), office.person("bob")
        self.carol = office.person("carol")  # a manager of sales
        office.move(self.ann, department_id=self.sales)
        office.move(self.carol, department_id=self.sales)
        office.move(self.bob, department_id=self.ops)
        fields = {"secret": "hidden"}
        self._role(api, "requester", {"create": "all", "read": "own", "fields": fields}, self.ann, self.bob)
        self._role(api, "manager", {"read": "all", "export": "all"}, self.carol)
        self.acme = self.shop.add_supplier(name="Acme", country="de")
        self.zeta = self.shop.add_supplier(name="Zeta", country="cn")
        first = self.shop.add(
            self.ann.client,
            amount="10.00",
            category="it",
            supplier=self.acme,
            items=[{"item": "pen", "units": 2, "price": "1.50"}, {"item": "ink", "units": 1, "price": "7.00"}],
        )
        secret = api.patch(f"{self.shop.records}/{first['id']}", json={"secret": "1.00"})
        assert secret.status_code == 200, secret.text
        self.shop.add(
            self.ann.client,
            amount="20.00",
            category="office",
            supplier=self.zeta,
            items=[{"item": "pen", "units": 4, "price": "2.25"}],
        )
        self.shop.add(self.bob.client, amount="300.00", category="it", supplier=self.acme)
        # reports the export and dashboard tests run, whichever test runs first
        self.shop.report(
            "by_owner",
            dimensions=[{"field": "owner_id"}, {"field": "department_id"}],
            measures=[{"key": "n", "agg": "count"}, {"key": "total", "agg": "sum", "field": "amount"}],
        )
        self.shop.report("all_spend", measures=[{"key": "total", "agg": "sum", "field": "amount"}])
        self.shop.report(
            "by_country",
            dimensions=[{"field": "supplier.country"}],
            measures=[{"key": "total", "agg": "sum", "field": "amount"}],
        )

    def _role(self, api, key: str, grant: dict, *people: Person) -> None:
        role = {"app": "buying", "key": key, "label": key, "permissions": {self.shop.request: grant}}
        saved = api.post("/api/roles", json=role)
        assert saved.status_code == 200, saved.text
        added = api.post(f"/api/roles/buying/{key}/members", json={"add": [p.id for p in people]})
        assert added.status_code == 200, added.text


@pytest.fixture(scope="module")
def world(api):
    return World(api)


def test_a_requesters_report_shows_only_their_own_rows(world):
    shop = world.shop
    shop.report(
        "by_owner",
        dimensions=[{"field": "owner_id"}, {"field": "department_id"}],
        measures=[{"key": "n", "agg": "count"}, {"key": "total", "agg": "sum", "field": "amount"}],
    )
    mine = shop.answer("by_owner", world.ann.client)
    assert [(r["values"]["owner_id"], r["values"]["total"]) for r in mine["rows"]] == [(world.ann.id, "30.00")]
    assert mine["rows"][0]["labels"]["owner_id"].startswith("ann")
    assert mine["rows"][0]["labels"]["department_id"].startswith("Sales")
    assert mine["total"]["values"]["total"] == "30.00"
    for row in mine["rows"]:  # the drill-down lists the same rows for the same viewer
        assert len(shop.behind(row["filter"], world.ann.client)) == row["values"]["n"]
    everyone = shop.answer("by_owner", world.carol.client)
    assert everyone["total"]["values"]["total"] == "330.00"


def test_a_hidden_field_is_refused_as_dimension_measure_or_filter(world):
    shop = world.shop
    shop.report("secrets", dimensions=[{"field": "secret"}], measures=[{"key": "n", "agg": "count"}])
    body = problem(shop.run("secrets", world.ann.client), 422, "dimensions[0].field")
    assert "secret" in body["errors"][0]["message"]
    shop.report("secret_sum", measures=[{"key": "s", "agg": "sum", "field": "secret"}])
    problem(shop.run("secret_sum", world.ann.client), 422, "measures[0].field")
    shop.report(
        "secret_filter", measures=[{"key": "n", "agg": "count"}], filter={"field": "secret", "op": "gt", "value": 0}
    )
    problem(shop.run("secret_filter", world.ann.client), 422, "filter.field")
    assert shop.answer("secret_sum", world.carol.client)["total"]["values"]["s"] == "1.00"


def test_someone_without_read_may_not_run_it(world, api):
    shop = world.shop
    office = Office(api, "buying")
    stranger = office.person("dave")
    problem(shop.run("by_owner", stranger.client), 403)


def test_the_current_users_department_as_a_variable_and_as_a_shared_filter(world):
    shop = world.shop
    shop.report(
        "my_department",
        measures=[{"key": "total", "agg": "sum", "field": "amount"}],
        filter={"field": "department_id", "op": "eq", "value": {"var": "current_user.department_id"}},
    )
    assert shop.answer("my_department", world.carol.client)["total"]["values"]["total"] == "30.00"
    assert shop.answer("my_department")["total"]["values"]["total"] == "0.00"  # the admin has no department
    shop.report("all_spend", measures=[{"key": "total", "agg": "sum", "field": "amount"}])
    current = shop.answer("all_spend", world.carol.client, department="current")
    assert current["total"]["values"]["total"] == "30.00"
    ops = shop.answer("all_spend", world.carol.client, department=[world.ops])
    assert ops["total"]["values"]["total"] == "300.00"
    assert shop.behind(ops["total"]["filter"], world.carol.client)[0]["amount"] == "300.00"


def test_a_relations_fields_are_joined_and_labelled(world):
    shop = world.shop
    shop.report(
        "by_country",
        dimensions=[{"field": "supplier.country"}],
        measures=[
            {"key": "total", "agg": "sum", "field": "amount"},
            {"key": "best", "agg": "max", "field": "supplier.rating"},
        ],
    )
    answer = shop.answer("by_country")
    rows = by(answer, "supplier__country")
    assert rows["de"]["values"]["total"] == "310.00" and rows["cn"]["values"]["total"] == "20.00"
    assert rows["de"]["labels"]["supplier__country"] == "De"
    assert rows["de"]["filter"] is None  # no condition on the form can name a supplier's country
    shop.report("by_supplier", dimensions=[{"field": "supplier"}], measures=[{"key": "n", "agg": "count"}])
    suppliers = by(shop.answer("by_supplier"), "supplier")
    assert suppliers[world.acme]["labels"]["supplier"] == "Acme"
    assert len(shop.behind(suppliers[world.acme]["filter"])) == 2
    # carol may not read suppliers: their fields cannot be reported to her
    problem(shop.run("by_country", world.carol.client), 422, "dimensions[0].field")


def test_subform_rows_are_counted_and_summed(world):
    shop = world.shop
    shop.report(
        "lines",
        rows="items",
        dimensions=[{"field": "items.item"}],
        measures=[
            {"key": "lines", "agg": "count"},
            {"key": "units", "agg": "sum", "field": "items.units"},
            {"key": "price", "agg": "sum", "field": "items.price"},
            {"key": "requests", "agg": "count_distinct", "field": "id"},
        ],
    )
    rows = by(shop.answer("lines"), "items__item")
    assert rows["pen"]["values"] == {"items__item": "pen", "lines": 2, "units": 6, "price": "3.75", "requests": 2}
    assert rows["ink"]["values"]["price"] == "7.00"
    mine = by(shop.answer("lines", world.bob.client), "items__item")
    assert mine == {}  # bob's request has no lines, and he sees only his own


def test_a_datetime_is_bucketed_on_the_wall_clock(world):
    shop = world.shop
    shop.report(
        "by_month", dimensions=[{"field": "created_at", "bucket": "month"}], measures=[{"key": "n", "agg": "count"}]
    )
    answer = shop.answer("by_month")
    month = datetime.now(UTC).strftime("%Y-%m")
    assert {r["values"]["created_at__month"] for r in answer["rows"]} <= {month, _next_month(month)}
    assert sum(r["values"]["n"] for r in answer["rows"]) == 3
    for row in answer["rows"]:
        assert len(shop.behind(row["filter"])) == row["values"]["n"]


def _next_month(month: str) -> str:
    year, number = (int(p) for p in month.split("-"))
    return f"{year + number // 12}-{number % 12 + 1:02d}"


def test_export_needs_the_export_permission_and_writes_labels_and_numbers(world):
    problem(world.ann.client.post("/api/apps/buying/reports/by_owner/run.csv"), 403)
    response = world.carol.client.post("/api/apps/buying/reports/by_owner/run.csv", headers={"Accept-Language": "en"})
    assert response.status_code == 200, response.text
    lines = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert lines[0] == ["Owner", "Department", "n", "Amount"]
    assert lines[1][0].startswith("ann") and lines[1][1].startswith("Sales")
    assert len(lines) == 1 + 2 + 1  # header, ann and bob, the total
    assert lines[-1][-1] == "330.00"
    link = world.carol.client.get(
        "/api/apps/buying/reports/by_owner/run.xlsx", params={"filters": '{"department": "current"}'}
    )
    assert link.status_code == 200, link.text
    sheet = load_workbook(io.BytesIO(link.content)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[1][3] == Decimal("30.00") or values[1][3] == 30


def test_a_dashboard_runs_each_report_with_the_shared_filters(world, api):
    board = {
        "key": "spend",
        "label": "Spend",
        "items": [
            {"report": "all_spend", "x": 0, "y": 0, "w": 6, "h": 4},
            {"report": "by_country", "x": 6, "y": 0, "w": 6, "h": 4},
        ],
        "filters": [{"kind": "department"}],
    }
    saved = api.put("/api/design/apps/buying/dashboards/spend", json=board)
    assert saved.status_code == 200 and saved.json()["problems"] == [], saved.text
    assert api.post("/api/design/apps/buying/dashboards/spend/publish").status_code == 200
    answer = world.carol.client.post("/api/apps/buying/dashboards/spend/run", json={"department": [world.ops]}).json()
    first, second = answer["items"]
    assert first["result"]["total"]["values"]["total"] == "300.00"
    assert second["error"]["status"] == 422  # carol may not read suppliers: that one item says why
    broken = {**board, "key": "broken", "items": [{"report": "nothing_here", "x": 10, "y": 0, "w": 6, "h": 4}]}
    problems = api.put("/api/design/apps/buying/dashboards/broken", json=broken).json()["problems"]
    assert {p["path"] for p in problems} == {"items[0].report", "items[0].w"}
    problem(api.post("/api/design/apps/buying/dashboards/broken/publish"), 422, "items[0].report")
    versions = api.get("/api/design/apps/buying/dashboards/spend/versions").json()["items"]
    assert [v["version"] for v in versions] == [1]


def test_a_shared_filter_a_reports_form_cannot_take_is_left_out_for_that_report(world, api):
    shop = world.shop
    suppliers = {
        "key": "suppliers",
        "label": "Suppliers",
        "form": shop.supplier,
        "measures": [{"key": "n", "agg": "count"}],
    }
    assert api.put("/api/design/apps/buying/reports/suppliers", json=suppliers).json()["problems"] == []
    assert api.post("/api/design/apps/buying/reports/suppliers/publish").status_code == 200
    board = {
        "key": "mixed",
        "label": "Mixed",
        "items": [
            {"report": "all_spend", "x": 0, "y": 0, "w": 6, "h": 4},
            {"report": "suppliers", "x": 6, "y": 0, "w": 6, "h": 4},
        ],
        "filters": [{"kind": "field", "field": "category"}],
    }
    assert api.put("/api/design/apps/buying/dashboards/mixed", json=board).json()["problems"] == []
    assert api.post("/api/design/apps/buying/dashboards/mixed/publish").status_code == 200
    body = {"filter": {"field": "category", "op": "eq", "value": "office"}}
    spend, counted = api.post("/api/apps/buying/dashboards/mixed/run", json=body).json()["items"]
    assert spend["result"]["total"]["values"]["total"] == "20.00"
    assert counted["result"]["total"]["values"]["n"] == 2 and counted["result"]["ignored_filters"] == ["filter"]
    # a single report run is strict: the filter does not fit, and says where
    problem(api.post("/api/apps/buying/reports/suppliers/run", json=body), 422, "filter.field")
