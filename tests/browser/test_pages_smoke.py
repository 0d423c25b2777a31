"""The pages in a real browser: log in, home, app, list, language, phone width; no CSP violations or JS errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from opsloom.runtime.pages.security import CONTENT_SECURITY_POLICY
from tests.browser.conftest import PHONE, REQUESTER, BrowserLog, log_in

pytestmark = pytest.mark.xdist_group("browser")

Screenshot = Callable[[Page, str], Path]


def test_requester_finds_the_purchase_requests_in_both_languages_and_on_a_phone(
    page: Page, screenshot: Screenshot, browser_log: BrowserLog
) -> None:
    log_in(page, REQUESTER)
    expect(page.locator("h1")).to_contain_text("你好")
    counts = page.locator(".counts .count .number")
    expect(counts).to_have_count(4)
    assert all(text.isdigit() for text in counts.all_inner_texts())
    expect(page.locator(".counts")).to_contain_text("待我处理")
    app_link = page.locator(".app-grid").get_by_role("link", name="采购管理")
    expect(app_link).to_be_visible()
    screenshot(page, "home")

    app_link.click()
    expect(page).to_have_url(re.compile(r"/apps/procurement$"))
    expect(page.locator("h1")).to_have_text("采购管理")
    screenshot(page, "app")

    page.locator(".menu").get_by_role("link", name="采购申请", exact=True).click()
    expect(page).to_have_url(re.compile(r"/apps/procurement/forms/purchase_request$"))
    expect(page.locator("h1")).to_have_text("采购申请")
    expect(page.locator("#list-total")).to_contain_text("条记录")
    screenshot(page, "list")

    response = page.reload()
    assert response is not None and response.status == 200
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"

    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Purchase request")
    expect(page.locator("#list-total")).to_contain_text("records")
    expect(page).to_have_url(re.compile(r"/apps/procurement/forms/purchase_request$"))  # back where we were
    screenshot(page, "list-english")

    page.get_by_role("button", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_have_text("采购申请")
    screenshot(page, "list-chinese-again")

    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.locator("h1")).to_have_text("采购申请")
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= PHONE["width"], f"the list page is {scroll_width} px wide on a {PHONE['width']} px phone"
    screenshot(page, "list-phone")

    assert browser_log.csp_violations() == []
    assert browser_log.problems == []


def test_the_api_docs_list_the_routes_offline(page: Page, screenshot: Screenshot, browser_log: BrowserLog) -> None:
    """Swagger UI comes from npm at /vendor/: the browser here reaches no CDN, and the page still works."""
    log_in(page, REQUESTER)
    page.goto("/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Opsloom")
    expect(page.locator(".opblock-tag", has_text="integrations")).to_be_visible()  # the last tag: all are there
    page.locator(".opblock-tag", has_text="flows").click()
    expect(page.locator(".opblock-summary-path", has_text="/api/tasks").first).to_be_visible()
    screenshot(page, "api-docs")

    page.goto("/api/docs?app=procurement")
    page.locator(".opblock-tag", has_text="purchase_request").click()
    expect(page.locator(".opblock-summary-path", has_text="/purchase_request/records").first).to_be_visible()
    assert browser_log.csp_violations() == []
    assert [p for p in browser_log.problems if "favicon" not in p] == []
