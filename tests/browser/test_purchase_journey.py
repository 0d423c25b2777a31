"""A purchase request from form to approval, in a real browser, as the people of the demo do it.

王强 (Sales) logs in, fills in a request with three line items and watches the
total follow them, meets a validation error at the field, fixes it and
submits. 李娜 (head of Sales) finds it in her to-do list and approves; the two
finance people countersign. 王强 then sees it approved with its timeline, and
switches the page to English. Every step is screenshotted; the test runs on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ACCOUNTANT, DEPARTMENT_HEAD, FINANCE, PHONE, REQUESTER, BrowserLog, log_in

pytestmark = pytest.mark.xdist_group("browser")

Screenshot = Callable[[Page, str], Path]
TITLE = "新员工笔记本电脑"
ITEMS = (("笔记本电脑", "3", "8000.50"), ("扩展坞", "3", "1200"), ("显示器", "2", "2500"))
TOTAL = "32,601.50"  # 3 × 8,000.50 + 3 × 1,200 + 2 × 2,500
SUPPLIER = "Northwind Computing"


def fill_row(page: Page, index: int, item: str, qty: str, price: str) -> None:
    row = page.locator('[data-field="items"] tr[data-row]').nth(index)
    row.get_by_label("物品").fill(item)
    row.get_by_label("数量").fill(qty)
    row.get_by_label("单价").fill(price)


def approve_from_the_todo_list(page: Page, screenshot: Screenshot, who: str, comment: str) -> None:
    log_in(page, who)
    page.goto("/tasks")
    item = page.locator(".todo-item").filter(has_text=TITLE)
    expect(item).to_have_count(1)
    screenshot(page, f"{who.split('@')[0]}-todo")
    item.get_by_role("link", name=TITLE).click()
    expect(page.locator("[data-task]")).to_be_visible()
    expect(page.locator("[data-task-record]")).to_contain_text(TOTAL)
    page.locator("[data-open-dialog=approve]").click()
    dialog = page.locator("#dialog-approve")
    expect(dialog).to_be_visible()
    dialog.locator("textarea[name=comment]").fill(comment)
    screenshot(page, f"{who.split('@')[0]}-approve-dialog")
    with page.expect_navigation(url=re.compile(r"/tasks\?done=approved")):
        dialog.locator("[data-submit]").click()
    expect(page.locator(".todo-item").filter(has_text=TITLE)).to_have_count(0)
    screenshot(page, f"{who.split('@')[0]}-approved")


def test_a_purchase_request_from_the_form_to_its_approval(
    open_page: Callable[..., Page], screenshot: Screenshot, browser_log: BrowserLog
) -> None:
    requester = open_page()
    log_in(requester, REQUESTER)
    screenshot(requester, "requester-home")

    # the form: three line items, the total computed as they are typed
    requester.goto("/apps/procurement/forms/purchase_request")
    with requester.expect_navigation():  # to the load event: the supplier picker's script listens from then on
        requester.get_by_role("link", name="新建").click()
    expect(requester.locator("h1")).to_have_text("新建采购申请")
    requester.get_by_label("标题").fill(TITLE)
    requester.get_by_label("申请部门").select_option("sales")
    # the supplier picker searches the supplier records as you type, and answers the keyboard
    supplier = requester.locator('[data-field="supplier"]')
    supplier.get_by_role("combobox").fill(SUPPLIER[:4])
    expect(supplier.get_by_role("option")).to_have_text([SUPPLIER])  # the search's answer, and only it
    supplier.get_by_role("combobox").press("ArrowDown")
    supplier.get_by_role("combobox").press("Enter")
    expect(supplier.locator(".chip")).to_have_text(re.compile(SUPPLIER))
    requester.get_by_label("需要日期").fill("2026-12-15")
    # a quotation, uploaded to the files API as soon as it is chosen
    requester.locator('[data-field="quotation"] input[type=file]').set_input_files(
        {"name": "报价单.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n% quotation\n"}
    )
    quotation = requester.locator('[data-field="quotation"] [data-file-id]')
    expect(quotation).to_contain_text("报价单.pdf")
    expect(quotation.get_by_role("button", name="移除 报价单.pdf")).to_be_visible()
    expect(requester.locator('[data-field="number"] output')).to_have_text("保存后生成")
    expect(requester.locator('[data-field="items"] tr[data-row]')).to_have_count(1)  # required: one row to start
    for index, line in enumerate(ITEMS):
        if index:
            requester.get_by_role("button", name="添加一行").click()
        fill_row(requester, index, *line)
    expect(requester.locator('[data-field="amount"] output')).to_have_text(TOTAL)
    totals = requester.locator('[data-field="line_total"] output')
    expect(totals).to_have_text(["24,001.50", "3,600.00", "5,000.00"])
    screenshot(requester, "form-with-total")

    # a quantity that is not a number: the error is shown at its cell, and saving waits
    fill_row(requester, 1, "扩展坞", "三", "1200")
    requester.get_by_role("button", name="保存并提交").click()
    cell = requester.locator('[data-field="items"] tr[data-row]').nth(1).locator('[data-field="qty"]')
    expect(cell.locator("[data-error]")).to_have_text("请输入整数")
    expect(cell.locator("input")).to_have_attribute("aria-invalid", "true")
    expect(cell.locator("input")).to_be_focused()
    expect(requester.locator("[data-error-summary]")).to_contain_text("采购明细 2 · 数量")
    expect(requester.locator("#flash")).to_be_hidden()  # one banner: the summary
    assert "/new" in requester.url  # nothing was saved
    screenshot(requester, "validation-error-at-the-field")

    fill_row(requester, 1, "扩展坞", "3", "1200")
    # fixed: the error and the summary go away as soon as the value is right, before any save
    expect(cell.locator("[data-error]")).to_be_empty()
    expect(cell.locator("input")).not_to_have_attribute("aria-invalid", "true")
    expect(requester.locator("[data-error-summary]")).to_be_hidden()
    expect(requester.locator('[data-field="amount"] output')).to_have_text(TOTAL)
    with requester.expect_navigation(url=re.compile(r"/records/\d+\?notice=submitted")):
        requester.get_by_role("button", name="保存并提交").click()
    expect(requester.locator("[data-status]")).to_have_text("审批中")
    expect(requester.locator(".timeline")).to_contain_text("等待 李娜")
    expect(requester.locator('.record-field[data-field="supplier"]')).to_contain_text(SUPPLIER)
    expect(requester.locator('.record-field[data-field="needed_by"]')).to_contain_text("2026年12月15日")
    download = requester.locator('.record-field[data-field="quotation"]').get_by_role("link", name="报价单.pdf")
    with requester.expect_download() as fetched:
        download.click()
    assert fetched.value.suggested_filename == "报价单.pdf"
    record_url = requester.url.split("?")[0]
    screenshot(requester, "submitted")

    # the head of Sales, then finance's countersign, each from their to-do list
    approve_from_the_todo_list(open_page(), screenshot, DEPARTMENT_HEAD, "同意，按预算执行")
    approve_from_the_todo_list(open_page(), screenshot, FINANCE, "财务确认")
    approve_from_the_todo_list(open_page(), screenshot, ACCOUNTANT, "已核对金额")

    # the requester sees it approved, with who approved and what they said
    requester.goto(record_url)
    expect(requester.locator("[data-status]")).to_have_text("已通过")
    timeline = requester.locator(".timeline")
    expect(timeline).to_contain_text("李娜")
    expect(timeline).to_contain_text("同意，按预算执行")
    expect(timeline).to_contain_text("已核对金额")
    screenshot(requester, "approved-with-timeline")

    requester.get_by_role("button", name="English").click()
    expect(requester.locator("[data-status]")).to_have_text("Approved")
    expect(requester.locator("h1")).to_contain_text("Purchase request")
    expect(requester.locator(".record-field").filter(has_text="Amount")).to_contain_text(TOTAL)
    screenshot(requester, "approved-in-english")

    # the one refusal the browser saw is the save with the bad quantity
    refused = [p for p in browser_log.problems if "status of 422" in p]
    assert len(refused) == 1 and "/records:" in refused[0], browser_log.problems
    assert [p for p in browser_log.problems if p not in refused] == []


def test_the_form_works_on_a_phone(
    open_page: Callable[..., Page], screenshot: Screenshot, browser_log: BrowserLog
) -> None:
    phone = open_page(viewport=PHONE)
    log_in(phone, REQUESTER)
    phone.goto("/apps/procurement/forms/purchase_request/new")
    fill_row(phone, 0, "打印纸", "10", "25.5")
    expect(phone.locator('[data-field="amount"] output')).to_have_text("255.00")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(phone, "phone-form")

    # rows are reordered and removed with the keyboard-reachable buttons
    phone.get_by_role("button", name="添加一行").click()
    fill_row(phone, 1, "订书机", "1", "30")
    rows = phone.locator('[data-field="items"] tr[data-row]')
    rows.nth(1).get_by_role("button", name="上移此行").click()
    expect(rows.nth(0).get_by_label("物品")).to_have_value("订书机")
    expect(phone.locator('[data-field="amount"] output')).to_have_text("285.00")
    rows.nth(0).get_by_role("button", name="删除此行").click()
    expect(rows).to_have_count(1)
    expect(phone.locator('[data-field="amount"] output')).to_have_text("255.00")
    screenshot(phone, "phone-rows")

    # required_when, live: over 100,000 the reason becomes required (conditions.js on the computed amount)
    reason = phone.locator('[data-field="reason"]')
    expect(reason.locator(".required")).to_have_count(0)
    fill_row(phone, 0, "服务器", "2", "60000")
    expect(phone.locator('[data-field="amount"] output')).to_have_text("120,000.00")
    expect(reason.locator(".required")).to_have_count(1)
    expect(reason.locator("textarea")).to_have_attribute("aria-required", "true")
    screenshot(phone, "phone-reason-required")
    # and the server agrees: saving without a reason is refused at the field
    phone.get_by_label("标题").fill("机房服务器")
    phone.get_by_label("申请部门").select_option("sales")
    phone.get_by_role("button", name="保存", exact=True).click()
    expect(reason.locator("[data-error]")).to_have_text("此记录需要填写此项")
    fill_row(phone, 0, "服务器", "1", "60000")
    expect(reason.locator(".required")).to_have_count(0)
    # the one refusal is that save without a reason
    assert [p for p in browser_log.problems if "status of 422" not in p] == [], browser_log.problems
