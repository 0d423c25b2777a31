"""To-do items in a real browser show each request's number and amount, on the home page and the
to-do list, at desktop and phone width, in both languages, on both databases.

李娜 (head of Sales) has requests of her team waiting for her.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEPARTMENT_HEAD, DESKTOP, PHONE, BrowserLog, log_in

pytestmark = pytest.mark.xdist_group("browser")

Screenshot = Callable[[Page, str], Path]


@pytest.mark.parametrize(
    ("locale", "viewport", "number", "amount"),
    [("zh-CN", DESKTOP, "申请编号", "金额"), ("en", PHONE, "Request no.", "Amount")],
    ids=["zh-desktop", "en-phone"],
)
def test_waiting_items_show_number_and_amount(
    open_page: Callable[..., Page],
    screenshot: Screenshot,
    browser_log: BrowserLog,
    locale: str,
    viewport: dict,
    number: str,
    amount: str,
) -> None:
    page = open_page(viewport=viewport, locale=locale)
    log_in(page, DEPARTMENT_HEAD)
    first = page.locator(".task-list .todo-summary").first
    expect(first).to_be_visible()
    expect(first.locator("dt")).to_have_text([number, amount])
    expect(first.locator("dd").first).to_have_text(re.compile(r"^PR-\d{6}-\d{4}$"))
    screenshot(page, f"home-{locale}")

    page.goto("/tasks")
    item = page.locator(".todo-item").first
    expect(item.locator(".todo-summary dt")).to_have_text([number, amount])
    assert item.locator(".todo-summary dd").nth(1).inner_text().replace(",", "").replace(".", "").isdigit()
    box = item.bounding_box()
    assert box is not None and box["x"] + box["width"] <= viewport["width"]  # nothing cut at phone width
    screenshot(page, f"tasks-{locale}")
    assert browser_log.problems == [], browser_log.problems
