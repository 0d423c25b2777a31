"""Importing a messy Chinese spreadsheet through the pages, on a phone, on both databases.

The admin adds an expense form to the procurement demo, then imports an XLSX
file as people really have them: amounts as ¥1,234.50, ￥12,000 and $800,
full-width digits, dates written three ways plus an Excel serial number,
是/否/√/N, suppliers by name, and categories the form does not have. The page
lists those unknown categories; the admin maps one to an option and the other
to empty, tries the import, runs it, and downloads the row it refused.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import xlsxwriter  # type: ignore[import-untyped]
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN, PHONE, BrowserLog, log_in

pytestmark = pytest.mark.xdist_group("browser")

Screenshot = Callable[[Page, str], Path]
LIST = "/apps/procurement/forms/expense"
EXPENSE = {
    "key": "expense",
    "label": {"zh-CN": "费用", "en": "Expense"},
    "title_field": "title",
    "fields": [
        {
            "id": "fld_title",
            "key": "title",
            "type": "text",
            "label": {"zh-CN": "事由", "en": "Title"},
            "required": True,
        },
        {
            "id": "fld_amount",
            "key": "amount",
            "type": "decimal",
            "label": {"zh-CN": "金额", "en": "Amount"},
            "precision": 14,
            "scale": 2,
        },
        {
            "id": "fld_kind",
            "key": "kind",
            "type": "select",
            "label": {"zh-CN": "类型", "en": "Kind"},
            "options": [
                {"value": "travel", "label": {"zh-CN": "差旅", "en": "Travel"}},
                {"value": "office", "label": {"zh-CN": "办公", "en": "Office"}},
                {"value": "meal", "label": {"zh-CN": "餐饮", "en": "Meals"}},
            ],
        },
        {"id": "fld_spent", "key": "spent_on", "type": "date", "label": {"zh-CN": "日期", "en": "Date"}},
        {"id": "fld_qty", "key": "qty", "type": "integer", "label": {"zh-CN": "数量", "en": "Quantity"}, "min": 1},
        {"id": "fld_paid", "key": "paid", "type": "boolean", "label": {"zh-CN": "已付款", "en": "Paid"}},
        {
            "id": "fld_supplier",
            "key": "supplier",
            "type": "relation",
            "form": "supplier",
            "label": {"zh-CN": "供应商", "en": "Supplier"},
        },
    ],
}
HEADERS = ["事由", "金额", "类型", "日期", "数量", "已付款", "供应商"]
ROWS = [
    ["出差北京", "¥1,234.50", "差旅", "2024/1/5", "２", "是", "Northwind Computing"],
    ["办公椅", "￥12,000", "办公", "2024年1月6日", "１０", "否", "深圳云启科技"],
    ["团建晚餐", "$800", "团建费", 45300, 3, "√", "华东办公用品有限公司"],
    ["坏行", "abc", "差旅", "2024.1.8", "0", "否", "Northwind Computing"],
    ["礼品", "1,000", "礼品卡", "2024-1-9", "1", "N", "CleanPro Facility Services"],
]


def messy_workbook(path: Path) -> Path:
    book = xlsxwriter.Workbook(str(path))
    book.add_worksheet("说明").write(0, 0, "费用导入")
    sheet = book.add_worksheet("费用")
    for r, row in enumerate([HEADERS, *ROWS]):
        for c, cell in enumerate(row):
            sheet.write(r, c, cell)
    book.close()
    return path


def publish_expense(page: Page) -> None:
    token = page.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    headers = {"X-CSRF-Token": token, "Content-Type": "application/json"}
    saved = page.request.put("/api/design/apps/procurement/forms/expense", data=json.dumps(EXPENSE), headers=headers)
    assert saved.ok, saved.text()
    published = page.request.post("/api/design/apps/procurement/forms/expense/publish", headers=headers)
    assert published.ok, published.text()


def test_a_messy_chinese_workbook_imports_through_the_pages(
    open_page: Callable[..., Page], screenshot: Screenshot, browser_log: BrowserLog, tmp_path: Path
) -> None:
    page = open_page(viewport=PHONE)
    log_in(page, ADMIN)
    publish_expense(page)
    page.goto(LIST)
    page.get_by_role("link", name="导入", exact=True).click()
    expect(page.get_by_role("heading", name="导入到费用")).to_be_visible()

    page.get_by_label("Excel 或 CSV 文件").set_input_files(str(messy_workbook(tmp_path / "费用.xlsx")))
    page.get_by_role("button", name="上传").click()
    setup = page.locator("#import-setup")
    expect(setup).to_be_visible()
    expect(page.locator("#import-sheet")).to_have_value("说明")  # the first sheet; the data is on the second
    page.locator("#import-sheet").select_option("费用")
    page.get_by_role("button", name="应用", exact=True).click()
    expect(page.locator("[data-mapping] select").first).to_have_value("title")
    mapped = page.locator("[data-mapping] select").evaluate_all("(all) => all.map((s) => s.value)")
    assert mapped == ["title", "amount", "kind", "spent_on", "qty", "paid", "supplier"]

    # the categories the form lacks are listed once each; the import waits for them
    values = page.locator("[data-unmatched] [data-value-field]")
    expect(values).to_have_count(2)
    expect(page.get_by_role("button", name="4. 开始导入")).to_be_disabled()
    screenshot(page, "unmatched-values")
    page.get_by_label("导入为: 团建费").select_option(label="餐饮")
    page.get_by_label("导入为: 礼品卡").select_option(label="（留空）")
    page.get_by_role("button", name="应用", exact=True).click()
    expect(page.locator("[data-unmatched-wrap]")).to_be_hidden()

    page.get_by_role("button", name="3. 试导入（不保存）").click()
    expect(page.locator("[data-report-summary]")).to_have_text("5 行中 4 行可导入，1 行有问题。")
    expect(page.locator(".import-problems tbody tr")).to_have_count(1)
    expect(page.locator(".import-problems tbody td").first).to_have_text("5")
    screenshot(page, "dry-run")

    page.get_by_role("button", name="4. 开始导入").click()
    status = page.locator("[data-progress-text]")
    expect(status).to_have_text("完成：新增 4 条，更新 0 条，跳过 0 条，拒绝 1 条。")
    expect(page.locator("progress[data-progress]")).to_have_attribute("value", "5")
    screenshot(page, "done")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]  # no sideways scroll on a phone

    with page.expect_download() as fetched:
        page.get_by_role("link", name="下载未导入的行").click()
    refused = [list(r) for r in load_workbook(io.BytesIO(Path(fetched.value.path()).read_bytes())).active.values]
    assert refused[0] == [*HEADERS, "问题", "原行号"]
    assert refused[1][0] == "坏行" and refused[1][-1] == 5
    assert "amount" in refused[1][-2] and "qty" in refused[1][-2]

    records = page.request.get("/api/apps/procurement/forms/expense/records?expand=supplier&sort=id").json()["items"]
    shown = [
        (r["title"], r["amount"], r["kind"], r["spent_on"], r["qty"], r["paid"], r["supplier"]["title"])
        for r in records
    ]
    assert shown == [
        ("出差北京", "1234.50", "travel", "2024-01-05", 2, True, "Northwind Computing"),
        ("办公椅", "12000.00", "office", "2024-01-06", 10, False, "深圳云启科技"),
        ("团建晚餐", "800.00", "meal", "2024-01-09", 3, True, "华东办公用品有限公司"),
        ("礼品", "1000.00", None, "2024-01-09", 1, False, "CleanPro Facility Services"),
    ]

    # the same page in English
    page.get_by_role("button", name="English").click()
    page.goto(f"{LIST}/import")
    expect(page.get_by_role("heading", name="Import into Expense")).to_be_visible()
    assert browser_log.problems == [], browser_log.problems
