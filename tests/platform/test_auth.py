"""Authentication: sessions and CSRF, API tokens, throttling, password changes, the audit log."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from sqlalchemy import select

from opsloom.platform import tables
from tests.builders import create, field, form, problem, publish_app, records_url
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, another_client, create_user, log_in, query

NOTE = form("note", field("title", required=True), title_field="title")
CRM = records_url("crm", "note")
HR = records_url("hr", "note")
PASSWORD = "user-password"


def audit_actions(client) -> Counter:
    return Counter(row.action for row in query(client, select(tables.audit_log.c.action)))


def audit_rows(client, action: str) -> list:
    return query(client, select(tables.audit_log).where(tables.audit_log.c.action == action))


def bearer(client, token: str):
    """A client with no cookie that authenticates with an API token."""
    return another_client(client, headers={"Authorization": f"Bearer {token}"})


def new_token(client, **body) -> dict:
    response = client.post("/api/auth/tokens", json={"name": "script", **body})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def apps(client):
    """Two apps with one form each, published by the platform admin."""
    publish_app(client, "crm", NOTE)
    publish_app(client, "hr", NOTE)
    return client


# ----------------------------------------------------- who may call what


def _sample_path(path: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        return "1" if name.endswith("id") or name == "version" else "demo"

    return re.sub(r"\{(\w+)\}", value, path)


def test_every_endpoint_but_health_and_login_needs_authentication(anonymous):
    public = {"/api/health", "/api/auth/login"}
    checked = 0
    for path, operations in anonymous.app.openapi()["paths"].items():
        if path in public:
            continue
        for method in operations:
            response = anonymous.request(method.upper(), _sample_path(path), json={})
            assert response.status_code == 401, (method, path, response.text)
            problem(response, 401)
            checked += 1
    assert checked > 20
    assert anonymous.get("/api/health").json() == {"status": "ok"}


def test_a_forged_session_cookie_is_refused(anonymous):
    anonymous.cookies.set("opsloom_session", "not-a-session")
    body = problem(anonymous.get("/api/me"), 401)
    assert "log in" in body["detail"].lower()


# ----------------------------------------------------------------- login


def test_login_sets_an_http_only_same_site_cookie_not_secure_over_http(anonymous):
    create_user(anonymous, "ann@example.com", PASSWORD)
    response = anonymous.post("/api/auth/login", json={"email": "Ann@Example.com", "password": PASSWORD})
    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("opsloom_session=")
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert "secure" not in cookie.lower()
    body = response.json()
    assert body["user"]["email"] == "ann@example.com" and body["csrf_token"]
    assert anonymous.get("/api/me").json()["email"] == "ann@example.com"


def test_login_cookie_is_secure_over_https(anonymous):
    create_user(anonymous, "ann@example.com", PASSWORD)
    https = another_client(anonymous, base_url="https://testserver")
    response = https.post("/api/auth/login", json={"email": "ann@example.com", "password": PASSWORD})
    assert response.status_code == 200, response.text
    assert "; secure" in response.headers["set-cookie"].lower()


@pytest.mark.parametrize(
    "email, password",
    [("ann@example.com", "wrong-password"), ("nobody@example.com", PASSWORD)],
    ids=["wrong password", "unknown user"],
)
def test_a_wrong_password_or_unknown_user_is_401_without_a_cookie(anonymous, email, password):
    create_user(anonymous, "ann@example.com", PASSWORD)
    response = anonymous.post("/api/auth/login", json={"email": email, "password": password})
    body = problem(response, 401)
    assert "set-cookie" not in response.headers
    assert "wrong" in body["detail"]
    problem(anonymous.get("/api/me"), 401)


def test_repeated_failures_throttle_logins_and_are_recorded(anonymous):
    create_user(anonymous, "ann@example.com", PASSWORD)
    for _ in range(5):
        problem(anonymous.post("/api/auth/login", json={"email": "ann@example.com", "password": "nope-nope"}), 401)
    # Even the right password is refused now, and the refusal is logged too.
    response = anonymous.post("/api/auth/login", json={"email": "ann@example.com", "password": PASSWORD})
    body = problem(response, 429)
    assert body["retry_after"] > 0
    failures = query(anonymous, select(tables.login_failures.c.email))
    assert [row.email for row in failures] == ["ann@example.com"] * 5
    actions = audit_actions(anonymous)
    assert actions["login.failed"] == 5 and actions["login.throttled"] == 1 and actions["login"] == 0
    # Other accounts are not affected.
    create_user(anonymous, "bob@example.com", PASSWORD)
    log_in(anonymous, "bob@example.com", PASSWORD)


def test_a_successful_login_clears_earlier_failures(anonymous):
    create_user(anonymous, "ann@example.com", PASSWORD)
    for _ in range(4):
        problem(anonymous.post("/api/auth/login", json={"email": "ann@example.com", "password": "nope-nope"}), 401)
    log_in(anonymous, "ann@example.com", PASSWORD)
    for _ in range(4):
        problem(anonymous.post("/api/auth/login", json={"email": "ann@example.com", "password": "nope-nope"}), 401)
    log_in(anonymous, "ann@example.com", PASSWORD)


# ------------------------------------------------------------------ CSRF


def test_cookie_writes_need_the_csrf_token(apps):
    csrf = apps.headers.pop("X-CSRF-Token")
    problem(apps.post(CRM, json={"title": "no token"}), 403)
    problem(apps.post(CRM, json={"title": "wrong token"}, headers={"X-CSRF-Token": csrf + "x"}), 403)
    assert apps.get(CRM).json()["total"] == 0  # reads need no token; nothing was written
    created = apps.post(CRM, json={"title": "right token"}, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201, created.text
    assert apps.get(CRM).json()["total"] == 1


def test_bearer_token_writes_need_no_csrf_token(apps):
    token = new_token(apps, write=True)["token"]
    script = bearer(apps, token)
    assert "X-CSRF-Token" not in script.headers and not script.cookies
    created = script.post(CRM, json={"title": "from a script"})
    assert created.status_code == 201, created.text
    assert script.get("/api/me").json()["via"] == "token"


# ---------------------------------------------------------------- tokens


def test_a_token_is_shown_once_and_stored_only_as_a_hash(apps):
    made = new_token(apps, write=True)
    secret = made["token"]
    assert secret.startswith("olt_") and len(secret) > 30
    listed = apps.get("/api/auth/tokens").json()["items"]
    assert [t["id"] for t in listed] == [made["id"]]
    assert secret not in apps.get("/api/auth/tokens").text
    (row,) = query(apps, select(tables.api_tokens))
    stored = " ".join(str(value) for value in row)
    assert secret not in stored
    assert row.token_hash != secret and len(row.prefix) < len(secret) // 3


def test_a_token_is_limited_to_its_apps(apps):
    create(apps, CRM, title="crm note")
    create(apps, HR, title="hr note")
    script = bearer(apps, new_token(apps, apps=["crm"], write=True)["token"])
    assert script.get(CRM).json()["total"] == 1
    assert script.post(CRM, json={"title": "more"}).status_code == 201
    problem(script.get(HR), 403)
    problem(script.post(HR, json={"title": "sneaky"}), 403)
    assert [a["key"] for a in script.get("/api/apps").json()["items"]] == ["crm"]
    assert apps.get(HR).json()["total"] == 1


def test_a_read_only_token_cannot_write(apps):
    record = create(apps, CRM, title="note")
    script = bearer(apps, new_token(apps)["token"])  # write defaults to false
    assert script.get(f"{CRM}/{record['id']}").status_code == 200
    problem(script.post(CRM, json={"title": "new"}), 403)
    problem(script.patch(f"{CRM}/{record['id']}", json={"title": "changed"}), 403)
    problem(script.delete(f"{CRM}/{record['id']}"), 403)
    assert apps.get(f"{CRM}/{record['id']}").json()["title"] == "note"
    assert apps.get(CRM).json()["total"] == 1


def test_a_token_cannot_mint_tokens(apps):
    script = bearer(apps, new_token(apps, write=True)["token"])
    problem(script.post("/api/auth/tokens", json={"name": "child"}), 403)
    assert len(apps.get("/api/auth/tokens").json()["items"]) == 1


def test_revoking_a_token_takes_effect_immediately(apps):
    made = new_token(apps, write=True)
    script = bearer(apps, made["token"])
    assert script.get(CRM).status_code == 200
    assert apps.delete(f"/api/auth/tokens/{made['id']}").status_code == 204
    problem(script.get(CRM), 401)
    problem(script.post(CRM, json={"title": "late"}), 401)
    (listed,) = apps.get("/api/auth/tokens").json()["items"]
    assert listed["revoked_at"] is not None
    problem(apps.delete(f"/api/auth/tokens/{made['id']}"), 404)


def test_using_a_token_sets_last_used_at(apps):
    made = new_token(apps)
    assert apps.get("/api/auth/tokens").json()["items"][0]["last_used_at"] is None
    assert bearer(apps, made["token"]).get("/api/me").status_code == 200
    assert apps.get("/api/auth/tokens").json()["items"][0]["last_used_at"] is not None


def test_nobody_else_can_revoke_my_token(apps):
    made = new_token(apps)
    create_user(apps, "ann@example.com", PASSWORD)
    ann = another_client(apps)
    log_in(ann, "ann@example.com", PASSWORD)
    problem(ann.delete(f"/api/auth/tokens/{made['id']}"), 404)
    assert bearer(apps, made["token"]).get("/api/me").status_code == 200


# ------------------------------------------------------ sessions and me


def test_me_describes_the_logged_in_user(client):
    me = client.get("/api/me").json()
    assert me["email"] == ADMIN_EMAIL and me["is_admin"] is True and me["via"] == "session"
    assert "password" not in str(me) and "hash" not in str(me)


def test_logout_ends_the_session_on_the_server(client):
    cookie = client.cookies["opsloom_session"]
    assert client.post("/api/auth/logout").status_code == 200
    problem(client.get("/api/me"), 401)
    replay = another_client(client)
    replay.cookies.set("opsloom_session", cookie)
    problem(replay.get("/api/me"), 401)


def test_password_change_needs_the_current_password(client):
    response = client.post(
        "/api/auth/password", json={"current_password": "not-it-at-all", "new_password": "brand-new-password"}
    )
    problem(response, 403, "current_password")
    log_in(another_client(client), ADMIN_EMAIL, ADMIN_PASSWORD)


def test_a_short_new_password_is_refused(client):
    response = client.post("/api/auth/password", json={"current_password": ADMIN_PASSWORD, "new_password": "short"})
    problem(response, 422, "new_password")


def test_password_change_ends_other_sessions_and_the_new_password_works(client):
    laptop = another_client(client)
    log_in(laptop, ADMIN_EMAIL, ADMIN_PASSWORD)
    changed = client.post(
        "/api/auth/password", json={"current_password": ADMIN_PASSWORD, "new_password": "brand-new-password"}
    )
    assert changed.status_code == 200, changed.text
    assert client.get("/api/me").status_code == 200  # this session goes on
    problem(laptop.get("/api/me"), 401)
    problem(laptop.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}), 401)
    log_in(laptop, ADMIN_EMAIL, "brand-new-password")
    assert audit_actions(client)["password.changed"] == 1


def test_a_disabled_user_cannot_log_in_and_their_token_and_session_stop_working(apps):
    ann_id = create_user(apps, "ann@example.com", PASSWORD)["id"]
    ann = another_client(apps)
    log_in(ann, "ann@example.com", PASSWORD)
    token = new_token(ann)["token"]
    assert bearer(apps, token).get("/api/me").status_code == 200
    assert apps.patch(f"/api/users/{ann_id}", json={"active": False}).status_code == 200
    problem(ann.get("/api/me"), 401)
    problem(bearer(apps, token).get("/api/me"), 401)
    problem(another_client(apps).post("/api/auth/login", json={"email": "ann@example.com", "password": PASSWORD}), 401)


# ------------------------------------------------------------- audit log


def test_logins_and_failed_logins_are_audited(anonymous):
    ann = create_user(anonymous, "ann@example.com", PASSWORD)
    problem(anonymous.post("/api/auth/login", json={"email": "ann@example.com", "password": "nope-nope"}), 401)
    log_in(anonymous, "ann@example.com", PASSWORD)
    (failed,) = audit_rows(anonymous, "login.failed")
    (login,) = audit_rows(anonymous, "login")
    assert failed.target == "ann@example.com" and failed.actor_id is None and failed.ip
    assert login.actor_id == ann["id"] and login.target == "ann@example.com"


def test_token_use_is_audited(apps):
    made = new_token(apps)
    bearer(apps, made["token"]).get(CRM)
    (used,) = audit_rows(apps, "token.used")
    assert used.target == f"token:{made['id']}"
    assert used.actor_id == apps.get("/api/me").json()["id"]


def test_publishing_roles_and_record_writes_are_audited(apps):
    me = apps.get("/api/me").json()["id"]
    assert {r.target for r in audit_rows(apps, "definition.published")} == {"crm/form/note", "hr/form/note"}
    role = {"app": "crm", "key": "reader", "label": "Reader", "permissions": {"note": {"read": "all"}}}
    assert apps.post("/api/roles", json=role).status_code == 200
    assert apps.post("/api/roles/crm/reader/members", json={"add": [me]}).status_code == 200
    (saved,) = audit_rows(apps, "role.saved")
    (members,) = audit_rows(apps, "role.members")
    assert saved.target == members.target == "crm/role/reader" and saved.actor_id == me
    assert members.detail == {"added": [me], "removed": []}
    record = create(apps, CRM, title="a")
    assert apps.patch(f"{CRM}/{record['id']}", json={"title": "b"}).status_code == 200
    assert apps.delete(f"{CRM}/{record['id']}").status_code == 204
    writes = [
        (r.action, r.target, r.actor_id)
        for r in query(apps, select(tables.audit_log).where(tables.audit_log.c.action.like("record.%")))
    ]
    target = f"crm/note/{record['id']}"
    assert writes == [("record.create", target, me), ("record.update", target, me), ("record.delete", target, me)]
