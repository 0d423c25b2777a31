"""Actions on selected records, grouping, and a view's layout (column order, widths, grouping)."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from tests.builders import problem
from tests.runtime.flow.test_procurement_flow import REQUESTS, Company
from tests.runtime.pages.test_list_page import URL, add, bob
from tests.runtime.pages.test_list_views import VIEWS, csrf, setup

ACTIONS = "/api/apps/claims/forms/claim/records/actions"
CLAIMS = "/api/apps/claims/forms/claim/records"


def test_bulk_delete_applies_the_permission_to_each_row_and_says_which_were_refused(client: TestClient) -> None:
    setup(client)  # Taxi, Lunch, Train by the admin
    browser = bob(client, {"read": "all", "create": "all", "delete": "own"})
    mine = browser.post(CLAIMS, json={"title": "Bob claim", "amount": "5.00"}, headers=_csrf(browser)).json()["id"]
    theirs = [item["id"] for item in client.get(CLAIMS).json()["items"] if item["title"] == "Taxi"][0]
    answer = browser.post(ACTIONS, json={"action": "delete", "ids": [mine, theirs, 999999]}, headers=_csrf(browser))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["done"], body["failed"]) == (1, 2)
    assert [(i["id"], i["ok"], i.get("status")) for i in body["items"]] == [
        (mine, True, None),
        (theirs, False, 403),
        (999999, False, 404),
    ]
    assert body["items"][1]["detail"]  # says why
    left = {item["title"] for item in client.get(CLAIMS).json()["items"]}
    assert left == {"Taxi", "Lunch", "Train"}  # only Bob's own went


def test_bulk_submit_goes_through_the_flow_per_record(client: TestClient) -> None:
    company = Company(client)
    first, second = company.request(("Laptop", 1, "100.00")), company.request(("Mouse", 2, "10.00"))
    assert company.requester.post(f"{REQUESTS}/{second['id']}/submit", {}).status_code == 200
    answer = company.requester.post(f"{REQUESTS}/actions", {"action": "submit", "ids": [first["id"], second["id"]]})
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert items[0] == {"id": first["id"], "ok": True}
    assert items[1]["ok"] is False and items[1]["status"] == 409 and "in review" in items[1]["detail"]
    assert company.status(first) == "in_review"


def test_a_bulk_request_of_the_wrong_shape_names_the_path(client: TestClient) -> None:
    setup(client)
    problem(client.post(ACTIONS, json={"action": "approve", "ids": [1]}), 422, "action")
    problem(client.post(ACTIONS, json={"action": "delete", "ids": [1, "two"]}), 422, "ids[1]")
    problem(client.post(ACTIONS, json={"action": "delete", "ids": []}), 422, "ids")
    problem(client.post(ACTIONS, json={"action": "delete", "ids": list(range(1, 202))}), 422, "ids")
    assert (
        client.post("/api/apps/claims/forms/nope/records/actions", json={"action": "delete", "ids": [1]}).status_code
        == 404
    )


def test_the_list_page_deletes_selected_rows_and_reports_each_refusal(client: TestClient) -> None:
    setup(client)
    browser = bob(client, {"read": "all", "create": "all", "delete": "own"})
    page = browser.get(URL).text
    assert "data-bulk-all" in page and 'value="delete"' in page and 'value="export"' not in page  # no export grant
    assert 'aria-label="Select Taxi"' in page
    ids = {item["title"]: item["id"] for item in client.get(CLAIMS).json()["items"]}
    mine = browser.post(CLAIMS, json={"title": "Bob claim"}, headers=_csrf(browser)).json()["id"]
    result = browser.post(
        f"{URL}/bulk", data={"csrf_token": csrf(page), "action": "delete", "ids": [str(mine), str(ids["Taxi"])]}
    )
    assert result.status_code == 200
    assert "1 record deleted." in result.text and "1 record was refused:" in result.text
    assert f'records/{ids["Taxi"]}">#{ids["Taxi"]}</a>' in result.text
    forged = browser.post(f"{URL}/bulk", data={"csrf_token": "x", "action": "delete", "ids": [str(ids["Lunch"])]})
    assert forged.status_code == 403
    assert len(client.get(CLAIMS).json()["items"]) == 3


def test_export_selected_leads_to_the_export_of_those_rows(client: TestClient) -> None:
    setup(client)
    page = client.get(URL).text
    ids = {item["title"]: item["id"] for item in client.get(CLAIMS).json()["items"]}
    chosen = [str(ids["Taxi"]), str(ids["Train"])]
    moved = client.post(
        f"{URL}/bulk", data={"csrf_token": csrf(page), "action": "export", "ids": chosen, "format": "csv"},
        follow_redirects=False,
    )  # fmt: skip
    assert moved.status_code == 303
    target = moved.headers["location"]
    assert json.loads(parse_qs(urlsplit(target).query)["filter"][0]) == {
        "field": "id", "op": "in", "value": [ids["Taxi"], ids["Train"]],
    }  # fmt: skip
    csv = client.get(target).text
    assert "Taxi" in csv and "Train" in csv and "Lunch" not in csv


def test_the_list_groups_by_an_option_with_a_count_per_group(client: TestClient) -> None:
    setup(client)
    add(client, title="Hotel", amount="200.00")  # no kind
    listed = client.get(CLAIMS, params={"group": "kind", "sort": "title"}).json()
    assert [i["title"] for i in listed["items"]] == ["Lunch", "Taxi", "Train", "Hotel"] or [
        i["title"] for i in listed["items"]
    ] == ["Hotel", "Lunch", "Taxi", "Train"]  # empty values first or last, as the database sorts them
    assert sorted((g["value"] or "", g["count"]) for g in listed["groups"]) == [("", 1), ("meal", 1), ("travel", 2)]
    problem(client.get(CLAIMS, params={"group": "title"}), 400, "group")
    page = client.get(URL, params={"group": "kind", "sort": "title"}).text
    heads = re.findall(r'<th scope="rowgroup" colspan="\d+">([^<]+) <span class="group-count">([^<]+)</span>', page)
    assert ("Travel", "2 records") in heads and ("Meal", "1 record") in heads and ("(empty)", "1 record") in heads
    assert '<option value="kind" selected>Kind</option>' in page


def test_a_view_keeps_column_order_widths_and_grouping(client: TestClient) -> None:
    setup(client)
    saved = client.post(
        VIEWS,
        json={"name": "By kind", "columns": ["amount", "title"], "widths": {"title": 240}, "group_by": "kind"},
    )
    assert saved.status_code == 201, saved.text
    view = saved.json()
    assert (view["columns"], view["widths"], view["group_by"]) == (["amount", "title"], {"title": 240}, "kind")
    page = client.get(URL, params={"view": view["id"]}).text
    assert re.findall(r'<col data-key="(\w+)"', page) == ["amount", "title"]
    assert '<col data-key="title" data-label="Title" data-width="240">' in page
    assert 'class="group-row"' in page
    changed = client.patch(f"{VIEWS}/{view['id']}", json={"widths": {"amount": 120}, "group_by": None})
    assert (changed.json()["widths"], changed.json()["group_by"]) == ({"amount": 120}, None)
    problem(client.patch(f"{VIEWS}/{view['id']}", json={"widths": {"title": 5}}), 422, "widths.title")
    problem(client.patch(f"{VIEWS}/{view['id']}", json={"widths": {"nope": 100}}), 422, "widths.nope")
    problem(client.patch(f"{VIEWS}/{view['id']}", json={"group_by": "amount"}), 422, "group_by")
    problem(client.patch(f"{VIEWS}/{view['id']}", json={"widths": [1]}), 422, "widths")


def test_the_page_saves_a_view_with_its_order_widths_and_grouping(client: TestClient) -> None:
    setup(client)
    page = client.get(URL).text
    answer = client.post(
        f"{URL}/views",
        data={
            "csrf_token": csrf(page), "name": "Mine", "filter": "", "sort": "",
            "columns": ["kind", "title"], "widths": '{"kind": 160}', "group_by": "kind",
        },
        follow_redirects=False,
    )  # fmt: skip
    assert answer.status_code == 303
    [view] = client.get(VIEWS).json()["items"]
    assert (view["columns"], view["widths"], view["group_by"]) == (["kind", "title"], {"kind": 160}, "kind")


def _csrf(browser: TestClient) -> dict[str, str]:
    return {"X-CSRF-Token": csrf(browser.get(URL).text)}
