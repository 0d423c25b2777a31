"""Who is in a role: named people, everyone in a department and below (people who join later
included: a pilot group), or everyone. The app shows, and its records open, for exactly them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.builders import field, form, problem, publish_app, records_url
from tests.conftest import another_client, create_user, log_in

APP = "rollout"
URL = records_url(APP, "note")
PASSWORD = "right-password-1"


def setup_app(client: TestClient) -> dict[str, dict]:
    publish_app(client, APP, form("note", field("title", required=True), title_field="title"))
    saved = client.post(
        "/api/roles",
        json={"app": APP, "key": "user", "label": "User", "permissions": {"*": {"read": "all", "create": "all"}}},
    )
    assert saved.status_code == 200, saved.text
    ops = client.post("/api/departments", json={"name": "Ops"}).json()
    east = client.post("/api/departments", json={"name": "East", "parent_id": ops["id"]}).json()
    sales = client.post("/api/departments", json={"name": "Sales"}).json()
    return {"ops": ops, "east": east, "sales": sales}


def person(client: TestClient, email: str, department: dict | None) -> TestClient:
    create_user(client, email, PASSWORD, department_id=department["id"] if department else None)
    other = another_client(client)
    log_in(other, email, PASSWORD)
    return other


def sees_app(client: TestClient) -> bool:
    keys = [a["key"] for a in client.get("/api/apps").json()["items"]]
    return APP in keys


def messages(body: dict) -> dict[str, str]:
    return {e["path"]: e["message"] for e in body["errors"]}


def members(client: TestClient, body: dict) -> dict:
    answer = client.post(f"/api/roles/{APP}/user/members", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_pilot_department_then_everyone(client: TestClient) -> None:
    d = setup_app(client)
    in_east = person(client, "east@example.com", d["east"])
    in_sales = person(client, "sales@example.com", d["sales"])
    nowhere = person(client, "nowhere@example.com", None)
    assert not any(sees_app(c) for c in (in_east, in_sales, nowhere))
    assert in_east.get(URL).status_code == 403

    role = members(client, {"add_departments": [d["ops"]["id"]]})
    assert (role["departments"], role["everyone"]) == ([d["ops"]["id"]], False)
    # East is below Ops: its people are in; Sales and people without a department are not.
    assert sees_app(in_east) and in_east.get(URL).status_code == 200
    assert not sees_app(in_sales) and in_sales.get(URL).status_code == 403
    # Someone who joins Ops after the role took it is a member at once.
    late = person(client, "late@example.com", d["ops"])
    assert sees_app(late) and late.post(URL, json={"title": "from the pilot"}).status_code == 201

    role = members(client, {"everyone": True})
    assert role["everyone"] is True
    assert sees_app(in_sales) and sees_app(nowhere) and nowhere.get(URL).status_code == 200

    members(client, {"everyone": False, "remove_departments": [d["ops"]["id"]]})
    assert not any(sees_app(c) for c in (in_east, in_sales, nowhere, late))
    assert late.get(URL).status_code == 403


def test_wrong_members_are_told_by_path_and_nothing_changes(client: TestClient) -> None:
    setup_app(client)
    answer = client.post(f"/api/roles/{APP}/user/members", json={"add_departments": [999_999], "everyone": True})
    assert messages(problem(answer, 422, "add_departments"))["add_departments"] == "there is no department 999999"
    assert client.get("/api/roles", params={"app": APP}).json()["items"][0]["everyone"] is False
    bad = client.post(f"/api/roles/{APP}/user/members", json={"add_departments": "ops", "everyone": "yes"})
    assert set(messages(problem(bad, 400, "everyone"))) == {"add_departments", "everyone"}


def test_a_role_that_manages_the_app_is_never_everyones(client: TestClient) -> None:
    setup_app(client)
    client.post("/api/roles", json={"app": APP, "key": "admins", "label": "Admins", "app_admin": True})
    answer = client.post(f"/api/roles/{APP}/admins/members", json={"everyone": True})
    assert "name its members" in messages(problem(answer, 422, "everyone"))["everyone"]
