"""An English browser stays English after logging in: the demo people have not chosen a language."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEPARTMENT_HEAD, BrowserLog, log_in

pytestmark = pytest.mark.xdist_group("browser")

Screenshot = Callable[[Page, str], Path]
REQUEST = "客户演示用投影仪"  # the demo's request waiting for the head of Sales


def test_an_english_browser_logs_in_to_english_pages_and_step_names(
    open_page: Callable[..., Page], screenshot: Screenshot, browser_log: BrowserLog
) -> None:
    page = open_page(locale="en-US")
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    log_in(page, DEPARTMENT_HEAD)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("link", name=re.compile(r"^My to-do"))).to_be_visible()
    expect(page.locator('[data-count="pending"]')).to_have_text("1")  # the top bar counts her to-do
    expect(page.locator("main")).to_contain_text("Department head")  # the step of the task waiting for her
    screenshot(page, "home")

    page.goto("/tasks")
    item = page.locator(".todo-item").filter(has_text=REQUEST)
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Step: Department head")
    expect(item).not_to_contain_text("部门负责人")
    screenshot(page, "todo")

    item.get_by_role("link", name=REQUEST).click()
    expect(page.locator("[data-task]")).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text(re.compile(r"Step\s*Department head"))
    assert browser_log.problems == []
