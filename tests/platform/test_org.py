"""The organisation: users and departments over HTTP, and the CLI that creates users and tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from opsloom.cli import main
from opsloom.platform import tables
from tests.builders import problem
from tests.conftest import another_client, create_user, log_in, query
from tests.databases import database

PASSWORD = "user-password"
ADMIN_ONLY = {"active", "is_admin", "phone", "locale", "manager_id"}


def department(client, name: str, **fields) -> dict:
    response = client.post("/api/departments", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def member(client):
    """A logged-in user who is not an admin."""
    create_user(client, "ann@example.com", PASSWORD)
    ann = another_client(client)
    log_in(ann, "ann@example.com", PASSWORD)
    return ann


# ----------------------------------------------------------------- users


def test_admins_create_and_change_users(client):
    sales = department(client, "Sales")
    boss = client.post("/api/users", json={"email": "Boss@Example.com", "name": "Boss", "password": PASSWORD})
    assert boss.status_code == 201, boss.text
    assert boss.json()["email"] == "boss@example.com" and boss.json()["is_admin"] is False
    made = client.post(
        "/api/users",
        json={"email": "ann@example.com", "name": "Ann", "department_id": sales["id"], "manager_id": boss.json()["id"]},
    )
    assert made.status_code == 201, made.text
    ann = made.json()
    assert ann["department_id"] == sales["id"] and ann["manager_id"] == boss.json()["id"] and ann["active"]
    changed = client.patch(f"/api/users/{ann['id']}", json={"name": "Ann Lee", "locale": "en", "phone": "123"})
    assert changed.status_code == 200, changed.text
    assert client.get(f"/api/users/{ann['id']}").json() == {**ann, "name": "Ann Lee", "locale": "en", "phone": "123"}


def test_a_users_language_is_unset_until_chosen_and_admins_may_set_or_clear_it(client):
    made = client.post("/api/users", json={"email": "di@example.com", "name": "Di"})
    assert made.status_code == 201 and made.json()["locale"] is None
    url = f"/api/users/{made.json()['id']}"
    assert client.patch(url, json={"locale": "en"}).json()["locale"] == "en"
    listed = client.get("/api/users").json()["items"]
    assert {u["email"]: u["locale"] for u in listed}["di@example.com"] == "en"
    assert client.patch(url, json={"locale": None}).json()["locale"] is None
    refused = problem(client.patch(url, json={"locale": "fr"}), 422, "locale")
    assert refused["errors"] == [{"path": "locale", "message": "use one of zh-CN, en, or null to follow the browser"}]
    assert client.get(url).json()["locale"] is None


def test_a_user_created_with_a_password_can_log_in(client):
    made = client.post("/api/users", json={"email": "ann@example.com", "name": "Ann", "password": PASSWORD})
    assert made.status_code == 201, made.text
    assert log_in(another_client(client), "ann@example.com", PASSWORD)["id"] == made.json()["id"]


def test_a_duplicate_email_is_a_conflict(client):
    create_user(client, "ann@example.com", PASSWORD)
    problem(client.post("/api/users", json={"email": "ANN@example.com", "name": "Ann again"}), 409, "email")
    assert len(query(client, select(tables.users.c.id))) == 2


@pytest.mark.parametrize(
    "body, path",
    [
        ({"email": "not-an-email", "name": "X"}, "email"),
        ({"email": "x@example.com", "name": ""}, "name"),
        ({"email": "x@example.com", "name": "X", "password": "short"}, "password"),
        ({"email": "x@example.com", "name": "X", "department_id": 999}, "department_id"),
        ({"email": "x@example.com", "name": "X", "manager_id": 999}, "manager_id"),
        ({"email": "x@example.com", "name": "X", "locale": "fr"}, "locale"),
    ],
    ids=["email", "name", "password", "unknown department", "unknown manager", "locale"],
)
def test_invalid_users_are_refused_with_the_field_named(client, body, path):
    problem(client.post("/api/users", json=body), 422, path)
    assert not query(client, select(tables.users.c.id).where(tables.users.c.email == "x@example.com"))


def test_a_patch_to_an_unknown_department_or_manager_is_refused(client):
    ann = create_user(client, "ann@example.com", PASSWORD)
    problem(client.patch(f"/api/users/{ann['id']}", json={"department_id": 999}), 422, "department_id")
    problem(client.patch(f"/api/users/{ann['id']}", json={"manager_id": 999}), 422, "manager_id")
    problem(client.patch(f"/api/users/{ann['id']}", json={"manager_id": ann["id"]}), 422, "manager_id")
    problem(client.patch("/api/users/999", json={"name": "Nobody"}), 404)
    assert client.get(f"/api/users/{ann['id']}").json() == ann


def test_members_may_look_people_up_without_admin_only_fields(client, member):
    listed = member.get("/api/users").json()["items"]
    assert {u["email"] for u in listed} == {"admin@example.com", "ann@example.com"}
    assert all(ADMIN_ONLY.isdisjoint(u) for u in listed)
    assert ADMIN_ONLY.isdisjoint(member.get(f"/api/users/{listed[0]['id']}").json())
    assert ADMIN_ONLY <= set(client.get("/api/users").json()["items"][0])
    assert [u["email"] for u in member.get("/api/users", params={"q": "ann"}).json()["items"]] == ["ann@example.com"]


def test_members_cannot_change_users_or_departments(client, member):
    sales = department(client, "Sales")
    ann_id = member.get("/api/me").json()["id"]
    problem(member.post("/api/users", json={"email": "x@example.com", "name": "X"}), 403)
    problem(member.patch(f"/api/users/{ann_id}", json={"is_admin": True}), 403)
    problem(member.post("/api/departments", json={"name": "Mine"}), 403)
    problem(member.patch(f"/api/departments/{sales['id']}", json={"name": "Mine"}), 403)
    assert member.get("/api/me").json()["is_admin"] is False
    assert member.get("/api/departments").json()["items"] == [sales]


# ----------------------------------------------------------- departments


def test_departments_form_a_tree_with_heads(client):
    head = create_user(client, "head@example.com", PASSWORD)
    company = department(client, "Company", head_id=head["id"])
    sales = department(client, "Sales", parent_id=company["id"])
    east = department(client, "Sales East", parent_id=sales["id"])
    assert company == {"id": company["id"], "name": "Company", "parent_id": None, "head_id": head["id"]}
    assert [(d["name"], d["parent_id"]) for d in client.get("/api/departments").json()["items"]] == [
        ("Company", None),
        ("Sales", company["id"]),
        ("Sales East", sales["id"]),
    ]
    moved = client.patch(f"/api/departments/{east['id']}", json={"parent_id": company["id"], "head_id": head["id"]})
    assert moved.status_code == 200, moved.text
    assert moved.json()["parent_id"] == company["id"] and moved.json()["head_id"] == head["id"]


@pytest.mark.parametrize("under", ["itself", "its child", "its grandchild"])
def test_a_department_cannot_be_put_under_itself(client, under):
    top = department(client, "Top")
    child = department(client, "Child", parent_id=top["id"])
    grandchild = department(client, "Grandchild", parent_id=child["id"])
    target = {"itself": top, "its child": child, "its grandchild": grandchild}[under]
    body = problem(client.patch(f"/api/departments/{top['id']}", json={"parent_id": target["id"]}), 422, "parent_id")
    assert "itself" in body["errors"][0]["message"]
    assert client.get("/api/departments").json()["items"][0]["parent_id"] is None


@pytest.mark.parametrize(
    "body, path",
    [
        ({"name": "X", "parent_id": 999}, "parent_id"),
        ({"name": "X", "head_id": 999}, "head_id"),
        ({"name": ""}, "name"),
    ],
    ids=["unknown parent", "unknown head", "no name"],
)
def test_invalid_departments_are_refused(client, body, path):
    problem(client.post("/api/departments", json=body), 422, path)
    assert client.get("/api/departments").json()["items"] == []


def test_unknown_department_fields_are_refused(client):
    sales = department(client, "Sales")
    problem(client.patch(f"/api/departments/{sales['id']}", json={"budget": 5}), 422, "budget")
    problem(client.patch("/api/departments/999", json={"name": "X"}), 404)


# ------------------------------------------------------------------- CLI


@pytest.fixture
def cli_env(db_kind: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    with database(db_kind, tmp_path) as url:
        yield {"OPSLOOM_DATABASE_URL": url, "OPSLOOM_DATA_DIR": str(tmp_path / "data")}


def opsloom(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_cli_creates_an_admin_and_a_token_that_work_over_http(cli_env):
    from fastapi.testclient import TestClient

    from opsloom.app import create_app
    from opsloom.platform.settings import Settings

    made = opsloom(cli_env, "user", "create", "--email", "root@example.com", "--password", PASSWORD, "--admin")
    assert made.exit_code == 0, made.output
    assert "root@example.com" in made.output and "(admin)" in made.output
    again = opsloom(cli_env, "user", "create", "--email", "root@example.com", "--password", PASSWORD)
    assert again.exit_code != 0 and "exists" in again.output
    minted = opsloom(cli_env, "token", "create", "--email", "root@example.com", "--read-only")
    assert minted.exit_code == 0, minted.output
    token = minted.output.strip()
    assert token.startswith("olt_")
    unknown = opsloom(cli_env, "token", "create", "--email", "nobody@example.com")
    assert unknown.exit_code != 0 and "no user" in unknown.output

    settings = Settings(
        database_url=cli_env["OPSLOOM_DATABASE_URL"], data_dir=Path(cli_env["OPSLOOM_DATA_DIR"]), secret_key="t"
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as http:
        me = http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200, me.text
        assert me.json()["email"] == "root@example.com" and me.json()["is_admin"] is True
        refused = http.post("/api/departments", json={"name": "X"}, headers={"Authorization": f"Bearer {token}"})
        problem(refused, 403)  # --read-only
        log_in(http, "root@example.com", PASSWORD)
        assert http.post("/api/departments", json={"name": "X"}).status_code == 201


@pytest.mark.parametrize(
    ("values", "path"),
    [
        ({"name": 5}, "name"),
        ({"name": "  "}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"phone": "1" * 33}, "phone"),
        ({"phone": 138}, "phone"),
        ({"active": "yes"}, "active"),
        ({"is_admin": 1}, "is_admin"),
        ({"email": ["a@b.c"]}, "email"),
        ({"manager_id": 2**64}, "manager_id"),
        ({"department_id": -1}, "department_id"),
    ],
)
def test_user_values_a_column_cannot_hold_are_a_422_on_create_and_change(client, values, path):
    problem(client.post("/api/users", json={"email": "new@example.com", "name": "New", **values}), 422, path)
    user = client.post("/api/users", json={"email": "ok@example.com", "name": "Ok"}).json()
    problem(client.patch(f"/api/users/{user['id']}", json=values), 422, path)
    assert client.get(f"/api/users/{user['id']}").json() == user


def test_changing_a_users_email_to_a_taken_one_is_a_409(client):
    first = client.post("/api/users", json={"email": "one@example.com", "name": "One"}).json()
    client.post("/api/users", json={"email": "two@example.com", "name": "Two"})
    problem(client.patch(f"/api/users/{first['id']}", json={"email": "TWO@example.com"}), 409, "email")


def test_a_department_parent_beyond_any_id_is_a_422(client):
    problem(client.post("/api/departments", json={"name": "Far", "parent_id": 2**64}), 422, "parent_id")
