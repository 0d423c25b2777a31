"""The main pages as a head of department meets them, in both languages at desktop and phone width,
on both databases: home with what waits for her, the list, a record, and a task. The pictures (in
test-artifacts/screenshots with OPSLOOM_SCREENSHOTS set) are those the README shows, copied to docs/screenshots."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEPARTMENT_HEAD, DESKTOP, PHONE, BrowserLog, log_in

pytestmark = pytest.mark.xdist_group("browser")

Screenshot = Callable[[Page, str], Path]
LIST = "/apps/procurement/forms/purchase_request"


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_home_list_record_and_task(
    open_page: Callable[..., Page], screenshot: Screenshot, browser_log: BrowserLog, locale: str, viewport: dict
) -> None:
    page = open_page(viewport=viewport, locale=locale)
    log_in(page, DEPARTMENT_HEAD)
    expect(page.locator(".todo-summary").first).to_be_visible()
    screenshot(page, f"home-{locale}-{viewport['width']}")

    page.goto(LIST)
    expect(page.locator("table.records tbody tr").first).to_be_visible()
    screenshot(page, f"list-{locale}-{viewport['width']}")

    page.locator("table.records tbody th a").first.click()
    expect(page.locator(".badge").first).to_be_visible()
    screenshot(page, f"record-{locale}-{viewport['width']}")

    page.goto("/tasks")
    with page.expect_navigation(url=re.compile(r"/tasks/\d+$")):
        page.locator(".todo-title").first.click()
    expect(page.locator("h1")).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"]  # nothing wider than the screen
    screenshot(page, f"task-{locale}-{viewport['width']}")
    assert browser_log.problems == [], browser_log.problems
