"""Template packages over HTTP: export, import with a plan, upgrade in place keeping data and customisations,
conflicts resolved both ways, rollback; malformed and oversized packages refused with nothing changed."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from opsloom.app import create_app
from opsloom.designer.packages import MAX_DEPTH, read_package
from opsloom.platform.settings import Settings
from opsloom.resources import data_path
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, create_user, log_in
from tests.databases import database

PROCUREMENT = read_package(data_path("examples") / "procurement")
DESIGN = "/api/design/apps/procurement"


def imported(client: TestClient, package: Any, **params: Any) -> dict[str, Any]:
    response = client.post("/api/packages/import", json=package, params=params, headers={"Accept-Language": "en"})
    assert response.status_code == 200, response.text
    return response.json()


def export(client: TestClient, app: str = "procurement", **params: Any) -> dict[str, Any]:
    response = client.get(f"/api/apps/{app}/export", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def records(client: TestClient, form: str, app: str = "procurement") -> list[dict[str, Any]]:
    response = client.get(f"/api/apps/{app}/forms/{form}/records", params={"limit": 200})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def version_of(client: TestClient, app: str = "procurement") -> str:
    history = client.get(f"/api/apps/{app}/package").json()["history"]
    return next(h["version"] for h in history if h["status"] == "installed")


@pytest.fixture
def fresh(db_kind: str, tmp_path: Path) -> Iterator[TestClient]:
    """A second installation on a database of its own, with its admin logged in."""
    with database(db_kind, tmp_path / "second") as url:
        settings = Settings(database_url=url, data_dir=tmp_path / "second-data", secret_key="test-secret")
        with TestClient(create_app(settings), raise_server_exceptions=False) as other:
            create_user(other, ADMIN_EMAIL, ADMIN_PASSWORD, is_admin=True)
            log_in(other, ADMIN_EMAIL, ADMIN_PASSWORD)
            yield other


def test_export_then_install_into_a_fresh_database_reproduces_the_app(client: TestClient, fresh: TestClient) -> None:
    imported(client, PROCUREMENT)
    package = export(client, sample_data="true")
    assert package["manifest"]["key"] == "procurement"
    assert package["manifest"]["version"] == PROCUREMENT["app"]["version"]
    assert {"forms", "roles", "flows"} <= set(package)
    assert all("members" not in role for role in package["roles"])
    assert "sample_data" not in export(client)  # only when asked for
    text = json.dumps(package)
    assert "password" not in text and "secret" not in text

    answer = imported(fresh, package)
    assert answer["plan"]["action"] == "install"
    again = export(fresh, sample_data="true")
    for kind in ("app", "forms", "roles", "flows"):
        assert again[kind] == package[kind], kind
    for form in ("supplier", "purchase_request", "purchase_order"):
        mine = [{k: r[k] for k in ("title", "name", "amount") if k in r} for r in records(client, form)]
        theirs = [{k: r[k] for k in ("title", "name", "amount") if k in r} for r in records(fresh, form)]
        assert sorted(map(json.dumps, theirs)) == sorted(map(json.dumps, mine)), form
    assert len(again["sample_data"]["purchase_request"]) == len(PROCUREMENT["sample_data"]["purchase_request"])


def test_a_flow_naming_people_by_id_is_exported_naming_an_empty_role(client: TestClient, fresh: TestClient) -> None:
    imported(client, PROCUREMENT)
    me = client.get("/api/me").json()["id"]
    flow = client.get(f"{DESIGN}/flows/purchase_approval").json()["draft"]
    vp = next(n for n in flow["nodes"] if n["id"] == "vp")
    vp["approvers"] = [{"kind": "users", "users": [me]}, {"kind": "role", "role": "vice_president"}]
    assert client.put(f"{DESIGN}/flows/purchase_approval", json=flow).status_code == 200
    assert client.post(f"{DESIGN}/flows/purchase_approval/publish").status_code == 200

    package = export(client)
    exported = next(f for f in package["flows"] if f["key"] == "purchase_approval")
    approvers = next(n for n in exported["nodes"] if n["id"] == "vp")["approvers"]
    assert approvers == [{"kind": "role", "role": "purchase_approval_vp"}, {"kind": "role", "role": "vice_president"}]
    assert "purchase_approval_vp" in [r["key"] for r in package["roles"]]
    assert imported(fresh, package)["installed"]["app"] == "procurement"
    roles = fresh.get("/api/roles", params={"app": "procurement"}).json()["items"]
    assert [r["members"] for r in roles if r["key"] == "purchase_approval_vp"] == [[]]


def test_an_automation_notifying_a_channel_by_id_is_exported_naming_it(client: TestClient, fresh: TestClient) -> None:
    imported(client, PROCUREMENT)
    robot = {"name": "Buyers", "channel": "wecom", "config": {"url": "https://qyapi.weixin.qq.com/send?key=k-9"}}
    added = client.post("/api/apps/procurement/channels", json=robot)
    assert added.status_code == 201, added.text
    automation = client.get(f"{DESIGN}/automations/notify_finance_of_large_requests").json()["draft"]
    automation["actions"][0]["channel"] = added.json()["id"]
    assert client.put(f"{DESIGN}/automations/notify_finance_of_large_requests", json=automation).status_code == 200
    assert client.post(f"{DESIGN}/automations/notify_finance_of_large_requests/publish").status_code == 200

    package = export(client)
    channels = {a["key"]: a["actions"][-1].get("channel") for a in package["automations"]}
    assert channels == {"approved_request_to_order": None, "notify_finance_of_large_requests": "Buyers"}
    assert "k-9" not in json.dumps(package)  # the robot itself stays behind
    assert imported(fresh, package)["installed"]["app"] == "procurement"
    assert fresh.get("/api/apps/procurement/channels").json()["items"] == []


def test_a_dry_run_answers_the_plan_and_installs_nothing(client: TestClient) -> None:
    answer = imported(client, PROCUREMENT, dry_run="true")
    plan = answer["plan"]
    assert plan["action"] == "install" and plan["can_apply"]
    outcomes = {(d["kind"], d["key"]): d["outcome"] for d in plan["documents"]}
    assert outcomes[("forms", "supplier")] == "created"
    assert outcomes[("flows", "purchase_approval")] == "created"
    supplier = next(d for d in plan["documents"] if d["key"] == "supplier")
    assert supplier["sentences"][0] == "New form Supplier"
    assert any("table" in s for s in supplier["sentences"])
    assert plan["sample_data"]["supplier"] == len(PROCUREMENT["sample_data"]["supplier"])
    assert client.get(f"{DESIGN}").status_code == 404


def test_the_plan_speaks_the_callers_language(client: TestClient) -> None:
    response = client.post(
        "/api/packages/import", json=PROCUREMENT, params={"dry_run": "true"}, headers={"Accept-Language": "zh-CN"}
    )
    supplier = next(d for d in response.json()["plan"]["documents"] if d["key"] == "supplier")
    assert supplier["sentences"][0] == "新建表单「供应商」"


def test_a_package_uploaded_as_a_file_is_installed(client: TestClient) -> None:
    body = json.dumps(PROCUREMENT).encode()
    response = client.post("/api/packages/import", files={"file": ("procurement.json", body, "application/json")})
    assert response.status_code == 200, response.text
    assert response.json()["installed"]["records"]["supplier"] == len(PROCUREMENT["sample_data"]["supplier"])


def assert_refused(client: TestClient, response: Any, status: int) -> list[str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert client.get(DESIGN).status_code == 404  # nothing was installed
    return [e["path"] for e in response.json().get("errors", [])]


def test_malformed_deep_and_oversized_packages_are_refused_with_paths(client: TestClient) -> None:
    broken = copy.deepcopy(PROCUREMENT)
    broken["forms"][0]["fields"][1]["type"] = "money"
    assert "forms[0].fields[1].type" in assert_refused(client, client.post("/api/packages/import", json=broken), 422)

    deep: Any = {"a": 1}
    for _ in range(MAX_DEPTH + 5):
        deep = {"x": deep}
    nested = {**PROCUREMENT, "app": {**PROCUREMENT["app"], "extra": deep}}
    paths = assert_refused(client, client.post("/api/packages/import", json=nested), 422)
    assert paths and paths[0].startswith("app.extra.x.x")

    wrong = {**PROCUREMENT, "manifest": {"key": "other", "version": "1.0.0", "min_opsloom": "99.0"}}
    paths = assert_refused(client, client.post("/api/packages/import", json=wrong), 422)
    assert {"manifest.key", "manifest.min_opsloom"} <= set(paths)

    big = b'{"format": "opsloom-package/1", "pad": "' + b"x" * (21 * 1024 * 1024) + b'"}'
    response = client.post("/api/packages/import", content=big, headers={"Content-Type": "application/json"})
    assert_refused(client, response, 413)

    bad_flow = copy.deepcopy(PROCUREMENT)
    purchase = next(f for f in bad_flow["flows"] if f["key"] == "purchase_approval")
    purchase["nodes"][1]["approvers"] = [{"kind": "role", "role": "nobody"}]
    paths = assert_refused(client, client.post("/api/packages/import", json=bad_flow), 422)
    assert any(p.startswith("flows.purchase_approval.") for p in paths), paths


def test_export_is_for_app_admins(client: TestClient) -> None:
    imported(client, PROCUREMENT)
    create_user(client, "clerk@example.com", "a-long-password-1")
    other = TestClient(client.app, raise_server_exceptions=False)
    other.portal = client.portal  # type: ignore[attr-defined]
    log_in(other, "clerk@example.com", "a-long-password-1")
    assert other.get("/api/apps/procurement/export").status_code == 403
    assert other.post("/api/packages/import", json=PROCUREMENT, params={"dry_run": "true"}).status_code == 403


# ------------------------------------------------------------------ upgrade in place


def customise(client: TestClient) -> None:
    """The customer adds a field to the supplier form and changes the head's time limit in the flow."""
    supplier = client.get(f"{DESIGN}/forms/supplier").json()["draft"]
    supplier["fields"].append({"id": "sup_rating", "key": "rating", "type": "integer", "label": "Our rating"})
    assert client.put(f"{DESIGN}/forms/supplier", json=supplier).status_code == 200
    assert client.post(f"{DESIGN}/forms/supplier/publish").status_code == 200
    flow = client.get(f"{DESIGN}/flows/purchase_approval").json()["draft"]
    head = next(n for n in flow["nodes"] if n["id"] == "head")
    head["time_limit"]["hours"] = 24
    assert client.put(f"{DESIGN}/flows/purchase_approval", json=flow).status_code == 200
    assert client.post(f"{DESIGN}/flows/purchase_approval/publish").status_code == 200


def version_two(**label: str) -> dict[str, Any]:
    """v2 adds a field to the supplier form and renames the order form's supplier field."""
    package = copy.deepcopy(PROCUREMENT)
    package["manifest"] = {"key": "procurement", "version": "2.0.0"}
    supplier = next(f for f in package["forms"] if f["key"] == "supplier")
    supplier["fields"].append({"id": "sup_country", "key": "country", "type": "text", "label": "Country"})
    if label:
        name = next(f for f in supplier["fields"] if f["id"] == "sup_name")
        name["label"] = {**name["label"], **label}
    order = next(f for f in package["forms"] if f["key"] == "purchase_order")
    order["label"] = {"zh-CN": "订单", "en": "Order"}
    return package


def test_an_upgrade_keeps_the_customers_changes_and_every_record(client: TestClient) -> None:
    imported(client, PROCUREMENT)
    customise(client)
    before = {form: len(records(client, form)) for form in ("supplier", "purchase_request", "purchase_order")}

    plan = imported(client, version_two(), dry_run="true")["plan"]
    assert plan["action"] == "upgrade" and plan["can_apply"], plan
    documents = {(d["kind"], d["key"]): d for d in plan["documents"]}
    supplier = documents[("forms", "supplier")]
    assert supplier["outcome"] == "changed" and supplier["customised"]
    assert any("Country" in s for s in supplier["sentences"]), supplier["sentences"]
    assert documents[("flows", "purchase_approval")]["outcome"] == "unchanged"
    assert documents[("flows", "purchase_approval")]["customised"]
    assert documents[("forms", "purchase_request")]["outcome"] == "unchanged"

    imported(client, version_two())
    fields = [f["key"] for f in client.get(f"{DESIGN}/forms/supplier").json()["draft"]["fields"]]
    assert "rating" in fields and "country" in fields
    order = client.get(f"{DESIGN}/forms/purchase_order").json()["draft"]
    assert order["label"]["en"] == "Order"
    flow = client.get(f"{DESIGN}/flows/purchase_approval").json()["draft"]
    assert next(n for n in flow["nodes"] if n["id"] == "head")["time_limit"]["hours"] == 24
    assert {form: len(records(client, form)) for form in before} == before
    assert version_of(client) == "2.0.0"

    rolled = client.post("/api/apps/procurement/package/rollback")
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["version"] == PROCUREMENT["app"]["version"]
    fields = [f["key"] for f in client.get(f"{DESIGN}/forms/supplier").json()["draft"]["fields"]]
    assert "country" not in fields and "rating" in fields
    assert client.get(f"{DESIGN}/forms/purchase_order").json()["draft"]["label"]["en"] == "Purchase order"
    assert {form: len(records(client, form)) for form in before} == before
    again = client.post("/api/apps/procurement/package/rollback")
    assert again.status_code == 409  # the first install has nothing before it


def rename_supplier_name(client: TestClient, text: str) -> None:
    supplier = client.get(f"{DESIGN}/forms/supplier").json()["draft"]
    next(f for f in supplier["fields"] if f["id"] == "sup_name")["label"]["en"] = text
    assert client.put(f"{DESIGN}/forms/supplier", json=supplier).status_code == 200
    assert client.post(f"{DESIGN}/forms/supplier/publish").status_code == 200


@pytest.mark.parametrize("choice, label", [("keep_mine", "Vendor name"), ("take_theirs", "Supplier name")])
def test_a_conflict_is_listed_and_settled_either_way(client: TestClient, choice: str, label: str) -> None:
    imported(client, PROCUREMENT)
    rename_supplier_name(client, "Vendor name")
    names = {r["name"] for r in records(client, "supplier")}
    v2 = version_two(en="Supplier name")
    path = "forms.supplier.fields[sup_name].label.en"

    plan = imported(client, v2, dry_run="true")["plan"]
    assert not plan["can_apply"]
    assert plan["conflicts"] == [
        {"path": path, "base": "Name", "mine": "Vendor name", "theirs": "Supplier name", "removed_by": None}
    ]
    refused = client.post("/api/packages/import", json=v2)
    assert refused.status_code == 409
    assert [e["path"] for e in refused.json()["errors"]] == [f"resolutions.{path}"]
    assert "country" not in [f["key"] for f in client.get(f"{DESIGN}/forms/supplier").json()["draft"]["fields"]]

    wrong = client.post("/api/packages/import", json={"package": v2, "resolutions": {path: "both"}})
    assert wrong.status_code == 400
    unknown = client.post("/api/packages/import", json={"package": v2, "resolutions": {"forms.nope": "keep_mine"}})
    assert [e["path"] for e in unknown.json()["errors"]] == ["resolutions.forms.nope"]

    imported(client, {"package": v2, "resolutions": {path: choice}})
    fields = client.get(f"{DESIGN}/forms/supplier").json()["draft"]["fields"]
    assert next(f for f in fields if f["id"] == "sup_name")["label"]["en"] == label
    assert "country" in [f["key"] for f in fields]
    assert {r["name"] for r in records(client, "supplier")} == names
