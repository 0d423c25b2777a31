"""Rollups: a contract shows figures from its payments, always current, over HTTP on both databases.

Payments link to contracts; a contract's `received` sums its payments' amounts, `paid_count`
counts them, `approved` sums only approved ones, and `average`, `largest` and `smallest` follow
the same rows. The figures follow every create, change, delete and restore of a payment, are
exact decimals, can sort and filter a list, are never sent, and a reader who may not read
payments does not see them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.builders import admin_client, field, form, options, problem, publish_app, records_url
from tests.conftest import DATABASES, another_client, create_user, log_in

APP = "rolls"
CONTRACTS = records_url(APP, "contract")
PAYMENTS = records_url(APP, "payment")
PASSWORD = "rollup-password-1"


def rollup(key: str, aggregate: str, value: str | None = "amount", **extra: Any) -> dict[str, Any]:
    more = {"field": value} if value else {}
    return field(key, "rollup", form="payment", via="contract", aggregate=aggregate, **more, **extra)


def _forms() -> list[dict[str, Any]]:
    contract = form(
        "contract",
        field("title", required=True),
        field("value", "decimal", precision=14, scale=2),
        title_field="title",
    )
    payment = form(
        "payment",
        field("note"),
        {"id": "fld_contract", "key": "contract", "type": "relation", "label": "Contract", "form": "contract"},
        field("amount", "decimal", precision=14, scale=2),
        field("state", "select", options=options("pending", "approved")),
        field("units", "integer"),
    )
    with_rollups = {
        **contract,
        "fields": [
            *contract["fields"],
            rollup("received", "sum"),
            rollup("paid_count", "count", None),
            rollup("approved", "sum", filter={"field": "state", "op": "eq", "value": "approved"}),
            rollup("average", "avg"),
            rollup("largest", "max"),
            rollup("smallest", "min"),
            rollup("average_units", "avg", "units"),
        ],
    }
    return [contract, payment, with_rollups]


@dataclass
class Office:
    admin: TestClient
    clerk: TestClient  # reads contracts, not payments
    auditor: TestClient  # reads both


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _person(admin: TestClient, name: str) -> TestClient:
    user = create_user(admin, f"{name}@rolls.example.com", PASSWORD)
    browser = another_client(admin)
    log_in(browser, f"{name}@rolls.example.com", PASSWORD)
    browser.user_id = user["id"]  # type: ignore[attr-defined]
    return browser


ROLES = {
    "clerk": {"contract": {"read": "all"}},
    "auditor": {"contract": {"read": "all"}, "payment": {"read": "all"}},
}


@pytest.fixture(scope="module", params=DATABASES)
def office(request, tmp_path_factory) -> Any:
    with admin_client(request.param, tmp_path_factory.mktemp("rolls")) as admin:
        publish_app(admin, APP, *_forms())
        people = {}
        for key, permissions in ROLES.items():
            people[key] = _person(admin, key)
            _ok(admin.post("/api/roles", json={"app": APP, "key": key, "label": key, "permissions": permissions}))
            _ok(admin.post(f"/api/roles/{APP}/{key}/members", json={"add": [people[key].user_id]}))
        yield Office(admin, people["clerk"], people["auditor"])


def _contract(office: Office, title: str) -> int:
    return _ok(office.admin.post(CONTRACTS, json={"title": title}), 201)["id"]


def _pay(office: Office, contract: int, amount: str, state: str = "pending", units: int | None = None) -> dict:
    body = {"contract": contract, "amount": amount, "state": state, "units": units}
    return _ok(office.admin.post(PAYMENTS, json=body), 201)


def _read(client: TestClient, contract: int) -> dict[str, Any]:
    return _ok(client.get(f"{CONTRACTS}/{contract}"))


def test_a_new_contract_has_received_nothing(office: Office) -> None:
    record = _read(office.admin, _contract(office, "Empty"))
    assert record["received"] == "0.00"
    assert record["approved"] == "0.00"
    assert record["paid_count"] == 0
    assert record["average"] is None and record["largest"] is None and record["smallest"] is None


def test_figures_follow_creates_changes_deletes_and_restores_of_payments(office: Office) -> None:
    contract = _contract(office, "Followed")
    first = _pay(office, contract, "1000.10", "approved", units=1)
    second = _pay(office, contract, "0.05", units=2)
    _pay(office, _contract(office, "Someone else's"), "99999.99")  # another contract's payment
    record = _read(office.admin, contract)
    assert record["received"] == "1000.15"
    assert record["paid_count"] == 2
    assert record["approved"] == "1000.10"
    assert record["average"] == "500.08"  # 500.075 rounded half away from zero, exactly
    assert record["largest"] == "1000.10" and record["smallest"] == "0.05"
    assert record["average_units"] == "1.50"

    changed = {"amount": "2000.00", "state": "approved"}
    _ok(office.admin.patch(f"{PAYMENTS}/{second['id']}", json=changed, headers={"If-Match": '"1"'}))
    record = _read(office.admin, contract)
    assert record["received"] == "3000.10" and record["approved"] == "3000.10"

    _ok(office.admin.delete(f"{PAYMENTS}/{first['id']}", headers={"If-Match": '"1"'}), 204)
    record = _read(office.admin, contract)
    assert record["received"] == "2000.00" and record["paid_count"] == 1, "a deleted payment does not count"

    _ok(office.admin.post(f"{PAYMENTS}/{first['id']}/restore"))
    record = _read(office.admin, contract)
    assert record["received"] == "3000.10" and record["paid_count"] == 2


def test_sums_stay_exact_past_what_a_float_holds(office: Office) -> None:
    contract = _contract(office, "Exact")
    for _ in range(3):
        _pay(office, contract, "333333333333.33")
    _pay(office, contract, "0.01")
    assert _read(office.admin, contract)["received"] == "1000000000000.00"


def test_a_list_sorts_and_filters_by_a_rollup(office: Office) -> None:
    small, big, none = (_contract(office, f"Sorted {n}") for n in ("small", "big", "none"))
    _pay(office, small, "10.00")
    _pay(office, big, "700.00")
    _pay(office, big, "1.00")
    mine = {"field": "title", "op": "starts_with", "value": "Sorted "}
    items = _ok(office.admin.get(CONTRACTS, params={"sort": "-received", "filter": _json(mine)}))["items"]
    assert [i["id"] for i in items] == [big, small, none]
    assert [i["received"] for i in items] == ["701.00", "10.00", "0.00"]
    page = _ok(office.admin.get(CONTRACTS, params={"sort": "paid_count", "filter": _json(mine), "limit": 1}))
    assert [i["id"] for i in page["items"]] == [none]
    rest = _ok(
        office.admin.get(CONTRACTS, params={"sort": "paid_count", "filter": _json(mine), "cursor": page["next_cursor"]})
    )
    assert [i["id"] for i in rest["items"]] == [small, big]
    over = {"and": [mine, {"field": "received", "op": "gt", "value": "100"}]}
    assert [i["id"] for i in _ok(office.admin.get(CONTRACTS, params={"filter": _json(over)}))["items"]] == [big]


def _json(value: Any) -> str:
    return json.dumps(value)


def test_a_rollup_is_never_sent(office: Office) -> None:
    response = office.admin.post(CONTRACTS, json={"title": "Sent", "received": "5.00"})
    problem(response, 422, "received")


def test_a_reader_who_may_not_read_payments_does_not_see_their_figures(office: Office) -> None:
    contract = _contract(office, "Private")
    _pay(office, contract, "42.00")
    seen = _read(office.clerk, contract)
    assert seen["title"] == "Private"
    assert "received" not in seen and "paid_count" not in seen
    listed = _ok(office.clerk.get(CONTRACTS, params={"sort": "-id", "limit": 1}))["items"][0]
    assert "received" not in listed
    problem(office.clerk.get(CONTRACTS, params={"sort": "received"}), 400, "sort")
    problem(office.clerk.get(CONTRACTS, params={"filter": _json({"field": "received", "op": "gt", "value": "1"})}), 400)
    assert _read(office.auditor, contract)["received"] == "42.00"
    document = _ok(office.clerk.get(f"/api/apps/{APP}/openapi.json"))
    assert "received" not in json.dumps(document["components"]["schemas"]), "nor does their API document"
    seen_by_auditor = _ok(office.auditor.get(f"/api/apps/{APP}/openapi.json"))
    assert "received" in json.dumps(seen_by_auditor["components"]["schemas"])


def test_the_record_page_shows_the_figure(office: Office) -> None:
    contract = _contract(office, "Paged")
    _pay(office, contract, "1234.50")
    page = office.admin.get(f"/apps/{APP}/forms/contract/records/{contract}")
    assert page.status_code == 200, page.text
    assert "1,234.50" in page.text


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        ({"form": "nowhere"}, "fields[1].form", "not a form"),
        ({"via": "note"}, "fields[1].via", "links to audit"),
        ({"field": "state"}, "fields[1].field", "not a number field"),
        ({"field": None}, "fields[1].field", "number field"),
        ({"form": "audit"}, "fields[1].form", "not its own"),
        ({"filter": {"field": "colour", "op": "eq", "value": "red"}}, "fields[1].filter.field", "colour"),
    ],
)
def test_a_bad_rollup_is_refused_at_its_path(office: Office, change: dict, path: str, words: str) -> None:
    bad = {k: v for k, v in {**rollup("broken", "sum"), **change}.items() if v is not None}
    document = form("audit", field("title"), bad)
    _ok(office.admin.put(f"/api/design/apps/{APP}/forms/audit", json=document))
    body = problem(office.admin.post(f"/api/design/apps/{APP}/forms/audit/publish"), 422, path)
    assert any(words in e["message"] for e in body["errors"] if e["path"] == path), body


def test_a_rule_cannot_read_a_rollup(office: Office) -> None:
    contract = _forms()[2]
    ruled = {
        **contract,
        "validations": [{"condition": {"field": "received", "op": "lte", "value": "10"}, "message": "Too much"}],
    }
    _ok(office.admin.put(f"/api/design/apps/{APP}/forms/contract", json=ruled))
    problem(office.admin.post(f"/api/design/apps/{APP}/forms/contract/publish"), 422, "validations[0].condition.field")
    _ok(office.admin.put(f"/api/design/apps/{APP}/forms/contract", json=contract))


def test_publishing_a_rollup_adds_no_column(office: Office) -> None:
    contract = _forms()[2]
    more = {**contract, "fields": [*contract["fields"], rollup("payments", "count", None)]}
    _ok(office.admin.put(f"/api/design/apps/{APP}/forms/contract", json=more))
    dry = _ok(office.admin.post(f"/api/design/apps/{APP}/forms/contract/publish", params={"dry_run": "true"}))
    assert dry["plan"]["steps"] == [] and dry["plan"]["can_apply"], dry
    assert [(c["change"], c["key"]) for c in dry["plan"]["changes"]] == [("added", "payments")], dry
    _ok(office.admin.post(f"/api/design/apps/{APP}/forms/contract/publish"))
    record = _read(office.admin, _contract(office, "Counted"))
    assert record["payments"] == 0


def test_an_export_and_the_list_page_carry_the_figure(office: Office) -> None:
    contract = _contract(office, "Exported")
    _pay(office, contract, "77.70")
    mine = _json({"field": "title", "op": "eq", "value": "Exported"})
    export = office.admin.get(
        f"/api/apps/{APP}/forms/contract/export", params={"format": "csv", "columns": "title,received", "filter": mine}
    )
    assert export.status_code == 200, export.text
    assert "Exported" in export.text and "77.70" in export.text
    page = office.admin.get(f"/apps/{APP}/forms/contract", params={"sort": "-received"})
    assert page.status_code == 200, page.text
    assert "77.70" in page.text
