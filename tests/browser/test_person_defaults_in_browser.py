"""Defaults from the person, in the browser: a new visit opens with the requester's department, the
requester as host and today's date already filled in, and saving keeps them (both databases)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN, PASSWORD, REQUESTER, BrowserLog, LiveServer, log_in
from tests.builders import field, form, publish_app

pytestmark = pytest.mark.xdist_group("browser")


def test_a_new_record_starts_with_the_persons_department_themselves_and_today(
    live_server: LiveServer, open_page: Callable[..., Page], browser_log: BrowserLog
) -> None:
    with httpx.Client(base_url=live_server.url) as admin:
        login = admin.post("/api/auth/login", json={"email": ADMIN, "password": PASSWORD})
        assert login.status_code == 200, login.text
        admin.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        visit = form(
            "visit",
            field("title", label={"zh-CN": "标题", "en": "Title"}, required=True),
            field(
                "team", "department", label={"zh-CN": "部门", "en": "Team"}, default={"formula": "CURRENT_DEPARTMENT()"}
            ),
            field("host", "user", label={"zh-CN": "接待人", "en": "Host"}, default={"formula": "CURRENT_USER()"}),
            field("visit_on", "date", label={"zh-CN": "日期", "en": "Visit on"}, default={"formula": "TODAY()"}),
            title_field="title",
        )
        publish_app(admin, "visits", visit)  # type: ignore[arg-type]
        role = {
            "app": "visits",
            "key": "staff",
            "label": "Staff",
            "permissions": {"visit": {"create": "all", "read": "own"}},
        }
        assert admin.post("/api/roles", json=role).status_code == 200
        assert admin.post("/api/roles/visits/staff/members", json={"everyone": True}).status_code == 200

        page = open_page(locale="en")
        log_in(page, REQUESTER)
        page.goto("/apps/visits/forms/visit/new")
        form_area = page.locator("#record-form")
        expect(form_area.locator('[data-field="team"]')).to_contain_text("Sales")
        expect(form_area.locator('[data-field="host"]')).to_contain_text("王强")
        expect(page.get_by_label("Visit on")).not_to_have_value("")
        today = page.get_by_label("Visit on").input_value()
        page.get_by_label("Title").fill("Customer visit")
        with page.expect_navigation(url=lambda url: "/records/" in url):
            page.get_by_role("button", name="Save", exact=True).click()
        record_id = int(page.url.split("/records/")[1].split("?")[0])
        saved = admin.get(f"/api/apps/visits/forms/visit/records/{record_id}", params={"expand": "team,host"}).json()
        assert saved["team"]["name"] == "销售部 Sales" and saved["host"]["name"] == "王强 Sales rep"
        assert saved["visit_on"] == today
    assert browser_log.problems == [] and browser_log.csp_violations() == []
