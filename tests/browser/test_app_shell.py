"""The app shell in a real browser: the app's side navigation (collapsible on a desktop, a drawer on a
phone, both by keyboard), and the to-do count in the top bar, in both languages."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEPARTMENT_HEAD, PHONE, BrowserLog, log_in

pytestmark = pytest.mark.xdist_group("browser")

Screenshot = Callable[[Page, str], Path]
LIST = "/apps/procurement/forms/purchase_request"


def test_the_side_navigation_on_a_desktop_and_the_to_do_count(
    page: Page, screenshot: Screenshot, browser_log: BrowserLog
) -> None:
    log_in(page, DEPARTMENT_HEAD)  # the head of Sales has the demo's request waiting
    expect(page.locator('[data-count="pending"]')).to_have_text("1")
    page.goto(LIST)
    nav = page.get_by_role("navigation", name="采购管理")
    expect(nav.get_by_role("link", name="采购申请", exact=True)).to_have_attribute("aria-current", "page")
    expect(nav.get_by_role("link", name="供应商", exact=True)).to_be_visible()
    status = page.locator("table.records thead th", has_text="状态")
    expect(status).to_be_in_viewport()  # the list fits beside the menu at 1280 px
    screenshot(page, "list-with-menu")

    nav.get_by_role("link", name="供应商", exact=True).click()
    expect(page).to_have_url(re.compile(r"/forms/supplier$"))
    expect(nav.get_by_role("link", name="供应商", exact=True)).to_have_attribute("aria-current", "page")

    toggle = page.get_by_role("button", name="显示或隐藏应用菜单")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    toggle.focus()
    page.keyboard.press("Enter")
    expect(nav).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    page.reload()  # the choice is remembered
    expect(page.get_by_role("navigation", name="采购管理")).to_be_hidden()
    page.get_by_role("button", name="显示或隐藏应用菜单").click()
    expect(page.get_by_role("navigation", name="采购管理")).to_be_visible()

    page.get_by_role("button", name="English").click()
    expect(
        page.get_by_role("navigation", name="Procurement").get_by_role("link", name="Supplier", exact=True)
    ).to_be_visible()
    screenshot(page, "suppliers-english")
    assert browser_log.csp_violations() == [] and browser_log.problems == []


def test_the_menu_is_a_drawer_on_a_phone(
    open_page: Callable[..., Page], screenshot: Screenshot, browser_log: BrowserLog
) -> None:
    phone = open_page(viewport=PHONE, locale="en")
    log_in(phone, DEPARTMENT_HEAD)  # an English browser: English pages, and the switch offers 中文 only
    expect(phone.get_by_role("button", name="中文")).to_be_visible()
    expect(phone.get_by_role("button", name="English")).to_be_hidden()
    phone.goto(LIST)
    nav = phone.get_by_role("navigation", name="Procurement")
    expect(nav).to_be_hidden()
    toggle = phone.get_by_role("button", name="Show or hide the app menu")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(nav).to_be_visible()
    expect(nav.get_by_role("link", name="Purchase request", exact=True)).to_be_focused()
    screenshot(phone, "drawer-open")
    phone.keyboard.press("Escape")
    expect(nav).to_be_hidden()
    expect(toggle).to_be_focused()
    toggle.click()
    nav.get_by_role("link", name="Supplier", exact=True).click()
    expect(phone).to_have_url(re.compile(r"/forms/supplier$"))
    expect(phone.get_by_role("navigation", name="Procurement")).to_be_hidden()
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert browser_log.csp_violations() == [] and browser_log.problems == []


def test_a_task_s_actions_are_within_the_thumb_s_reach_on_a_phone(
    open_page: Callable[..., Page], screenshot: Screenshot, browser_log: BrowserLog
) -> None:
    phone = open_page(viewport=PHONE)
    log_in(phone, DEPARTMENT_HEAD)
    phone.goto("/tasks")
    phone.locator(".todo-item a").first.click()
    actions = phone.locator("[data-task-actions]")
    phone.mouse.wheel(0, 2000)  # wherever the approver has scrolled to in the record
    box = actions.bounding_box()
    assert box is not None and box["y"] + box["height"] >= PHONE["height"] - 2, box  # at the screen's bottom
    expect(actions.get_by_role("button", name="同意")).to_be_in_viewport()
    rows = phone.locator('[data-readonly-field="items"] td[data-label]')
    expect(rows.first).to_have_attribute("data-label", "物品")  # row cards name their columns
    screenshot(phone, "task-on-a-phone")
    actions.get_by_role("button", name="同意").click()
    expect(phone.locator("#dialog-approve")).to_be_visible()
    assert browser_log.csp_violations() == [] and browser_log.problems == []
