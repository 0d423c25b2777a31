"""My settings page (`/me`): out-of-office delegation and password, on both databases."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import create_user
from tests.runtime.pages.test_pages import assert_secure


def test_my_settings_show_my_delegations_in_my_language(client: TestClient) -> None:
    deputy = create_user(client, "deputy@example.com", "right-password-1", name="Deputy <D>")
    client.cookies.set("opsloom_locale", "en")
    page = client.get("/me")
    assert page.status_code == 200
    assert_secure(page)
    assert "Your tasks come to you." in page.text and 'data-picker="user"' in page.text
    assert '<script type="module" src="/static/js/account.js"></script>' in page.text
    away = {"delegate_id": deputy["id"], "starts_at": "2020-01-01T09:00:00Z", "ends_at": "2099-01-02T18:00:00Z"}
    assert client.put("/api/me/delegation", json=away).status_code == 200
    page = client.get("/me?saved=away").text
    assert "Out of office saved" in page
    assert re.search(r"Until Jan 2, 2099, 6:00:00\s*PM, new tasks go to Deputy &lt;D&gt;", page)
    assert "data-end-delegation" in page
    client.cookies.set("opsloom_locale", "zh-CN")
    assert "新的待办交给 Deputy &lt;D&gt;" in client.get("/me").text


def test_my_settings_need_a_login(anonymous: TestClient) -> None:
    response = anonymous.get("/me", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=%2Fme"
