"""The procurement example's spend reports and dashboard: installed with the package, they run on its data."""

from __future__ import annotations

import json
from decimal import Decimal

from tests.runtime.flow.test_procurement_flow import BIG, SMALL, Company

APP = "procurement"
REQUESTS = f"/api/apps/{APP}/forms/purchase_request/records"


def test_the_spend_dashboard_runs_every_report_on_the_apps_requests(client):
    c = Company(client)  # the package installed, with the people its flow names
    listed = client.get(f"/api/apps/{APP}/reports").json()["items"]
    assert {r["key"] for r in listed} >= {"spend_by_department", "top_suppliers", "open_large_requests"}
    big, small = c.request(*BIG), c.request(*SMALL, category="office")
    c.request(*SMALL, title="Still a draft")
    for record in (big, small):
        submitted = c.requester.client.post(f"{REQUESTS}/{record['id']}/submit")
        assert submitted.status_code == 200, submitted.text
    board = client.post(f"/api/apps/{APP}/dashboards/spend/run", json={}, headers={"Accept-Language": "en"})
    assert board.status_code == 200, board.text
    items = {item["report"]: item for item in board.json()["items"]}
    assert all("result" in item for item in items.values()), items
    by_department = items["spend_by_department"]["result"]
    assert Decimal(by_department["total"]["values"]["spend"]) == Decimal(big["amount"]) + Decimal(small["amount"])
    for row in by_department["rows"]:
        behind = client.get(REQUESTS, params={"filter": json.dumps(row["filter"])}).json()["items"]
        assert sum(Decimal(r["amount"]) for r in behind) == Decimal(row["values"]["spend"])
    large = items["open_large_requests"]["result"]
    assert large["total"]["values"]["requests"] == 1
    assert large["rows"][0]["values"]["largest"] == big["amount"] == "105600.00"
    top = items["top_suppliers"]["result"]
    assert [r["labels"]["supplier"] for r in top["rows"]] == ["Northwind Computing"]
    lines = {r["values"]["items__item"]: r["values"] for r in items["spend_by_item"]["result"]["rows"]}
    assert lines["ThinkPad X1 Carbon"] == {"items__item": "ThinkPad X1 Carbon", "qty": 6, "spend": "83400.00"}
    categories = {
        r["values"]["category"]: r["labels"]["category"] for r in items["spend_by_category"]["result"]["rows"]
    }
    assert set(categories) == {"it", "office"}
    # the approvals dashboard: process views of the requests' flow next to a report
    board = client.post(f"/api/apps/{APP}/dashboards/approvals/run", json={}, headers={"Accept-Language": "en"})
    assert board.status_code == 200, board.text
    views = {item.get("view") or item["report"]: item for item in board.json()["items"]}
    assert all("result" in item for item in views.values()), views
    assert views["rates"]["result"]["total"]["values"]["submitted"] == 2
    assert sum(r["values"]["open"] for r in views["backlog_by_step"]["result"]["rows"]) == 2
    assert views["by_month"]["result"]["total"]["values"]["submitted"] == 2
