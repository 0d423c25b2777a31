"""The server-rendered pages, through HTTP: login, logout, language, home, app home, security headers."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from opsloom.runtime.pages.security import CONTENT_SECURITY_POLICY
from tests.builders import field, form, publish_app
from tests.conftest import another_client, create_user


def token_in(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def page_login(browser: TestClient, email: str, password: str) -> None:
    token = token_in(browser.get("/login").text)
    response = browser.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/"


def assert_secure(response) -> None:
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"


def test_home_redirects_to_login_when_logged_out(anonymous: TestClient) -> None:
    response = anonymous.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2F"
    assert_secure(response)


def test_login_page_renders_in_both_languages(anonymous: TestClient) -> None:
    chinese = anonymous.get("/login")
    assert chinese.status_code == 200
    assert '<html lang="zh-CN" ' in chinese.text and "密码" in chinese.text
    assert '<label for="login-email">' in chinese.text and 'id="login-email"' in chinese.text
    assert 'href="#main"' in chinese.text
    assert_secure(chinese)
    english = anonymous.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"})
    assert '<html lang="en" ' in english.text and "Password" in english.text
    assert "<script>" not in english.text and "onclick" not in english.text


def test_wrong_password_is_shown_at_the_field(anonymous: TestClient) -> None:
    create_user(anonymous, "amy@example.com", "right-password-1")
    token = token_in(anonymous.get("/login", headers={"Accept-Language": "en"}).text)
    response = anonymous.post(
        "/login",
        data={"email": "amy@example.com", "password": "wrong", "csrf_token": token},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 401
    assert 'id="login-password-error"' in response.text
    assert "The e-mail or password is wrong" in response.text
    assert 'value="amy@example.com"' in response.text
    assert "opsloom_session" not in response.cookies


def test_login_sets_the_session_and_logout_ends_it(anonymous: TestClient) -> None:
    create_user(anonymous, "amy@example.com", "right-password-1", name="Amy")
    page_login(anonymous, "amy@example.com", "right-password-1")
    assert anonymous.get("/api/me").json()["email"] == "amy@example.com"  # the same cookie as the API
    home = anonymous.get("/")
    assert home.status_code == 200 and "Amy" in home.text
    refused = anonymous.post("/logout", data={}, follow_redirects=False)
    assert refused.status_code == 403
    assert_secure(refused)
    out = anonymous.post("/logout", data={"csrf_token": token_in(home.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert anonymous.get("/api/me").status_code == 401


def test_login_without_or_with_a_forged_token_is_refused(anonymous: TestClient) -> None:
    create_user(anonymous, "amy@example.com", "right-password-1")
    anonymous.get("/login")
    data = {"email": "amy@example.com", "password": "right-password-1"}
    assert anonymous.post("/login", data=data).status_code == 403
    assert anonymous.post("/login", data={**data, "csrf_token": "forged.token"}).status_code == 403
    stranger = another_client(anonymous)  # a token from another browser does not match this one's cookie
    token = token_in(stranger.get("/login").text)
    anonymous.cookies.clear()
    assert anonymous.post("/login", data={**data, "csrf_token": token}).status_code == 403
    assert anonymous.get("/api/me").status_code == 401


def test_switching_language_changes_the_page_text(anonymous: TestClient) -> None:
    page = anonymous.get("/login")
    assert "登录" in page.text
    refused = anonymous.post("/locale", data={"locale": "en", "next": "/login"}, follow_redirects=False)
    assert refused.status_code == 403
    switched = anonymous.post(
        "/locale", data={"locale": "en", "next": "/login", "csrf_token": token_in(page.text)}, follow_redirects=False
    )
    assert switched.status_code == 303 and switched.headers["location"] == "/login"
    assert '<html lang="en" ' in anonymous.get("/login").text
    away = anonymous.post(
        "/locale",
        data={"locale": "zh-CN", "next": "//evil.example", "csrf_token": token_in(page.text)},
        follow_redirects=False,
    )
    assert away.headers["location"] == "/"


def test_logged_in_language_switch_needs_the_session_token(client: TestClient) -> None:
    client.headers.pop("X-CSRF-Token")
    home = client.get("/")
    assert client.post("/locale", data={"locale": "en", "next": "/"}).status_code == 403
    ok = client.post("/locale", data={"locale": "en", "next": "/", "csrf_token": token_in(home.text)})
    assert ok.status_code == 200 and '<html lang="en" ' in ok.text
    assert client.get("/api/me").json()["locale"] == "en"


def test_a_new_user_is_told_what_to_do_next(anonymous: TestClient) -> None:
    create_user(anonymous, "new@example.com", "right-password-1", locale="en")
    page_login(anonymous, "new@example.com", "right-password-1")
    home = anonymous.get("/")
    assert "Welcome to Opsloom" in home.text and "Ask your administrator" in home.text
    assert_secure(home)


def test_home_lists_only_the_users_apps_and_counts(client: TestClient) -> None:
    publish_app(client, "claims", form("claim", field("title")))
    publish_app(client, "secret", form("plan", field("title")))
    user = create_user(client, "bob@example.com", "right-password-1", locale="en")
    role = {"app": "claims", "key": "staff", "label": "Staff", "permissions": {"claim": {"read": "all"}}}
    assert client.post("/api/roles", json=role).status_code == 200
    assert client.post("/api/roles/claims/staff/members", json={"add": [user["id"]]}).status_code == 200
    bob = another_client(client)
    page_login(bob, "bob@example.com", "right-password-1")
    home = bob.get("/")
    assert home.status_code == 200
    assert 'href="/apps/claims"' in home.text and "/apps/secret" not in home.text
    for box in ("Waiting for me", "Submitted by me", "CC&#39;d to me", "Handled by me"):  # as the to-do tabs say
        assert box in home.text, box
    assert re.search(r'<span class="number">0</span> <span class="label">Waiting for me</span>', home.text)
    app_home = bob.get("/apps/claims")
    assert app_home.status_code == 200 and 'href="/apps/claims/forms/claim"' in app_home.text
    assert_secure(app_home)
    assert bob.get("/apps/secret").status_code == 404


def test_metadata_labels_are_escaped(client: TestClient) -> None:
    evil = "<script>alert(1)</script>"
    assert (
        client.put("/api/design/apps/evil", json={"key": "evil", "label": {"zh-CN": evil, "en": evil}}).status_code
        == 200
    )
    client.put("/api/design/apps/evil/forms/plan", json=form("plan", field("title"), label=evil))
    client.post("/api/design/apps/evil/forms/plan/publish")
    for url in ("/", "/apps/evil"):
        page = client.get(url)
        assert page.status_code == 200
        assert evil not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_static_css_is_served(anonymous: TestClient) -> None:
    css = anonymous.get("/static/css/opsloom.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert anonymous.get("/static/js/conditions.js").status_code == 200
