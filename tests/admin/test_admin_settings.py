"""The run-time settings through HTTP, on both databases: the page and the API change them, the
environment fixes some, and each setting takes effect where it is used (passwords, sessions, login
throttling, uploads, time zone, language, mail)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from opsloom.app import create_app
from opsloom.platform import tables
from opsloom.platform.passwords import digest
from opsloom.platform.site_settings import NAMES
from tests.admin.test_admin_pages import page, post
from tests.builders import admin_client, message_at, problem
from tests.conftest import DATABASES, another_client, create_user, log_in, query
from tests.runtime.integrations.test_channels import smtp  # noqa: F401 - a fixture
from tests.runtime.test_attachments import publish, upload

STRONG = "Strong-Password-42"
ENVIRONMENT = {"smtp_from": "ops@example.com"}  # as if OPSLOOM_SMTP_FROM were set


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("settings"), **ENVIRONMENT) as client:
        client.cookies.set("opsloom_locale", "en")
        yield client


@pytest.fixture(autouse=True)
def defaults_again(api: TestClient) -> Iterator[None]:
    """Each test starts from the defaults (the module shares one server)."""
    yield
    back = {name: None for name in NAMES if name not in ENVIRONMENT}
    assert api.patch("/api/settings", json=back).status_code == 200


def change(client: TestClient, **values: Any) -> dict[str, Any]:
    response = client.patch("/api/settings", json=values)
    assert response.status_code == 200, response.text
    return response.json()["settings"]


def field_html(html: str, name: str) -> str:
    found = re.search(rf'<div class="field[^"]*" data-setting="{name}"[^>]*>(.*?)</div>', html, re.S)
    assert found, name
    return found.group(1)


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# ----------------------------------------------------------------- the page and the API


def test_the_page_shows_each_setting_with_its_source(api: TestClient) -> None:
    html = page(api, "/admin/settings")
    assert 'href="/admin/settings" aria-current="page"' in html
    zone = field_html(html, "timezone")
    assert 'value="UTC"' in zone and "Default." in text_of(zone)
    assert 'value="25"' in field_html(html, "max_upload_bytes")  # megabytes
    assert 'value="168"' in field_html(html, "session_lifetime_hours")
    change(api, timezone="Asia/Shanghai")
    zone = field_html(page(api, "/admin/settings"), "timezone")
    assert 'value="Asia/Shanghai"' in zone and "Changed here." in text_of(zone)


def test_a_value_set_in_the_environment_is_read_only_on_the_page(api: TestClient) -> None:
    html = page(api, "/admin/settings")
    sender = field_html(html, "smtp_from")
    assert 'value="ops@example.com"' in sender and " disabled" in sender
    assert "Set by the environment (OPSLOOM_SMTP_FROM); cannot be changed here." in text_of(sender)
    assert " disabled" not in field_html(html, "smtp_host")
    # The form cannot change it either: it is not read, and the API refuses it by name.
    response = post(api, "/admin/settings", {**form_of(html), "smtp_from": "other@example.com"})
    assert response.status_code == 303
    assert api.get("/api/settings").json()["settings"]["smtp_from"] == {
        "value": "ops@example.com",
        "source": "environment",
        "variable": "OPSLOOM_SMTP_FROM",
        "editable": False,
    }
    body = problem(api.patch("/api/settings", json={"smtp_from": "other@example.com"}), 422, "smtp_from")
    assert "OPSLOOM_SMTP_FROM" in message_at(body, "smtp_from")


def form_of(html: str) -> dict[str, str]:
    """The settings form's fields as the browser would post them (text inputs, selects, checked boxes)."""
    form = html.split('action="/admin/settings"', 1)[1].split("</form>", 1)[0]
    fields: dict[str, str] = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
        if not name or " disabled" in tag or name.group(1) == "password_classes":
            continue
        if 'type="checkbox"' in tag:
            if " checked" in tag:
                fields[name.group(1)] = "on"
        else:
            fields[name.group(1)] = value.group(1) if value else ""
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]+)"[^>]*selected', body)
        fields[name] = chosen.group(1) if chosen else ""
    return fields


def test_the_page_saves_changes_and_shows_mistakes_inline(api: TestClient) -> None:
    html = page(api, "/admin/settings")
    fields = form_of(html) | {"timezone": "Mars/Olympus", "max_upload_bytes": "0", "login_max_failures": "many"}
    response = post(api, "/admin/settings", fields)
    assert response.status_code == 400
    assert "Nothing was saved" in response.text
    assert "Enter a number." in text_of(field_html(response.text, "login_max_failures"))
    fields["login_max_failures"] = "7"
    response = post(api, "/admin/settings", fields)
    assert response.status_code == 400
    assert "Enter a time zone such as Asia/Shanghai" in text_of(field_html(response.text, "timezone"))
    assert "Enter a number from 1 to 10240." in text_of(field_html(response.text, "max_upload_bytes"))
    assert 'value="Mars/Olympus"' in field_html(response.text, "timezone")  # what was typed stays
    assert api.get("/api/settings").json()["settings"]["login_max_failures"]["value"] == 5  # all or nothing
    fields |= {"timezone": "Europe/Berlin", "max_upload_bytes": "1.5"}
    response = post(api, "/admin/settings", fields)
    assert response.status_code == 303 and response.headers["location"] == "/admin/settings?notice=saved"
    shown = api.get("/api/settings").json()["settings"]
    assert shown["timezone"]["value"] == "Europe/Berlin" and shown["timezone"]["source"] == "stored"
    assert shown["max_upload_bytes"]["value"] == 1536 * 1024
    assert shown["login_max_failures"]["value"] == 7
    assert shown["session_lifetime_hours"]["source"] == "default"  # unchanged values stay defaults


def test_the_api_refuses_bad_values_by_name_and_keeps_nothing(api: TestClient) -> None:
    bad = {"timezone": "Nowhere/Else", "password_min_length": 3, "smtp_port": "x", "colour": "blue"}
    body = problem(api.patch("/api/settings", json=bad), 422)
    paths = {e["path"] for e in body["errors"]}
    assert {"timezone", "password_min_length", "smtp_port", "colour"} <= paths
    problem(api.patch("/api/settings", json=["timezone"]), 422, "$")
    assert api.get("/api/settings").json()["settings"]["timezone"]["source"] == "default"
    version = api.get("/api/settings").json()["version"]
    problem(api.patch("/api/settings", json={"timezone": "Asia/Tokyo"}, headers={"If-Match": str(version + 5)}), 409)


def test_only_platform_admins_read_or_change_the_settings(api: TestClient) -> None:
    create_user(api, "settings.plain@example.com", STRONG)
    plain = another_client(api)
    log_in(plain, "settings.plain@example.com", STRONG)
    problem(plain.get("/api/settings"), 403)
    problem(plain.patch("/api/settings", json={"timezone": "Asia/Tokyo"}), 403)
    problem(plain.post("/api/settings/test-mail", json={"to": "x@example.com"}), 403)
    problem(another_client(api).get("/api/settings"), 401)


def test_a_change_is_audited_and_the_mail_password_is_never_echoed(api: TestClient) -> None:
    change(api, smtp_host="mail.example.com", smtp_password="hunter2-very-secret")
    assert api.get("/api/settings").json()["settings"]["smtp_password"]["value"] is True
    html = page(api, "/admin/settings")
    assert "hunter2" not in html and "Set — leave empty to keep it" in html
    # Posting the form with the password left empty keeps it.
    assert post(api, "/admin/settings", form_of(html)).status_code == 303
    assert api.app.state.site_settings.current.settings.smtp_password == "hunter2-very-secret"
    ((stored,),) = query(api, select(tables.site_settings.c.document))
    assert "hunter2" not in str(stored) and set(stored["smtp_password"]) == {"sealed"}  # sealed at rest
    entries = query(api, select(tables.audit_log.c.detail).where(tables.audit_log.c.action == "settings.changed"))
    assert entries and all("hunter2" not in str(detail) for (detail,) in entries)
    assert any(detail["changes"].get("smtp_password") == "(changed)" for (detail,) in entries)
    html = page(api, "/admin/settings")
    assert post(api, "/admin/settings", form_of(html) | {"smtp_password_clear": "on"}).status_code == 303
    assert api.get("/api/settings").json()["settings"]["smtp_password"]["value"] is False


def test_another_process_sees_a_change(api: TestClient) -> None:
    """A second server on the same database (its own cache) notices the version moved."""
    config = api.app.state.settings.model_copy(update={"settings_refresh_seconds": 0, "auto_upgrade": False})
    with TestClient(create_app(config), raise_server_exceptions=False) as other:
        other.cookies.set("opsloom_locale", "en")
        log_in(other, "admin@example.com", "admin-password")
        assert other.get("/api/settings").json()["settings"]["session_lifetime_hours"]["value"] == 168
        change(api, session_lifetime_hours=12)
        assert other.get("/api/settings").json()["settings"]["session_lifetime_hours"]["value"] == 12


# ----------------------------------------------------------------- where each setting is used


def test_a_stricter_password_policy_refuses_a_weak_password(api: TestClient) -> None:
    change(api, password_min_length=12, password_classes=["upper", "digit"])
    person = {"email": "policy.person@example.com", "name": "Policy Person"}
    body = problem(api.post("/api/users", json={**person, "password": "Short1"}), 422, "password")
    assert message_at(body, "password") == "use at least 12 characters"
    body = problem(api.post("/api/users", json={**person, "password": "long-but-weak-password"}), 422, "password")
    assert message_at(body, "password") == "add an upper-case letter, a digit"
    created = api.post("/api/users", json={**person, "password": STRONG})
    assert created.status_code == 201, created.text
    # Reset by an admin on the page: refused inline, in the reader's language.
    response = post(api, f"/admin/people/{created.json()['id']}/password", {"password": "no-digits-Here"})
    assert response.status_code == 400
    assert "The password must also contain a digit." in response.text
    # A person changing their own password.
    me = another_client(api)
    log_in(me, person["email"], STRONG)
    change_own = {"current_password": STRONG, "new_password": "weakweakweakweak"}
    problem(me.post("/api/auth/password", json=change_own), 422, "new_password")
    assert me.post("/api/auth/password", json={**change_own, "new_password": "Better-Password-7"}).status_code == 200


def test_a_shortened_session_lifetime_ends_older_sessions(api: TestClient) -> None:
    create_user(api, "session.person@example.com", STRONG)
    browser = another_client(api)
    log_in(browser, "session.person@example.com", STRONG)
    token = browser.cookies.get("opsloom_session")
    s = tables.sessions
    started = datetime.now(UTC) - timedelta(hours=3)

    async def backdate() -> None:
        async with api.app.state.db.session(write=True) as session:
            await session.execute(update(s).where(s.c.token_hash == digest(token)).values(created_at=started))

    api.portal.call(backdate)
    assert browser.get("/api/me").status_code == 200  # 3 hours old, lifetime 7 days
    change(api, session_lifetime_hours=2)
    problem(browser.get("/api/me"), 401)
    assert browser.get("/", follow_redirects=False).headers["location"].startswith("/login")
    assert api.get("/api/me").status_code == 200  # the admin's own session is younger
    # A new login gets the new lifetime, in its row and in its cookie.
    response = another_client(api).post(
        "/api/auth/login", json={"email": "session.person@example.com", "password": STRONG}
    )
    assert "Max-Age=7200" in response.headers["set-cookie"]


def test_login_throttling_follows_the_settings(api: TestClient) -> None:
    change(api, login_max_failures=2, login_lockout_minutes=1)
    create_user(api, "throttle.person@example.com", STRONG)
    visitor = another_client(api)
    wrong = {"email": "throttle.person@example.com", "password": "not-the-password"}
    for _ in range(2):
        problem(visitor.post("/api/auth/login", json=wrong), 401)
    refused = problem(visitor.post("/api/auth/login", json=wrong), 429)
    assert "1 minutes" in refused["detail"]
    assert int(visitor.post("/api/auth/login", json=wrong).headers["retry-after"]) <= 60


def test_the_upload_limit_follows_the_settings(api: TestClient) -> None:
    publish(api)
    content = b"%PDF-1.4\n" + b"x" * (1536 * 1024)
    assert upload(api, content=content).status_code == 201
    change(api, max_upload_bytes=1024 * 1024)
    problem(upload(api, content=content), 413)  # refused before it is read
    body = problem(upload(api, content=content[: 1024 * 1024 + 10_000]), 413, "docs")  # refused as it arrives
    assert "1048576" in message_at(body, "docs")
    assert upload(api, content=content[: 512 * 1024]).status_code == 201


def test_times_are_shown_in_the_zone_the_settings_name(api: TestClient) -> None:
    change(api, timezone="Asia/Kathmandu")  # UTC+05:45
    html = page(api, "/admin/audit")
    moment, shown = re.search(r'<time datetime="([^"]+)">([^<]+)</time>', html).groups()  # type: ignore[union-attr]
    local = datetime.fromisoformat(moment).astimezone(UTC) + timedelta(hours=5, minutes=45)
    assert shown == local.strftime("%Y-%m-%d %H:%M:%S")


def test_people_who_chose_no_language_get_the_default_one(api: TestClient) -> None:
    visitor = another_client(api)
    assert visitor.get("/login").headers["content-language"] == "zh-CN"
    change(api, default_language="en")
    assert visitor.get("/login").headers["content-language"] == "en"
    assert visitor.get("/login", headers={"Accept-Language": "zh-CN"}).headers["content-language"] == "zh-CN"


def test_test_mail_and_notifications_use_the_mail_server_set_here(api: TestClient, smtp: list) -> None:  # noqa: F811
    port = smtp.pop(0)
    html = page(api, "/admin/settings")
    response = post(api, "/admin/settings/test-mail", {"to": "it@example.com"})
    assert response.status_code == 400 and "no mail server is set" in response.text
    post(api, "/admin/settings", form_of(html) | {"smtp_host": "127.0.0.1", "smtp_port": str(port)})
    response = post(api, "/admin/settings/test-mail", {"to": "it@example.com"})
    assert response.status_code == 303 and "notice=test_sent" in response.headers["location"]
    assert "accepted the test message to it@example.com" in page(api, response.headers["location"])
    [envelope] = smtp
    assert envelope.rcpt_tos == ["it@example.com"]
    message = message_from_bytes(envelope.content)
    assert message["From"] == "ops@example.com" and message["Subject"] == "Opsloom test message"
    assert api.post("/api/settings/test-mail", json={"to": "ops.team@example.com"}).json()["sent"] is True


def test_the_settings_page_in_chinese(api: TestClient) -> None:
    api.cookies.set("opsloom_locale", "zh-CN")
    try:
        html = page(api, "/admin/settings")
    finally:
        api.cookies.set("opsloom_locale", "en")
    assert "<h1>系统设置</h1>" in html and "由环境变量设置（OPSLOOM_SMTP_FROM），不能在此修改。" in html
