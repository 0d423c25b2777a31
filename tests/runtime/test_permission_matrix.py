"""The permission matrix: for every row scope and every records path, nothing outside the scope shows.

One world per database (built once: it is the slow part), shared by every test:

    departments   ops ──> field (child of ops)        sales
    owners        ann (ops, own)  bob (field, own)    cat (sales, own by condition)
    records       W-A50 W-A500    W-B50 W-B500        W-C50 W-C500   (title = owner + amount)

Viewers hold one role each (`union` holds two). Every viewer role hides `secret`
and makes `amount` read-only. A viewer must never see a row outside their
scope, on any path, nor the value of a hidden field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from opsloom.app import create_app
from opsloom.platform import auth
from opsloom.platform.context import RequestContext
from opsloom.platform.settings import Settings
from tests import builders
from tests.builders import create, list_all, problem, publish_app, records_url
from tests.conftest import DATABASES, create_user
from tests.databases import database

APP = "expenses"
URL = records_url(APP, "claim")
CLAIM = builders.form(
    "claim",
    builders.field("title", required=True, max_length=100),
    builders.field("amount", "decimal", precision=12, scale=2),
    builders.field("secret", default="SECRET-default"),
    builders.field("code", unique=True, max_length=40),
    title_field="title",
)
VIEWER_FIELDS = {"secret": "hidden", "amount": "read_only"}


def grant(scope: Any, fields: dict[str, str] | None = None, **actions: Any) -> dict[str, Any]:
    return {
        "create": "all",
        "read": scope,
        "update": scope,
        "delete": scope,
        "fields": fields or VIEWER_FIELDS,
        **actions,
    }


def condition(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"condition": {"field": field, "op": op, "value": value}}


ROLES: dict[str, dict[str, Any]] = {
    "own": grant("own", {"secret": "hidden"}),
    "own_by_condition": grant(condition("owner_id", "eq", {"var": "current_user.id"}), {"secret": "hidden"}),
    "everyone": grant("all"),
    "department": grant("department"),
    "department_tree": grant("department_tree"),
    "big_amounts": grant(condition("amount", "gt", 100)),
    "own_reader": {"read": "own"},
    "reads_all_edits_own": {"create": "all", "read": "all", "update": "own", "delete": "own", "fields": VIEWER_FIELDS},
    "reads_own_edits_all": {"read": "own", "update": "all", "delete": "all", "fields": VIEWER_FIELDS},
    "no_titles": {"read": "all", "fields": {"title": "hidden", "secret": "hidden"}},
}
PEOPLE = {  # user: (department, roles)
    "ann": ("ops", ["own"]),
    "bob": ("field", ["own"]),
    "cat": ("sales", ["own_by_condition"]),
    "everyone": ("sales", ["everyone"]),
    "dept": ("ops", ["department"]),
    "tree": ("ops", ["department_tree"]),
    "big": ("sales", ["big_amounts"]),
    "union": ("sales", ["department", "big_amounts"]),
    "mixed": ("ops", ["department", "own_reader"]),
    "blind": ("sales", ["no_titles"]),
    "clerk": ("sales", ["reads_all_edits_own"]),
    "editor": ("sales", ["reads_own_edits_all"]),
    "appadmin": ("sales", ["admins"]),
    "nobody": ("ops", []),
}
WORLD = {"ann": ("W-A50", "W-A500"), "bob": ("W-B50", "W-B500"), "cat": ("W-C50", "W-C500")}

# The specification, for the world's records: who sees which.
VISIBLE = {
    "ann": {"W-A50", "W-A500"},
    "cat": {"W-C50", "W-C500"},
    "everyone": {"W-A50", "W-A500", "W-B50", "W-B500", "W-C50", "W-C500"},
    "dept": {"W-A50", "W-A500"},
    "tree": {"W-A50", "W-A500", "W-B50", "W-B500"},
    "big": {"W-A500", "W-B500", "W-C500"},
    "union": {"W-A500", "W-B500", "W-C50", "W-C500"},
}
VIEWERS = sorted(VISIBLE)
SECRET_KEY = re.compile(r'"secret"\s*:')


class LeakCheckingClient(TestClient):
    """A user who may not see `secret`: no response may carry the field or a secret value."""

    def request(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        response = super().request(*args, **kwargs)
        assert "SECRET-" not in response.text, response.text
        assert not SECRET_KEY.search(response.text), response.text  # naming it in an error is fine
        return response


@dataclass
class World:
    admin: TestClient
    users: dict[str, TestClient] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)
    departments: dict[str, int] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    def everything(self) -> list[dict[str, Any]]:
        """Every live record, as the platform admin sees it."""
        return list_all(self.admin, URL, limit="500")

    def in_scope(self, viewer: str, record: dict[str, Any]) -> bool:
        """The reference model of each viewer's row scope (the same rule, said in Python)."""
        owner, department = record["owner_id"], record["department_id"]
        big = record["amount"] is not None and Decimal(record["amount"]) > 100
        rules: dict[str, Callable[[], bool]] = {
            "ann": lambda: owner == self.user_ids["ann"],
            "cat": lambda: owner == self.user_ids["cat"],
            "everyone": lambda: True,
            "dept": lambda: department == self.departments["ops"],
            "tree": lambda: department in (self.departments["ops"], self.departments["field"]),
            "big": lambda: big,
            "union": lambda: big or department == self.departments["sales"],
        }
        return rules[viewer]()


def _bearer_client(base: TestClient, token: str, *, leak_checking: bool) -> TestClient:
    kind = LeakCheckingClient if leak_checking else TestClient
    client = kind(base.app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {token}"})
    client.portal = base.portal  # share the event loop that owns the database pool
    return client


def _mint_token(base: TestClient, user_id: int) -> str:
    async def run() -> str:
        async with base.app.state.db.session(write=True) as session:
            token, _ = await auth.create_token(session, RequestContext.for_now(), user_id, "test", None, True, None)
            return token

    return base.portal.call(run)


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


@pytest.fixture(scope="module", params=DATABASES)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp: Path = tmp_path_factory.mktemp(request.param)
    with database(request.param, tmp) as url:
        settings = Settings(database_url=url, data_dir=tmp / "data", secret_key="test-secret")
        with TestClient(create_app(settings), raise_server_exceptions=False) as base:
            yield _build_world(base)


def _build_world(base: TestClient) -> World:
    # Users without passwords (no Argon2 cost); everyone authenticates with an API token.
    admin_id = create_user(base, "admin@example.com", None, is_admin=True)["id"]  # type: ignore[arg-type]
    admin = _bearer_client(base, _mint_token(base, admin_id), leak_checking=False)
    world = World(admin=admin)
    publish_app(admin, APP, CLAIM)
    publish_app(admin, "other", CLAIM)
    ops = _ok(admin.post("/api/departments", json={"name": "Ops"}), 201)["id"]
    fld = _ok(admin.post("/api/departments", json={"name": "Field", "parent_id": ops}), 201)["id"]
    sales = _ok(admin.post("/api/departments", json={"name": "Sales"}), 201)["id"]
    world.departments = {"ops": ops, "field": fld, "sales": sales}
    for key, permissions in ROLES.items():
        _ok(
            admin.post("/api/roles", json={"app": APP, "key": key, "label": key, "permissions": {"claim": permissions}})
        )
    _ok(admin.post("/api/roles", json={"app": APP, "key": "admins", "label": "Admins", "app_admin": True}))
    for name, (department, roles) in PEOPLE.items():
        user_id = create_user(base, f"{name}@example.com", None, department_id=world.departments[department])["id"]  # type: ignore[arg-type]
        world.user_ids[name] = user_id
        for role in roles:
            _ok(admin.post(f"/api/roles/{APP}/{role}/members", json={"add": [user_id]}))
        sees_secrets = name in ("appadmin", "mixed")
        world.users[name] = _bearer_client(base, _mint_token(base, user_id), leak_checking=not sees_secrets)
    for owner, titles in WORLD.items():
        for title in titles:
            amount = title.removeprefix(f"W-{owner[0].upper()}")
            record = create(world.users[owner], URL, title=title, amount=amount, code=f"code {title}")
            secret = _ok(admin.patch(f"{URL}/{record['id']}", json={"secret": f"SECRET-{title}"}))
            world.records[title] = secret
    return world


@pytest.fixture(params=VIEWERS)
def viewer(request: pytest.FixtureRequest) -> str:
    return request.param


def _fresh_records(world: World) -> dict[str, dict[str, Any]]:
    """Six new records, as in the world, for tests that change or delete them."""
    made = {}
    for owner, titles in WORLD.items():
        for title in titles:
            amount = title.removeprefix(f"W-{owner[0].upper()}")
            made[title] = create(world.users[owner], URL, title=f"new {title}", amount=amount)
    return made


def _visible_ids(world: World, viewer: str) -> set[int]:
    return {r["id"] for r in world.everything() if world.in_scope(viewer, r)}


# ------------------------------------------------------------- reading


def test_the_world_is_as_described(world):
    records = world.records
    assert records["W-A50"]["owner_id"] == world.user_ids["ann"]
    assert records["W-B500"]["department_id"] == world.departments["field"]
    assert records["W-C50"]["secret"] == "SECRET-W-C50" and records["W-C500"]["amount"] == "500.00"
    for viewer, titles in VISIBLE.items():
        assert {t for t, r in records.items() if world.in_scope(viewer, r)} == titles, viewer


def test_a_list_shows_exactly_the_rows_in_scope(world, viewer):
    page = _ok(world.users[viewer].get(URL, params={"limit": "500", "count": "exact"}))
    assert {i["title"] for i in page["items"] if i["title"] in world.records} == VISIBLE[viewer]
    assert {i["id"] for i in page["items"]} == _visible_ids(world, viewer)
    assert page["total"] == len(page["items"]) and page["total_exact"] is True
    assert all("secret" not in item for item in page["items"])
    assert _ok(world.users[viewer].get(URL))["total"] == page["total"]  # the default count agrees


@pytest.mark.parametrize("sort", ["-id", "amount", "-title,amount", "owner_id"])
def test_cursor_pages_never_reach_rows_out_of_scope(world, viewer, sort):
    items = list_all(world.users[viewer], URL, sort=sort, limit="1")
    assert len(items) == len({i["id"] for i in items})  # no row twice
    assert {i["id"] for i in items} == _visible_ids(world, viewer)


def test_a_filter_narrows_within_the_scope_never_beyond_it(world, viewer):
    big = json.dumps({"field": "amount", "op": "gt", "value": 100})
    page = _ok(world.users[viewer].get(URL, params={"filter": big, "limit": "500"}))
    expected = {r["id"] for r in world.everything() if world.in_scope(viewer, r) and Decimal(r["amount"] or 0) > 100}
    assert {i["id"] for i in page["items"]} == expected and page["total"] == len(expected)
    search = _ok(world.users[viewer].get(URL, params={"q": "W-", "limit": "500"}))
    assert {i["title"] for i in search["items"]} == VISIBLE[viewer]


def test_rows_out_of_scope_are_not_found_on_every_path(world, viewer):
    user = world.users[viewer]
    absent = problem(user.get(f"{URL}/999999"), 404)
    for title, record in world.records.items():
        rid = record["id"]
        if title in VISIBLE[viewer]:
            got = _ok(user.get(f"{URL}/{rid}"))
            assert got["title"] == title and "secret" not in got
            continue
        responses = {
            "get": user.get(f"{URL}/{rid}"),
            "patch": user.patch(f"{URL}/{rid}", json={"title": "mine now"}),
            "delete": user.delete(f"{URL}/{rid}"),
            "history": user.get(f"{URL}/{rid}/history"),
        }
        for path, response in responses.items():
            body = problem(response, 404)
            # Exactly what a record that does not exist gets: nothing says the row is there.
            assert body["detail"] == absent["detail"].replace("999999", str(rid)), (path, body)
            assert title not in response.text
    for record in world.records.values():  # and nothing was changed
        assert _ok(world.admin.get(f"{URL}/{record['id']}")) == record


def test_writes_reach_only_rows_in_scope(world, viewer):
    user = world.users[viewer]
    for title, record in _fresh_records(world).items():
        rid, inside = record["id"], title in VISIBLE[viewer]
        record = _ok(world.admin.get(f"{URL}/{rid}"))  # with the hidden field
        patched = user.patch(f"{URL}/{rid}", json={"title": f"{title} edited"})
        deleted = user.delete(f"{URL}/{rid}")
        if inside:
            assert _ok(patched)["title"] == f"{title} edited"
            assert deleted.status_code == 204, deleted.text
            problem(user.get(f"{URL}/{rid}"), 404)
            restored = _ok(user.post(f"{URL}/{rid}/restore"))
            assert restored["title"] == f"{title} edited" and "secret" not in restored
            history = _ok(user.get(f"{URL}/{rid}/history"))["items"]
            assert [h["action"] for h in history] == ["create", "update", "delete", "restore"]
            continue
        problem(patched, 404)
        problem(deleted, 404)
        assert _ok(world.admin.get(f"{URL}/{rid}")) == record  # untouched
        assert world.admin.delete(f"{URL}/{rid}").status_code == 204
        body = problem(user.post(f"{URL}/{rid}/restore"), 404)
        assert body["detail"] == f"claim has no deleted record {rid}"
        problem(user.get(f"{URL}/{rid}/history"), 404)
        problem(world.admin.get(f"{URL}/{rid}"), 404)  # still deleted


def test_history_never_shows_hidden_fields(world, viewer):
    user = world.users[viewer]
    for title in VISIBLE[viewer]:
        history = _ok(user.get(f"{URL}/{world.records[title]['id']}/history"))["items"]
        assert [h["action"] for h in history] == ["create", "update"]  # the admin's change of secret
        assert history[0]["changes"]["title"] == {"before": None, "after": title}
        assert history[1]["changes"] == {}
    admin_view = _ok(world.admin.get(f"{URL}/{world.records['W-A50']['id']}/history"))["items"]
    assert admin_view[1]["changes"]["secret"]["after"] == "SECRET-W-A50"


@pytest.mark.parametrize(
    "param, hidden",
    [
        ("filter", json.dumps({"field": "secret", "op": "eq", "value": "SECRET-W-A50"})),
        ("filter", json.dumps({"or": [{"field": "title", "op": "is_empty"}, {"field": "secret", "op": "is_empty"}]})),
        ("filter", json.dumps({"field": "title", "op": "eq", "value": {"field": "secret"}})),
        ("sort", "secret"),
        ("sort", "-title,secret"),
    ],
)
def test_filtering_or_sorting_on_a_hidden_field_is_refused_like_an_unknown_field(world, viewer, param, hidden):
    user = world.users[viewer]
    refused = problem(user.get(URL, params={param: hidden}), 400)
    assert all(e["path"] in ("sort", "filter.field", "filter.or[1].field", "filter.value") for e in refused["errors"])
    unknown_field = problem(user.get(URL, params={param: hidden.replace("secret", "nope")}), 400)
    assert refused["errors"] == [
        {**e, "message": e["message"].replace("nope", "secret")} for e in unknown_field["errors"]
    ]
    assert refused["detail"] == unknown_field["detail"].replace("nope", "secret")


def test_searching_a_hidden_title_field_is_refused(world):
    blind = world.users["blind"]
    for params in (
        {"q": "W-A"},
        {"sort": "title"},
        {"filter": json.dumps({"field": "title", "op": "eq", "value": "W-A50"})},
    ):
        response = blind.get(URL, params=params)
        assert response.status_code == 400, (params, response.text)
        assert "W-A50" not in response.text
    items = _ok(blind.get(URL, params={"limit": "500"}))["items"]
    assert items and all("title" not in i and "secret" not in i for i in items)


def test_a_unique_value_conflict_names_only_records_in_scope(world, viewer):
    user = world.users[viewer]
    before = _ok(world.admin.get(URL, params={"count": "exact", "limit": "1"}))["total"]
    for title, record in world.records.items():
        body = problem(user.post(URL, json={"title": "copy", "code": f"code {title}"}), 409, "code")
        named = f"record {record['id']} " in body["errors"][0]["message"]
        assert named == (title in VISIBLE[viewer]), body
        assert title not in json.dumps(body).replace(f"code {title}", "")
    target = world.records[sorted(VISIBLE[viewer])[0]]
    for title, record in world.records.items():
        if record["id"] != target["id"]:
            body = problem(user.patch(f"{URL}/{target['id']}", json={"code": f"code {title}"}), 409, "code")
            assert (f"record {record['id']} " in body["errors"][0]["message"]) == (title in VISIBLE[viewer])
    assert _ok(world.admin.get(URL, params={"count": "exact", "limit": "1"}))["total"] == before
    assert _ok(world.admin.get(f"{URL}/{target['id']}")) == target


def test_an_action_reaches_only_rows_in_both_its_scope_and_the_read_scope(world):
    record = world.records["W-A50"]
    clerk, editor = world.users["clerk"], world.users["editor"]
    assert _ok(clerk.get(f"{URL}/{record['id']}"))["title"] == "W-A50"
    problem(clerk.patch(f"{URL}/{record['id']}", json={"title": "x"}), 403)  # may read it, so may know
    problem(clerk.delete(f"{URL}/{record['id']}"), 403)
    mine = create(clerk, URL, title="clerk's")
    assert _ok(clerk.patch(f"{URL}/{mine['id']}", json={"title": "clerk's own"}))["title"] == "clerk's own"
    problem(editor.get(f"{URL}/{record['id']}"), 404)
    problem(editor.patch(f"{URL}/{record['id']}", json={"title": "x"}), 404)  # cannot read it: not there
    problem(editor.delete(f"{URL}/{record['id']}"), 404)
    assert _ok(world.admin.get(f"{URL}/{record['id']}")) == record


# ------------------------------------------------------- field rights


@pytest.mark.parametrize("viewer", [v for v in VIEWERS if v not in ("ann", "cat")])  # owners may set amount
def test_hidden_and_read_only_fields_cannot_be_written(world, viewer):
    user, admin = world.users[viewer], world.admin
    before = _ok(admin.get(URL, params={"count": "exact", "limit": "1"}))["total"]
    hidden = problem(user.post(URL, json={"title": "x", "secret": "mine"}), 422, "secret")
    assert "secret" in hidden["errors"][0]["path"]
    problem(user.post(URL, json={"title": "x", "amount": "1"}), 403, "amount")
    bulk = {"records": [{"title": "ok"}, {"title": "y", "amount": "5"}]}
    problem(user.post(f"{URL}/bulk", json=bulk), 403, "records[1].amount")
    problem(
        user.post(f"{URL}/bulk", json={"records": [{"title": "y", "secret": "s"}, {"title": "ok"}]}),
        422,
        "records[0].secret",
    )
    assert _ok(admin.get(URL, params={"count": "exact", "limit": "1"}))["total"] == before
    target = world.records[sorted(VISIBLE[viewer])[0]]
    problem(user.patch(f"{URL}/{target['id']}", json={"amount": "1"}), 403, "amount")
    problem(user.patch(f"{URL}/{target['id']}", json={"title": "t", "secret": "s"}), 422, "secret")
    assert _ok(admin.get(f"{URL}/{target['id']}")) == target


def test_owners_may_set_amount_but_never_secret(world):
    ann = world.users["ann"]
    made = create(ann, URL, title="ann's own", amount="12.5")
    assert made["amount"] == "12.50" and "secret" not in made
    assert _ok(world.admin.get(f"{URL}/{made['id']}"))["secret"] == "SECRET-default"
    problem(ann.patch(f"{URL}/{made['id']}", json={"secret": "x"}), 422, "secret")


def test_bulk_create_answers_without_hidden_fields(world, viewer):
    created = _ok(world.users[viewer].post(f"{URL}/bulk", json={"records": [{"title": "b1"}, {"title": "b2"}]}), 201)
    assert [i["title"] for i in created["items"]] == ["b1", "b2"]
    assert all("secret" not in i for i in created["items"])
    for item in created["items"]:
        assert _ok(world.admin.get(f"{URL}/{item['id']}"))["secret"] == "SECRET-default"


# ---------------------------------------------------- union and admins


def test_union_of_roles_unions_row_scopes(world):
    union = {i["title"] for i in list_all(world.users["union"], URL) if i["title"] in world.records}
    assert union == VISIBLE["big"] | {"W-C50", "W-C500"}  # big_amounts ∪ department (sales)


def test_union_of_roles_shows_a_field_one_role_shows_but_keeps_it_read_only(world):
    """`mixed`: department (hides secret, amount read-only, may update) + own_reader (reads own, shows all)."""
    mixed = world.users["mixed"]
    record = world.records["W-A50"]
    got = _ok(mixed.get(f"{URL}/{record['id']}"))
    assert got["secret"] == "SECRET-W-A50"
    # A role that grants no write must not lift the write limits of another role.
    problem(mixed.patch(f"{URL}/{record['id']}", json={"amount": "1"}), 403, "amount")
    problem(mixed.patch(f"{URL}/{record['id']}", json={"secret": "x"}), 403, "secret")
    assert _ok(world.admin.get(f"{URL}/{record['id']}")) == record


@pytest.mark.parametrize("who", ["admin", "appadmin"])
def test_platform_and_app_admins_see_and_change_everything(world, who):
    user = world.admin if who == "admin" else world.users[who]
    items = list_all(user, URL, sort="title", limit="2")
    assert {i["title"] for i in items} >= set(world.records)
    assert {i["id"] for i in items} == {r["id"] for r in world.everything()}
    record = world.records["W-B500"]
    assert _ok(user.get(f"{URL}/{record['id']}"))["secret"] == "SECRET-W-B500"
    secret_sort = _ok(
        user.get(
            URL,
            params={
                "sort": "secret",
                "filter": json.dumps({"field": "secret", "op": "starts_with", "value": "SECRET-W"}),
            },
        )
    )
    assert {i["title"] for i in secret_sort["items"]} == set(world.records)
    made = create(user, URL, title="admin made", amount="7", secret="SECRET-admin")
    assert _ok(user.patch(f"{URL}/{made['id']}", json={"amount": "8"}))["amount"] == "8.00"


def test_a_user_without_a_role_sees_no_app_and_is_refused_the_form(world):
    nobody = world.users["nobody"]
    assert APP not in {a["key"] for a in _ok(nobody.get("/api/apps"))["items"]}
    record = world.records["W-A50"]
    bodies = [
        problem(nobody.get(URL), 403),
        problem(nobody.post(URL, json={"title": "x"}), 403),
        problem(nobody.get(f"{URL}/{record['id']}"), 403),
        problem(nobody.get(f"{URL}/999999"), 403),  # the same answer: existence is not revealed
        problem(nobody.get(f"{URL}/{record['id']}/history"), 403),
        problem(nobody.patch(f"{URL}/{record['id']}", json={"title": "x"}), 403),
        problem(nobody.delete(f"{URL}/{record['id']}"), 403),
    ]
    assert all("W-A50" not in json.dumps(b) for b in bodies)


def test_users_with_a_role_see_the_app_and_its_form(world, viewer):
    apps = {a["key"]: a for a in _ok(world.users[viewer].get("/api/apps"))["items"]}
    assert set(apps) == {APP}
    assert [f["key"] for f in apps[APP]["forms"]] == ["claim"]


# ------------------------------------------------------------ roles API


def role(key: str, **document: Any) -> dict[str, Any]:
    return {"app": APP, "key": key, "label": key, **document}


def test_only_app_admins_manage_roles(world):
    everyone, appadmin = world.users["everyone"], world.users["appadmin"]
    problem(everyone.post("/api/roles", json=role("probe", permissions={"claim": {"read": "all"}})), 403)
    problem(everyone.get("/api/roles", params={"app": APP}), 403)
    problem(everyone.post(f"/api/roles/{APP}/everyone/members", json={"add": [world.user_ids["nobody"]]}), 403)
    problem(everyone.delete(f"/api/roles/{APP}/everyone"), 403)
    saved = _ok(appadmin.post("/api/roles", json=role("probe", permissions={"claim": {"read": "own"}})))
    assert saved["key"] == "probe" and saved["members"] == []
    assert "probe" in {r["key"] for r in _ok(appadmin.get("/api/roles", params={"app": APP}))["items"]}
    problem(appadmin.post("/api/roles", json={**role("probe"), "app": "other"}), 403)
    problem(appadmin.post("/api/roles/other/probe/members", json={"add": [world.user_ids["appadmin"]]}), 403)
    problem(appadmin.put("/api/design/apps/other/forms/claim", json=CLAIM), 403)
    assert appadmin.delete(f"/api/roles/{APP}/probe").status_code == 204
    # The nobody user was not added anywhere.
    assert APP not in {a["key"] for a in _ok(world.users["nobody"].get("/api/apps"))["items"]}


@pytest.mark.parametrize(
    "permissions, path",
    [
        ({"nope": {"read": "all"}}, "permissions.nope"),
        ({"claim": {"read": "all", "fields": {"nope": "hidden"}}}, "permissions.claim.fields.nope"),
        ({"claim": {"read": condition("nope", "eq", 1)}}, "permissions.claim.read.condition.field"),
        ({"claim": {"read": condition("amount", "gt", "lots")}}, "permissions.claim.read.condition.value"),
        ({"claim": {"read": "everybody"}}, "permissions.claim.read"),
        ({"claim": {"approve": "all"}}, "permissions.claim"),
        ({"claim": {"read": "all", "fields": {"amount": "invisible"}}}, "permissions.claim.fields.amount"),
    ],
    ids=["unknown form", "unknown field", "condition field", "condition value", "scope", "action", "field right"],
)
def test_role_documents_are_validated(world, permissions, path):
    appadmin = world.users["appadmin"]
    problem(appadmin.post("/api/roles", json=role("invalid", permissions=permissions)), 422, path)
    assert "invalid" not in {r["key"] for r in _ok(appadmin.get("/api/roles", params={"app": APP}))["items"]}


def test_members_must_be_known_users(world):
    response = world.users["appadmin"].post(f"/api/roles/{APP}/own/members", json={"add": [999999]})
    problem(response, 422, "add")
    problem(world.users["appadmin"].post(f"/api/roles/{APP}/nope/members", json={"add": []}), 404)
