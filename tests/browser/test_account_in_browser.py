"""My settings in a real browser: hand my tasks to a colleague while I am away, then change my password."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEPARTMENT_HEAD, PASSWORD, BrowserLog, log_in

pytestmark = pytest.mark.xdist_group("browser")

Screenshot = Callable[[Page, str], Path]


def test_out_of_office_and_a_new_password(
    open_page: Callable[..., Page], screenshot: Screenshot, browser_log: BrowserLog
) -> None:
    page = open_page()
    log_in(page, DEPARTMENT_HEAD)
    page.locator(".user-menu summary").click()
    page.get_by_role("link", name="我的设置").click()
    expect(page.locator("h1")).to_have_text("我的设置")

    # saving without a person is refused at the field; then the head of Sales hands her tasks to the VP
    page.get_by_label("开始时间").fill("2026-01-01T09:00")
    page.get_by_label("结束时间").fill("2099-12-31T18:00")
    page.get_by_role("button", name="保存外出委托").click()
    expect(page.locator('[data-field="delegate_id"] [data-error]')).not_to_be_empty()
    who = page.get_by_role("combobox", name="委托给")
    who.fill("vp")
    expect(page.get_by_role("option")).to_have_count(1)
    expect(page.get_by_role("option")).to_contain_text("周总")
    who.press("ArrowDown")
    who.press("Enter")
    with page.expect_navigation(url=re.compile(r"/me\?saved=away")):
        page.get_by_role("button", name="保存外出委托").click()
    expect(page.locator("[data-delegations]")).to_contain_text("周总")
    screenshot(page, "out-of-office")
    with page.expect_navigation(url=re.compile(r"/me\?saved=away_ended")):
        page.get_by_role("button", name="结束外出委托").click()
    expect(page.locator("[data-no-delegation]")).to_be_visible()

    # a wrong current password is refused at its field; the right one changes it
    page.get_by_label("当前密码").fill("not-my-password")
    page.get_by_label("新密码").fill("a-new-long-password-2026")
    page.get_by_role("button", name="修改密码").click()
    expect(page.locator('[data-field="current_password"] [data-error]')).not_to_be_empty()
    page.get_by_label("当前密码").fill(PASSWORD)
    page.get_by_role("button", name="修改密码").click()
    expect(page.locator("#flash")).to_contain_text("密码已修改")
    screenshot(page, "password-changed")

    again = open_page()
    log_in(again, DEPARTMENT_HEAD, "a-new-long-password-2026")
    expect(again.locator("h1")).to_contain_text("李娜")
    refusals = [p for p in browser_log.problems if re.search(r"status of (400|403|422)", p)]
    assert len(refusals) == 2 and [p for p in browser_log.problems if p not in refusals] == [], browser_log.problems
