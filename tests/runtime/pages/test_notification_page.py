"""My notifications page: what the approval flow told me, in my language, linked to where to act."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.runtime.flow.test_procurement_flow import REQUESTS, Company
from tests.runtime.pages.test_pages import assert_secure


def test_the_approver_and_the_requester_read_their_notifications(client: TestClient) -> None:
    company = Company(client)
    request = company.request(("Keyboard", 2, "300.00"), title="Keyboards <for> sales")
    requester = company.requester.client
    assert requester.post(f"{REQUESTS}/{request['id']}/submit", json={}).status_code == 200

    head = company.head.client
    head.cookies.set("opsloom_locale", "en")
    home = head.get("/").text
    assert '<a href="/notifications">New notifications: 1</a>' in home
    page = head.get("/notifications")
    assert page.status_code == 200
    assert_secure(page)
    task = company.head.task("head")
    assert f'<a href="/tasks/{task}">“Keyboards &lt;for&gt; sales” is waiting for you</a>' in page.text
    assert "Unread: 1" in page.text and "data-mark-read" in page.text
    assert head.post("/api/notifications/read").status_code == 200
    after = head.get("/notifications").text
    assert "You have read them all." in after and "data-mark-read" not in after
    assert "New notifications" not in head.get("/").text

    head.cookies.set("opsloom_locale", "zh-CN")
    assert "「Keyboards &lt;for&gt; sales」等待你处理" in head.get("/notifications").text


def test_a_new_user_is_told_what_notifications_are_for(client: TestClient) -> None:
    client.cookies.set("opsloom_locale", "en")
    page = client.get("/notifications").text
    assert "Nothing yet." in page and "You have read them all." in page


def test_notifications_need_a_login(anonymous: TestClient) -> None:
    response = anonymous.get("/notifications", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=%2Fnotifications"
