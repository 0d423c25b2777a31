"""An API token's scope holds on every route: its apps, reading only, and no platform power when app-limited.

Two apps, `hr` and `procurement`, each with a form (with an attachment field),
a flow whose one step both Ann and the platform admin must approve, a
submitted request, a file and saved views. Tokens limited to `hr` are walked
over every route of the application with the ids of procurement's objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select

from opsloom.platform import tables
from tests.builders import admin_client, field, problem
from tests.conftest import ADMIN_EMAIL, DATABASES, another_client, log_in, query
from tests.runtime.flow.office import PASSWORD, Office, Person, approval, users

PDF = b"%PDF-1.4\n" + bytes(range(256))
SECRET = "PROC-SECRET-REQUEST"  # the procurement request's title: no out-of-scope answer may hold it
FIELDS = (field("title", required=True), field("quote", "attachment"))


def bearer(client: TestClient, token: str) -> TestClient:
    """A client with no cookie that authenticates with an API token and does not follow redirects."""
    return another_client(client, headers={"Authorization": f"Bearer {token}"}, follow_redirects=False)


def new_token(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/api/auth/tokens", json={"name": "script", **body})
    assert response.status_code == 201, response.text
    return response.json()


@dataclass
class App:
    office: Office
    record: dict[str, Any]
    file_id: int
    flow: str
    role: str
    ann_task: int
    admin_task: int
    ann_view: int
    admin_view: int


def build_app(admin: TestClient, key: str, title: str, ann: Person, bob: Person, admin_id: int) -> App:
    """An app: a form, a role for Ann and Bob, a flow both Ann and the admin approve, Bob's submitted request."""
    office = Office(admin, key)
    office.publish_form(*FIELDS)
    role = office.grant(ann, bob)
    office.publish_flow(approval("check", users(ann, admin_id), mode="countersign"))
    upload = bob.client.post(
        f"/api/apps/{key}/forms/{office.form_key}/files",
        params={"field": "quote"},
        files={"file": ("quote.pdf", PDF, "application/pdf")},
    )
    assert upload.status_code == 201, upload.text
    file_id = upload.json()["id"]
    record = office.submitted(bob, title=title, quote=[file_id])
    (ann_task,) = [t["id"] for t in ann.tasks() if t["app"] == key]
    admin_tasks = admin.get("/api/tasks").json()["items"]
    (admin_task,) = [t["id"] for t in admin_tasks if t["app"] == key]
    views = f"/api/apps/{key}/forms/{office.form_key}/views"
    ann_view = ann.client.post(views, json={"name": f"{key} view"})
    admin_view = admin.post(views, json={"name": f"{key} view"})
    assert ann_view.status_code == 201 and admin_view.status_code == 201, (ann_view.text, admin_view.text)
    return App(
        office,
        record,
        file_id,
        office.flow_key,
        role,
        ann_task,
        admin_task,
        ann_view.json()["id"],
        admin_view.json()["id"],
    )


@dataclass
class World:
    admin: TestClient
    admin_id: int
    ann: Person
    bob: Person
    hr: App
    proc: App
    department: int
    bob_token: int
    tokens: dict[str, str]  # "app" (Ann's, hr, write), "read" (Ann's, hr, read-only), "admin" (the admin's, hr, write)


@pytest.fixture(scope="module", params=DATABASES)
def world(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("scope")) as admin:
        admin_id = admin.get("/api/me").json()["id"]
        setup = Office(admin, "hr")
        ann, bob = setup.people("ann", "bob")
        department = setup.department("Finance")
        hr = build_app(admin, "hr", "HR-VISIBLE-REQUEST", ann, bob, admin_id)
        proc = build_app(admin, "procurement", SECRET, ann, bob, admin_id)
        tokens = {
            "app": new_token(ann.client, apps=["hr"], write=True)["token"],
            "read": new_token(ann.client, apps=["hr"])["token"],
            "admin": new_token(admin, apps=["hr"], write=True)["token"],
        }
        bob_token = new_token(bob.client, write=True)["id"]
        yield World(admin, admin_id, ann, bob, hr, proc, department, bob_token, tokens)


# ------------------------------------------------------------------ every route


def fill(path: str, world: World, kind: str) -> str:
    """The route's path with procurement's objects (the token owner's own task and view) in it."""
    proc = world.proc
    mine = kind != "admin"
    values = {
        "app": "procurement",
        "form": proc.office.form_key,
        "record_id": proc.record["id"],
        "task": proc.ann_task if mine else proc.admin_task,
        "action": "approve",
        "view_id": proc.ann_view if mine else proc.admin_view,
        "file_id": proc.file_id,
        "user_id": world.bob.id,
        "department_id": world.department,
        "token_id": world.bob_token,
        "key": proc.role,
        "role": proc.role,
        "flow": proc.flow,
        "version": 1,
        "name": "echarts.min.js",
        # imports, webhooks and automations of procurement: none exists, and the token may not learn that either
        "import_id": 1,
        "sub_id": 1,
        "delivery_id": 1,
        "automation": "approved_to_order",
        "secret_name": "erp_token",
        # reports and dashboards of procurement
        "report": "spend",
        "dashboard": "spend",
        "extension": "csv",
        "view": "rates",  # a view of a form's process (a dashboard item's fragment)
    }
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: str(values[m.group(1)]), path)


def body_for(world: World) -> dict[str, Any]:
    """One body that every write route could act on: each aims outside the token's scope."""
    return {
        "app": "procurement",
        "key": "sneaky",
        "label": "Sneaky",
        "permissions": {},
        "app_admin": True,
        "add": [world.bob.id],
        "remove": [],
        "email": "sneaky@example.com",
        "name": "Sneaky",
        "password": "a-long-sneaky-password",
        "is_admin": True,
        "active": False,
        "title": "sneaky",
        "text": "sneaky",
        "comment": "sneaky",
        "version": 1,
        "delegate_id": world.bob.id,
        "starts_at": "2020-01-01T00:00:00Z",
        "ends_at": "2999-01-01T00:00:00Z",
        "current_password": "not-the-password",
        "new_password": "another-long-password",
    }


# Writes of the caller's own that an app-limited write token may make: they touch no other app.
OWN_WRITES = {("POST", "/api/auth/logout"), ("POST", "/api/notifications/read")}
PLATFORM_WRITES = {
    ("POST", "/api/users"),
    ("PATCH", "/api/users/{user_id}"),
    ("POST", "/api/departments"),
    ("PATCH", "/api/departments/{department_id}"),
    ("POST", "/api/roles"),
    ("DELETE", "/api/auth/tokens/{token_id}"),
    ("PATCH", "/api/settings"),
    ("POST", "/api/settings/test-mail"),
}


def routes(client: TestClient) -> list[tuple[str, str, bool]]:
    """(method, path template, needs authentication) of every route of the application."""
    found = []
    for route in iter_route_contexts(client.app.routes):
        path = route.path
        methods = sorted((route.methods or set()) - {"HEAD"})
        if not path or not methods:
            continue  # the /static mount
        dependant = getattr(route, "dependant", None)
        calls = [d.call.__name__ for d in dependant.dependencies] if dependant is not None else []
        found += [(method, path, "authenticated" in calls) for method in methods]
    return found


def outside_scope(world: World) -> dict[str, Any]:
    """What procurement (and the organisation) look like to the admin's session: the walk must not change it."""
    admin, proc = world.admin, world.proc
    record = admin.get(proc.office.record_url(proc.record)).json()
    t = tables.api_tokens
    return {
        "record": {k: record[k] for k in ("version", "status", "title", "quote")},
        "tasks": proc.office.task_states(proc.record),
        "events": len(proc.office.events(proc.record)),
        "users": admin.get("/api/users").json()["items"],
        "departments": admin.get("/api/departments").json()["items"],
        "roles": admin.get("/api/roles", params={"app": "procurement"}).json()["items"],
        "app": admin.get("/api/design/apps/procurement").json(),
        "form": admin.get(f"/api/design/apps/procurement/forms/{proc.office.form_key}").json(),
        "flow": admin.get(f"/api/design/apps/procurement/flows/{proc.flow}").json(),
        "views": world.ann.get(f"/api/apps/procurement/forms/{proc.office.form_key}/views").json()["items"],
        "unread": unread_in(world, "procurement"),
        "delegation": world.ann.get("/api/me/delegation").json()["items"],
        "bob_token": query(admin, select(t.c.revoked_at).where(t.c.id == world.bob_token)),
        "apps": sorted(a["key"] for a in admin.get("/api/apps").json()["items"]),
    }


def unread_in(world: World, app: str) -> list[int]:
    """Ann's unread notifications about flows of `app`."""
    n, i = tables.notifications, tables.flow_instances
    mine = n.c.user_id == world.ann.id
    rows = query(
        world.admin,
        select(n.c.id).join(i, i.c.id == n.c.instance_id).where(mine, n.c.read_at.is_(None), i.c.app_key == app),
    )
    return sorted(row.id for row in rows)


def notices_in(world: World, app: str) -> set[int]:
    n, i = tables.notifications, tables.flow_instances
    rows = query(world.admin, select(n.c.id).join(i, i.c.id == n.c.instance_id).where(i.c.app_key == app))
    return {row.id for row in rows}


@pytest.mark.parametrize("kind", ["app", "read", "admin"])
def test_no_route_reaches_outside_the_tokens_scope(world, kind):
    before = outside_scope(world)
    script = bearer(world.admin, world.tokens[kind])
    body = body_for(world)
    walked = 0
    for method, template, authenticated in routes(world.admin):
        path = fill(template, world, kind)
        response = script.request(method, path, json=None if method == "GET" else body)
        seen = (kind, method, template, response.status_code, response.text[:300])
        api = template.startswith("/api/")
        assert response.status_code < 500, seen
        if response.status_code < 300:
            assert SECRET not in response.text, seen
            assert "procurement" not in response.text, seen
        if "{app}" in template or "{task}" in template:
            if api:
                assert response.status_code in (403, 404), seen
            else:  # pages take no tokens: the caller is refused or sent to log in
                to_login = response.is_redirect and response.headers["location"].startswith("/login")
                assert response.status_code in (401, 403, 404) or to_login, seen
        if api and authenticated and method != "GET":
            if kind == "read":
                assert response.status_code == 403, seen
            elif (method, template) not in OWN_WRITES:
                assert response.status_code >= 400, seen
            if kind == "admin" and (method, template) in PLATFORM_WRITES:
                assert response.status_code in (403, 404), seen
        walked += 1
    assert walked > 80
    assert outside_scope(world) == before
    # The token still works inside its own app.
    hr = world.hr
    own = script.get(hr.office.record_url(hr.record))
    assert own.status_code == 200 and own.json()["title"] == "HR-VISIBLE-REQUEST"
    tasks = script.get("/api/tasks").json()["items"]
    assert [t["id"] for t in tasks] == [hr.admin_task if kind == "admin" else hr.ann_task]
    assert script.get(f"/api/tasks/{tasks[0]['id']}").status_code == 200
    assert [a["key"] for a in script.get("/api/apps").json()["items"]] == ["hr"]


# ------------------------------------------------------------------ to-do lists and notifications


def test_an_hr_token_neither_lists_nor_sees_nor_approves_a_procurement_task(world):
    ann, proc, hr = world.ann, world.proc, world.hr
    script = bearer(world.admin, world.tokens["app"])
    assert {t["app"] for t in ann.tasks()} == {"hr", "procurement"}  # her session sees both
    for box in ("pending", "submitted", "cc", "done"):
        listed = script.get("/api/tasks", params={"box": box})
        assert listed.status_code == 200 and all(t["app"] == "hr" for t in listed.json()["items"]), listed.text
    assert [t["id"] for t in script.get("/api/tasks").json()["items"]] == [hr.ann_task]
    assert script.get("/api/tasks/counts").json()["pending"] == 1
    assert ann.counts()["pending"] == 2
    problem(script.get(f"/api/tasks/{proc.ann_task}"), 404)
    problem(script.post(f"/api/tasks/{proc.ann_task}/approve", json={"comment": "fine"}), 404)
    assert ("check", ann.id, "pending") in proc.office.task_states(proc.record)
    seen = {n["id"] for n in script.get("/api/notifications").json()["items"]}
    everything = {n["id"] for n in ann.get("/api/notifications").json()["items"]}
    assert seen and seen <= notices_in(world, "hr")
    assert everything & notices_in(world, "procurement")


def test_a_read_only_token_reads_its_apps_tasks_but_cannot_act_on_them(world):
    script = bearer(world.admin, world.tokens["read"])
    assert [t["id"] for t in script.get("/api/tasks").json()["items"]] == [world.hr.ann_task]
    problem(script.post(f"/api/tasks/{world.hr.ann_task}/approve"), 403)
    problem(script.post("/api/notifications/read"), 403)
    assert ("check", world.ann.id, "pending") in world.hr.office.task_states(world.hr.record)


def test_an_app_limited_token_cannot_hand_every_apps_tasks_to_someone(world):
    script = bearer(world.admin, world.tokens["app"])
    body = {"delegate_id": world.bob.id, "starts_at": "2020-01-01T00:00:00Z", "ends_at": "2999-01-01T00:00:00Z"}
    problem(script.put("/api/me/delegation", json=body), 403)
    problem(script.delete("/api/me/delegation"), 403)
    assert world.ann.get("/api/me/delegation").json()["items"] == []


# ------------------------------------------------------------------ an admin's app-limited token


def test_an_admins_app_limited_token_has_no_platform_power(world):
    script = bearer(world.admin, world.tokens["admin"])
    assert script.get("/api/me").json()["is_admin"] is False
    new_admin = {"email": "mallory@example.com", "name": "Mallory", "password": "a-long-password", "is_admin": True}
    problem(script.post("/api/users", json=new_admin), 403)
    problem(script.patch(f"/api/users/{world.bob.id}", json={"is_admin": True}), 403)
    problem(script.patch(f"/api/users/{world.bob.id}", json={"password": "taken-over-password"}), 403)
    problem(script.post("/api/departments", json={"name": "Shadow"}), 403)
    problem(script.put("/api/design/apps/brand_new", json={"label": "New"}), 403)
    problem(script.get("/api/roles", params={"app": "procurement"}), 403)
    role = {"app": "procurement", "key": "boss", "label": "Boss", "permissions": {}, "app_admin": True}
    problem(script.post("/api/roles", json=role), 403)
    problem(script.delete(f"/api/auth/tokens/{world.bob_token}"), 404)
    listed = script.get("/api/users").json()["items"]
    assert listed and all("is_admin" not in u and "active" not in u for u in listed)
    emails = [u["email"] for u in world.admin.get("/api/users").json()["items"]]
    assert "mallory@example.com" not in emails
    assert world.admin.get(f"/api/users/{world.bob.id}").json()["is_admin"] is False
    assert "brand_new" not in [a["key"] for a in world.admin.get("/api/apps").json()["items"]]
    log_in(another_client(world.admin), world.bob.email, PASSWORD)  # Bob's password is his own still


def test_an_admins_token_cannot_create_an_app_even_one_it_names(world):
    script = bearer(world.admin, new_token(world.admin, apps=["hr", "future"], write=True)["token"])
    problem(script.put("/api/design/apps/future", json={"label": "Future"}), 403)
    problem(world.admin.get("/api/design/apps/future"), 404)


def test_an_admins_app_limited_token_administers_its_own_app(world):
    script = bearer(world.admin, world.tokens["admin"])
    hr = world.hr.office
    assert script.get("/api/roles", params={"app": "hr"}).status_code == 200
    draft = script.get(f"/api/design/apps/hr/forms/{hr.form_key}").json()["draft"]
    saved = script.put(f"/api/design/apps/hr/forms/{hr.form_key}", json=draft)
    assert saved.status_code == 200, saved.text
    created = script.post(hr.url, json={"title": "made by the admin's token"})
    assert created.status_code == 201, created.text
    assert script.get("/api/apps/hr/openapi.json").status_code == 200
    problem(script.get("/api/apps/procurement/openapi.json"), 403)


# ------------------------------------------------------------------ Retry-After


def test_a_throttled_login_says_when_to_retry(world):
    stranger = another_client(world.admin)
    for _ in range(5):
        problem(stranger.post("/api/auth/login", json={"email": "nobody@example.com", "password": "nope-nope"}), 401)
    response = stranger.post("/api/auth/login", json={"email": "nobody@example.com", "password": "nope-nope"})
    body = problem(response, 429)
    seconds = response.headers["Retry-After"]
    assert seconds.isdigit() and 0 < int(seconds) <= 15 * 60
    assert body["retry_after"] == int(seconds)
    # The login page answers the same wait.
    page = another_client(world.admin)
    form = page.get("/login", headers={"Accept": "text/html"})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    answer = page.post("/login", data={"email": "nobody@example.com", "password": "nope-nope", "csrf_token": csrf})
    assert answer.status_code == 429
    assert answer.headers["Retry-After"].isdigit() and 0 < int(answer.headers["Retry-After"]) <= 15 * 60


# ------------------------------------------------------------------ password changes end every way in


def someone(world: World, name: str) -> tuple[Person, str, TestClient]:
    """A new person with a write token and a second logged-in browser."""
    person = world.hr.office.person(name)
    token = new_token(person.client, apps=["hr"], write=True)["token"]
    laptop = another_client(world.admin)
    log_in(laptop, person.email, PASSWORD)
    assert bearer(world.admin, token).get("/api/me").status_code == 200
    return person, token, laptop


def test_a_password_change_revokes_the_users_tokens_and_other_sessions(world):
    person, token, laptop = someone(world, "carol")
    changed = person.post("/api/auth/password", {"current_password": PASSWORD, "new_password": "a-new-long-password"})
    assert changed.status_code == 200, changed.text
    problem(bearer(world.admin, token).get("/api/me"), 401)
    problem(laptop.get("/api/me"), 401)
    assert person.get("/api/me").status_code == 200  # the session that changed it goes on
    listed = person.get("/api/auth/tokens").json()["items"]
    assert listed and all(t["revoked_at"] for t in listed)


def test_a_password_changed_through_a_token_revokes_that_token_too(world):
    person, token, laptop = someone(world, "dave")
    script = bearer(world.admin, token)
    body = {"current_password": PASSWORD, "new_password": "a-new-long-password"}
    assert script.post("/api/auth/password", json=body).status_code == 200
    problem(script.get("/api/me"), 401)
    problem(person.get("/api/me"), 401)
    problem(laptop.get("/api/me"), 401)


def test_an_admin_resetting_a_password_or_deactivating_a_user_revokes_their_tokens(world):
    erin, erin_token, _ = someone(world, "erin")
    reset = world.admin.patch(f"/api/users/{erin.id}", json={"password": "reset-by-the-admin"})
    assert reset.status_code == 200, reset.text
    problem(bearer(world.admin, erin_token).get("/api/me"), 401)
    problem(erin.get("/api/me"), 401)

    frank, frank_token, _ = someone(world, "frank")
    assert world.admin.patch(f"/api/users/{frank.id}", json={"active": False}).status_code == 200
    assert world.admin.patch(f"/api/users/{frank.id}", json={"active": True}).status_code == 200
    problem(bearer(world.admin, frank_token).get("/api/me"), 401)  # reactivation brings no token back
    problem(frank.get("/api/me"), 401)
    log_in(another_client(world.admin), frank.email, PASSWORD)
    assert world.admin.get("/api/me").json()["email"] == ADMIN_EMAIL  # the admin's own session is untouched
