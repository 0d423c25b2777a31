"""A field its rule hides in the browser is left out of the save: a travel claim switched to goods keeps no
destination, and the server does not refuse it for the value the hidden field still holds."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN, PASSWORD, BrowserLog, LiveServer, log_in
from tests.builders import field, form, options, publish_app

pytestmark = pytest.mark.xdist_group("browser")


def test_a_field_hidden_by_its_rule_is_not_sent(
    live_server: LiveServer, open_page: Callable[..., Page], browser_log: BrowserLog
) -> None:
    with httpx.Client(base_url=live_server.url) as admin:
        login = admin.post("/api/auth/login", json={"email": ADMIN, "password": PASSWORD})
        assert login.status_code == 200, login.text
        admin.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        claim = form(
            "claim",
            field("title", required=True),
            field("kind", "select", options=options("travel", "goods")),
            field("destination", visible_when={"field": "kind", "op": "eq", "value": "travel"}),
            title_field="title",
        )
        publish_app(admin, "expenses", claim)  # type: ignore[arg-type]

        page = open_page(locale="en")
        log_in(page, ADMIN)
        page.goto("/apps/expenses/forms/claim/new")
        page.get_by_label("Title").fill("Trip")
        page.get_by_label("Kind").select_option("travel")
        page.get_by_label("Destination").fill("Paris")
        page.get_by_label("Kind").select_option("goods")  # the destination hides, its text still in the input
        expect(page.locator('[data-field="destination"]')).to_be_hidden()
        with page.expect_navigation(url=lambda url: "/records/" in url):
            page.get_by_role("button", name="Save").click()
        record_id = int(page.url.split("/records/")[1].split("?")[0])
        saved = admin.get(f"/api/apps/expenses/forms/claim/records/{record_id}").json()
        assert saved["kind"] == "goods" and saved["destination"] is None
    assert browser_log.problems == [] and browser_log.csp_violations() == []
