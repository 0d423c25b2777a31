"""The list's layout and actions in a real browser, on both databases: selecting rows (all at once
or one by one, by keyboard), deleting the selected ones (a refusal reported per row), grouping by
an option, resizing a column with the keyboard, and a view that keeps the column order and width.

王强 (a requester, who may delete his own requests) tidies his purchase requests.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import PHONE, REQUESTER, BrowserLog, LiveServer, log_in
from tests.browser.test_accessibility import violations

pytestmark = pytest.mark.xdist_group("browser")

Screenshot = Callable[[Page, str], Path]
LIST = "/apps/procurement/forms/purchase_request"
API = "/api/apps/procurement/forms/purchase_request/records"

CREATE = """async ([url, titles]) => {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const ids = [];
  for (const title of titles) {
    const response = await fetch(url, {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": token},
      body: JSON.stringify({title, department: "sales", category: "it",
                            items: [{item: "Pen", qty: 1, unit_price: "3.00"}]}),
    });
    if (!response.ok) throw new Error(await response.text());
    ids.push((await response.json()).id);
  }
  return ids;
}"""


def header_texts(page: Page) -> list[str]:
    return [text.strip() for text in page.locator("table.records thead th").all_inner_texts()]


def test_select_delete_group_resize_and_keep_the_layout_in_a_view(
    open_page: Callable[..., Page], screenshot: Screenshot, browser_log: BrowserLog
) -> None:
    page = open_page()
    log_in(page, REQUESTER)
    page.evaluate(CREATE, [API, ["整理-甲", "整理-乙"]])
    page.goto(f"{LIST}?q=整理")
    rows = page.locator("[data-bulk-row]")
    expect(rows).to_have_count(2)

    # select all, then leave one out: the header box shows "some", the count follows, by keyboard
    delete = page.get_by_role("button", name="删除所选")
    expect(delete).to_be_disabled()
    page.get_by_label("选择本页所有行").focus()
    page.keyboard.press("Space")
    expect(page.locator("[data-bulk-count]")).to_have_text("已选 2 条")
    page.locator("tbody tr", has_text="整理-乙").get_by_label(re.compile(r"^选择 PR-")).uncheck()
    expect(page.locator("[data-bulk-count]")).to_have_text("已选 1 条")
    assert page.get_by_label("选择本页所有行").evaluate("box => box.indeterminate") is True
    screenshot(page, "one-selected")

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        delete.click()
    expect(page.get_by_role("status").filter(has_text="已删除 1 条记录")).to_be_visible()
    screenshot(page, "deleted")
    with page.expect_navigation():
        page.get_by_role("link", name="返回列表").click()
    expect(page.locator("[data-bulk-row]")).to_have_count(1)
    expect(page.locator("table.records")).to_contain_text("整理-乙")

    # group by category: one header per category, with its count
    page.goto(LIST)
    page.get_by_label("分组", exact=True).select_option(label="类别")
    with page.expect_navigation(url=re.compile(r"group=category")):
        page.get_by_role("button", name="分组", exact=True).click()
    groups = page.locator("tr.group-row th")
    expect(groups.first).to_be_visible()
    assert all(re.search(r"\d+ 条$", text) for text in groups.all_inner_texts())
    screenshot(page, "grouped")

    # widen the title column by keyboard: the separator says its width
    title_head = page.locator("table.records thead th", has_text="标题")
    before = title_head.bounding_box()["width"]
    handle = page.get_by_role("separator", name="标题 列的宽度")
    handle.focus()
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    after = title_head.bounding_box()["width"]
    assert after >= before + 50
    assert int(handle.get_attribute("aria-valuenow")) >= after - 1

    # a view keeps it all: the title moved first, the width, the grouping
    page.locator(".save-view summary").click()
    columns = page.locator("[data-column-order] li")
    title_at = [t.strip() for t in columns.locator("label span").all_inner_texts()].index("标题")
    for _ in range(title_at):
        page.get_by_role("button", name="上移 标题").click()
    expect(columns.first).to_contain_text("标题")
    page.get_by_label("视图名称").fill("按类别")
    with page.expect_navigation(url=re.compile(r"view=\d+")):
        page.get_by_role("button", name="保存视图").click()
    assert header_texts(page)[0].startswith("标题")
    expect(page.locator("tr.group-row").first).to_be_visible()
    width = page.locator("table.records thead th", has_text="标题").bounding_box()["width"]
    assert abs(width - after) <= 2
    screenshot(page, "view")
    assert browser_log.problems == [], browser_log.problems


def test_the_list_with_its_layout_tools_passes_axe_on_a_phone(browser: Browser, live_server: LiveServer) -> None:
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, bypass_csp=True, locale="en")
    page = context.new_page()
    log_in(page, REQUESTER)
    page.goto(f"{LIST}?group=category")
    expect(page.locator("tr.group-row").first).to_be_visible()
    expect(page.get_by_role("separator").first).to_be_attached()
    page.locator(".save-view summary").first.click()
    assert violations(page) == []
    context.close()
