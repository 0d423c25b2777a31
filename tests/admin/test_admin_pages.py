"""The administration pages through HTTP, on both databases: who reaches them, people, departments,
tokens, roles and the audit log, and the CSRF token every form must carry."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from opsloom.platform import tables
from tests.builders import admin_client
from tests.conftest import DATABASES, another_client, create_user, log_in, query
from tests.runtime.flow.office import Office, Person, approval, managers, users
from tests.runtime.pages.test_pages import assert_secure, token_in

PASSWORD = "right-password-1"


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("admin")) as client:
        client.cookies.set("opsloom_locale", "en")
        yield client


@pytest.fixture
def office(api: TestClient) -> Office:
    office = Office(api)
    office.publish_form()
    return office


def page(client: TestClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code, response.text[:2000])
    assert_secure(response)
    return response.text


def post(client: TestClient, url: str, data: dict[str, Any] | None = None, *, token: bool = True) -> Any:
    fields = dict(data or {})
    if token:
        fields["csrf_token"] = token_in(page(client, "/admin"))
    return client.post(url, data=fields, follow_redirects=False)


def new_person(api: TestClient, office: Office, name: str, **fields: Any) -> int:
    response = post(
        api, "/admin/people", {"name": name, "email": f"{name.lower()}.{office.serial}@example.com", **fields}
    )
    assert response.status_code == 303, response.text[:3000]
    return int(response.headers["location"].split("/")[3].split("?")[0])


# ------------------------------------------------------------------ who gets in


def app_routes(client: TestClient) -> list[Any]:
    return [
        r for r in iter_route_contexts(client.app.routes) if getattr(r, "path", None) and getattr(r, "methods", None)
    ]


GET_ROUTES = [
    "/admin",
    "/admin/people",
    "/admin/people/new",
    "/admin/people/1",
    "/admin/people/1/edit",
    "/admin/departments",
    "/admin/departments/1",
    "/admin/tokens",
    "/admin/roles",
    "/admin/audit",
    "/admin/audit/export?format=csv",
    "/admin/audit/export?format=xlsx",
    "/admin/status",
    "/admin/settings",
    "/admin/people/import",
]
POST_ROUTES = [
    "/admin/people",
    "/admin/people/1",
    "/admin/people/1/deactivate",
    "/admin/people/1/activate",
    "/admin/people/1/password",
    "/admin/departments",
    "/admin/departments/1",
    "/admin/departments/1/move",
    "/admin/tokens/1/revoke",
    "/admin/settings",
    "/admin/settings/test-mail",
    "/admin/people/import",
    "/admin/people/import/run",
]


def test_every_admin_route_is_listed_here(api: TestClient) -> None:
    """The walks below cover every /admin route the app has (a new page must join them)."""
    routes = {(m, r.path) for r in app_routes(api) if r.path.startswith("/admin") for m in r.methods - {"HEAD"}}
    listed = {("GET", re.sub(r"/1(?=/|$)", "/{x}", u.split("?")[0])) for u in GET_ROUTES} | {
        ("POST", re.sub(r"/1(?=/|$)", "/{x}", u)) for u in POST_ROUTES
    }
    assert {(m, re.sub(r"\{[a-z_]+\}", "{x}", p)) for m, p in routes} == listed


def test_only_platform_admins_reach_the_admin_pages(api: TestClient) -> None:
    create_user(api, "plain.person@example.com", PASSWORD)
    plain = another_client(api)
    log_in(plain, "plain.person@example.com", PASSWORD)
    home = page(plain, "/")
    assert 'href="/admin"' not in home
    token = token_in(home)
    for url in GET_ROUTES:
        assert plain.get(url).status_code == 404, url
    for url in POST_ROUTES:
        assert plain.post(url, data={"csrf_token": token, "name": "x"}).status_code == 404, url
    visitor = another_client(api)
    for url in GET_ROUTES + POST_ROUTES:
        response = visitor.request("GET" if url in GET_ROUTES else "POST", url, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next="), url
    assert 'href="/admin"' in page(api, "/")


def test_every_form_needs_its_csrf_token(api: TestClient, office: Office) -> None:
    person = new_person(api, office, "Csrf")
    department = office.department("Csrf")
    before = query(api, select(tables.audit_log.c.id))
    for url in POST_ROUTES:
        concrete = url.replace("/people/1", f"/people/{person}").replace("/departments/1", f"/departments/{department}")
        response = post(
            api, concrete, {"name": "Changed", "email": "x@example.com", "password": "long-enough-1"}, token=False
        )
        assert response.status_code == 403, concrete
        forged = post(api, concrete, {"csrf_token": "forged", "name": "Changed"}, token=False)
        assert forged.status_code == 403, concrete
    assert query(api, select(tables.audit_log.c.id)) == before  # nothing was changed, so nothing was logged


# ------------------------------------------------------------------ people


def test_an_admin_creates_finds_and_edits_people(api: TestClient, office: Office) -> None:
    sales = office.department("Sales")
    boss = new_person(api, office, "Boss")
    ann = new_person(
        api,
        office,
        "Ann",
        employee_no=f"E{office.serial}",
        department_id=str(sales),
        manager_id=str(boss),
        locale="zh-CN",
        password="long-enough-1",
    )
    shown = page(api, f"/admin/people/{ann}?notice=created")
    assert "Created." in shown and f"E{office.serial}" in shown and f"Sales {office.serial}" in shown
    assert f'href="/admin/people/{boss}">Boss</a>' in shown
    # found by name, employee number, department; filtered by status
    assert f"/admin/people/{ann}" in page(api, f"/admin/people?q=E{office.serial}")
    by_department = page(api, f"/admin/people?department={sales}")
    assert f"/admin/people/{ann}" in by_department and f"/admin/people/{boss}" not in by_department
    assert f"/admin/people/{ann}" not in page(api, "/admin/people?q=Ann&active=no")
    # the same e-mail or employee number again is told in words, with what was typed kept
    again = post(
        api,
        "/admin/people",
        {"name": "Ann 2", "email": f"ann.{office.serial}@example.com", "employee_no": f"E{office.serial}"},
    )
    assert again.status_code == 400
    assert "Someone else has this e-mail address already." in again.text and 'value="Ann 2"' in again.text
    short = post(api, "/admin/people", {"name": "Bo", "email": f"bo.{office.serial}@example.com", "password": "short"})
    assert short.status_code == 400 and "Use a password of at least 8 characters." in short.text
    # edited: a new name and manager; made an admin
    edited = post(
        api,
        f"/admin/people/{ann}",
        {
            "name": "Ann Lee",
            "email": f"ann.{office.serial}@example.com",
            "employee_no": f"E{office.serial}",
            "department_id": str(sales),
            "manager_id": "",
            "is_admin": "on",
        },
    )
    assert edited.status_code == 303
    user = api.get(f"/api/users/{ann}").json()
    assert (user["name"], user["manager_id"], user["is_admin"], user["employee_no"]) == (
        "Ann Lee",
        None,
        True,
        f"E{office.serial}",
    )
    own = post(
        api,
        f"/admin/people/{ann}",
        {"name": "Ann Lee", "email": f"ann.{office.serial}@example.com", "manager_id": str(ann)},
    )
    assert own.status_code == 400 and "A person cannot be their own manager." in own.text
    assert page(api, "/admin/people/999999999", 404)


def test_a_person_page_shows_roles_departments_and_the_approval_chain(api: TestClient, office: Office) -> None:
    top, middle, worker = office.people("top", "middle", "worker")
    hq = office.department("HQ", head=top)
    ops = office.department("Ops", parent=hq, head=middle)
    office.move(worker, department_id=ops)
    office.move(middle, department_id=ops)  # a head belongs to the department they head
    office.grant(worker, key=f"clerk_{office.serial}")
    shown = page(api, f"/admin/people/{worker.id}")
    chain = re.search(r'<ol class="admin-chain">(.*?)</ol>', shown, re.S)
    assert chain and re.findall(r"/admin/people/(\d+)", chain.group(1)) == [str(middle.id), str(top.id)]
    assert f"clerk_{office.serial}" in shown and f"HQ {office.serial} / Ops {office.serial}" in shown
    assert "from the department tree" in shown
    assert "Nobody: this person has no manager" in page(api, f"/admin/people/{top.id}")


def test_deactivating_a_person_hands_their_open_tasks_over_in_one_step(api: TestClient, office: Office) -> None:
    leaving, taking, asker = office.people("leaving", "taking", "asker")
    office.grant(asker)
    office.publish_flow(approval("check", users(leaving)))
    first, second = office.submitted(asker, title="First"), office.submitted(asker, title="Second")
    shown = page(api, f"/admin/people/{leaving.id}")
    assert "Open tasks (2)" in shown and "First" in shown and "Second" in shown
    refused = post(api, f"/admin/people/{leaving.id}/deactivate", {"hand_over_to": ""})
    assert refused.status_code == 400 and "choose who takes them over" in refused.text
    assert api.get(f"/api/users/{leaving.id}").json()["active"] is True
    done = post(
        api, f"/admin/people/{leaving.id}/deactivate", {"hand_over_to": str(taking.id), "comment": "Left the company"}
    )
    assert done.status_code == 303 and "notice=deactivated_handed" in done.headers["location"]
    assert "deactivated and their 2 open tasks were handed over" in page(api, done.headers["location"])
    assert sorted(t["title"] for t in taking.tasks()) == ["First", "Second"]
    assert api.get(f"/api/users/{leaving.id}").json()["active"] is False
    assert leaving.client.get("/api/tasks").status_code == 401  # their session ended
    me = api.get("/api/me").json()["id"]
    handed = [e for e in office.events(first) if e["action"] == "handed_over"]  # the record's timeline tells it
    assert [(e["actor_id"], e["detail"]["from"], e["detail"]["to"], e["comment"]) for e in handed] == [
        (me, leaving.id, taking.id, "Left the company")
    ]
    audited = query(api, select(tables.audit_log.c.actor_id).where(tables.audit_log.c.action == "flow.handed_over"))
    assert [r.actor_id for r in audited].count(me) >= 2
    first_task = next(t["id"] for t in taking.tasks() if t["title"] == "First")
    assert taking.act("approve", task=first_task).status_code == 200  # the new approver can act on it
    assert (office.status(first), office.status(second)) == ("approved", "in_review")


def test_a_person_without_tasks_is_deactivated_and_activated_again(api: TestClient, office: Office) -> None:
    quiet = office.person("quiet")
    done = post(api, f"/admin/people/{quiet.id}/deactivate")
    assert done.status_code == 303 and "notice=deactivated" in done.headers["location"]
    assert quiet.client.get("/api/me").status_code == 401
    assert post(api, f"/admin/people/{quiet.id}/activate").status_code == 303
    assert api.get(f"/api/users/{quiet.id}").json()["active"] is True
    me = api.get("/api/me").json()["id"]
    myself = post(api, f"/admin/people/{me}/deactivate")
    assert myself.status_code == 400 and "You cannot deactivate yourself" in myself.text


def test_resetting_a_password_ends_the_persons_sessions(api: TestClient, office: Office) -> None:
    forgetful = office.person("forgetful")
    done = post(api, f"/admin/people/{forgetful.id}/password", {"password": "brand-new-secret"})
    assert done.status_code == 303
    assert forgetful.client.get("/api/me").status_code == 401
    fresh = another_client(api)
    log_in(fresh, forgetful.email, "brand-new-secret")
    short = post(api, f"/admin/people/{forgetful.id}/password", {"password": "x"})
    assert short.status_code == 400 and "Use a password of at least 8 characters." in short.text


# ------------------------------------------------------------------ departments


def test_moving_a_department_changes_who_approves_and_a_cycle_is_refused_in_words(
    api: TestClient, office: Office
) -> None:
    head_a, head_b, member = office.people("heada", "headb", "member")
    a = office.department("A", head=head_a)
    b = office.department("B", head=head_b)
    team = office.department("Team", parent=a)  # no head of its own: the head above approves
    office.move(member, department_id=team)
    office.grant(member)
    office.publish_flow(approval("boss", managers(1)))
    assert re.findall(r"/admin/people/(\d+)", _chain(api, member)) == [str(head_a.id)]
    office.submitted(member, title="Before the move")
    moved = post(api, f"/admin/departments/{team}/move", {"parent_id": str(b)})
    assert moved.status_code == 303 and "notice=moved" in moved.headers["location"]
    assert _department(api, team)["parent_id"] == b
    assert re.findall(r"/admin/people/(\d+)", _chain(api, member)) == [str(head_b.id)]
    office.submitted(member, title="After the move")
    assert [t["title"] for t in head_a.tasks()] == ["Before the move"]
    assert [t["title"] for t in head_b.tasks()] == ["After the move"]
    cycle = post(api, f"/admin/departments/{b}/move", {"parent_id": str(team)})
    assert cycle.status_code == 400
    assert "cannot be moved under itself or under one of its own sub-departments" in cycle.text
    assert _department(api, b)["parent_id"] is None
    tree = page(api, "/admin/departments")
    picker = re.search(rf'<select id="move-{b}" name="parent_id">(.*?)</select>', tree, re.S)
    assert picker and f'value="{team}"' not in picker.group(1) and f'value="{a}"' in picker.group(1)
    assert post(api, f"/admin/departments/{team}/move", {"parent_id": "top"}).status_code == 303
    assert _department(api, team)["parent_id"] is None


def _department(api: TestClient, department_id: int) -> dict[str, Any]:
    return next(d for d in api.get("/api/departments").json()["items"] if d["id"] == department_id)


def _chain(api: TestClient, person: Person) -> str:
    found = re.search(r'<ol class="admin-chain">(.*?)</ol>', page(api, f"/admin/people/{person.id}"), re.S)
    return found.group(1) if found else ""


def test_a_department_is_created_renamed_and_given_a_head(api: TestClient, office: Office) -> None:
    chief = office.person("chief")
    created = post(api, "/admin/departments", {"name": f"Legal {office.serial}", "parent_id": "", "head_id": ""})
    assert created.status_code == 303
    legal = next(d for d in api.get("/api/departments").json()["items"] if d["name"] == f"Legal {office.serial}")
    office.move(chief, department_id=legal["id"])
    saved = post(api, f"/admin/departments/{legal['id']}", {"name": f"Law {office.serial}", "head_id": str(chief.id)})
    assert saved.status_code == 303
    shown = page(api, f"/admin/departments/{legal['id']}")
    assert f"Law {office.serial}" in shown and "Members (1)" in shown and f"/admin/people/{chief.id}" in shown
    assert next(d for d in api.get("/api/departments").json()["items"] if d["id"] == legal["id"])["head_id"] == chief.id
    empty = post(api, "/admin/departments", {"name": "  "})
    assert empty.status_code == 400 and "Enter a department name" in empty.text


# ------------------------------------------------------------------ tokens and roles


def test_a_revoked_token_stops_working(api: TestClient, office: Office) -> None:
    owner = office.person("owner")
    made = owner.client.post("/api/auth/tokens", json={"name": f"script {office.serial}", "write": False})
    secret, token_id = made.json()["token"], made.json()["id"]
    bearer = another_client(api)
    assert bearer.get("/api/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    listed = page(api, "/admin/tokens")
    assert f"script {office.serial}" in listed and owner.email in listed and "read only" in listed
    assert post(api, f"/admin/tokens/{token_id}/revoke").status_code == 303
    assert bearer.get("/api/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert f"script {office.serial}" not in page(api, "/admin/tokens")
    assert f"script {office.serial}" in page(api, "/admin/tokens?show=all")
    assert post(api, f"/admin/tokens/{token_id}/revoke").status_code == 404


def test_the_roles_page_lists_every_apps_roles_and_members(api: TestClient, office: Office) -> None:
    clerk = office.person("clerk")
    key = office.grant(clerk, key=f"buyer_{office.serial}")
    shown = page(api, "/admin/roles")
    assert key in shown and f"/admin/people/{clerk.id}" in shown
    assert f'href="/design/apps/{office.app}/permissions"' in shown
    pilot = api.post("/api/departments", json={"name": f"Pilot {office.serial}"}).json()
    wide = office.grant(key=f"wide_{office.serial}")
    changed = api.post(
        f"/api/roles/{office.app}/{wide}/members", json={"add_departments": [pilot["id"]], "everyone": True}
    )
    assert changed.status_code == 200, changed.text
    shown = page(api, "/admin/roles")
    assert (
        f"Everyone in Pilot {office.serial} and below" in shown and f'href="/admin/departments/{pilot["id"]}"' in shown
    )


# ------------------------------------------------------------------ audit log


def test_the_audit_log_filters_by_person_app_kind_and_time_and_exports(api: TestClient, office: Office) -> None:
    asker = office.person("auditee")
    office.grant(asker)
    office.record(asker, title="Audited")
    wrong = another_client(api).post("/api/auth/login", json={"email": asker.email, "password": "wrong-password"})
    assert wrong.status_code == 401
    mine = page(api, f"/admin/audit?person={asker.id}")
    assert "Created a record" in mine and f'href="/apps/{office.app}/forms/{office.form_key}/records/' in mine
    logins = page(api, "/admin/audit?kind=login")
    assert "Login failed" in logins and asker.email in logins and "Created a record" not in logins
    by_app = page(api, f"/admin/audit?app={office.app}&kind=record")
    assert "Created a record" in by_app and "Login failed" not in by_app
    assert "No entries match these filters." in page(api, "/admin/audit?from=2000-01-01&to=2000-01-02")
    assert "Login failed" in page(api, "/admin/audit?kind=login&from=2000-01-01")
    exported = api.get(f"/admin/audit/export?format=csv&person={asker.id}")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Time", "Person", "E-mail"] and all(r[2] == asker.email for r in rows[1:]) and len(rows) > 1
    xlsx = api.get(f"/admin/audit/export?format=xlsx&kind=login&person={asker.id}")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert cells[0][4] == "Action" and {r[4] for r in cells[1:]} <= {"Logged in", "Login failed"} and len(cells) > 1


def test_throttled_logins_are_in_the_audit_log(api: TestClient, office: Office) -> None:
    target = office.person("throttled")
    stranger = another_client(api)
    answers = [
        stranger.post("/api/auth/login", json={"email": target.email, "password": "nope-nope"}).status_code
        for _ in range(6)
    ]
    assert answers[-1] == 429
    shown = page(api, "/admin/audit?kind=login")
    assert "Login refused: too many attempts" in shown


def test_no_interface_changes_or_deletes_an_audit_entry(api: TestClient) -> None:
    entries = query(api, select(tables.audit_log))
    first = entries[0].id
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        for url in ("/admin/audit", f"/admin/audit/{first}", "/api/audit", f"/api/audit/{first}"):
            assert api.request(method, url).status_code in (404, 405), (method, url)
    assert not [r.path for r in app_routes(api) if "audit" in r.path and set(r.methods) - {"GET", "HEAD"}]

    async def rewrite() -> list[str]:
        refused = []
        for statement in (
            tables.audit_log.update().where(tables.audit_log.c.id == first).values(action="forged"),
            tables.audit_log.delete().where(tables.audit_log.c.id == first),
        ):
            try:
                async with api.app.state.db.session(write=True) as session:
                    await session.execute(statement)
            except Exception as error:  # the database itself refuses
                refused.append(str(error))
        return refused

    refused = api.portal.call(rewrite)
    assert len(refused) == 2 and all("append-only" in r for r in refused)
    assert query(api, select(tables.audit_log).where(tables.audit_log.c.id == first)) == [entries[0]]
