"""The list page in a real browser: the filter bar, sorting, a saved view and an export, on both databases.

刘洋 (finance, who sees all spend) filters the purchase requests to amounts
over 10,000 with the filter bar (its operators follow the chosen field), sorts
by amount, saves that as a view, comes back to it, and exports it as CSV.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import FINANCE, BrowserLog, log_in

pytestmark = pytest.mark.xdist_group("browser")

Screenshot = Callable[[Page, str], Path]
LIST = "/apps/procurement/forms/purchase_request"


def amounts(page: Page) -> list[float]:
    header = page.locator("table.records thead tr > *").all_inner_texts()
    column = next(i for i, text in enumerate(header) if text.startswith("金额"))
    cells = page.locator(f"table.records tbody tr > :nth-child({column + 1})").all_inner_texts()
    return [float(text.replace(",", "")) for text in cells]


def test_filter_sort_save_a_view_and_export(
    open_page: Callable[..., Page], screenshot: Screenshot, browser_log: BrowserLog
) -> None:
    page = open_page()
    log_in(page, FINANCE)
    page.goto(LIST)
    everything = len(amounts(page))
    assert everything >= 3

    # the filter opens on demand; the operators follow the field, the value input follows the operator
    expect(page.locator("[data-filter-row]").first).to_be_hidden()
    page.locator(".filter-panel summary").click()
    row = page.locator("[data-filter-row]").first
    row.locator('[data-role="field"]').select_option(label="金额")
    ops = row.locator('[data-role="op"] option').all_inner_texts()
    assert "大于" in ops and "包含" not in ops  # numbers compare; they do not "contain"
    row.locator('[data-role="op"]').select_option(label="大于")
    row.locator('[name="f_value"]').fill("10000")
    with page.expect_navigation(url=re.compile(r"filter=")):
        page.get_by_role("button", name="应用筛选").click()
    expect(page.locator(".chips .chip")).to_have_count(1)
    filtered = amounts(page)
    assert filtered and all(amount > 10000 for amount in filtered) and len(filtered) < everything
    screenshot(page, "filtered")

    # sort by amount, largest first (the header toggles ascending, then descending)
    page.locator("table.records thead").get_by_role("link", name="金额").click()
    expect(page.locator('th[aria-sort="ascending"]')).to_contain_text("金额")
    page.locator("table.records thead").get_by_role("link", name="金额").click()
    expect(page.locator('th[aria-sort="descending"]')).to_contain_text("金额")
    assert amounts(page) == sorted(filtered, reverse=True)

    # saved as a view, it comes back from the list of views
    page.locator(".save-view summary").click()
    page.get_by_label("视图名称").fill("大额申请")
    with page.expect_navigation():
        page.get_by_role("button", name="保存视图").click()
    page.goto(LIST)
    assert len(amounts(page)) == everything
    # the list is read once the view's page has loaded (its sort shows in the header), not mid-navigation
    with page.expect_navigation(url=re.compile(r"view=")):
        page.locator(".view-links").get_by_role("link", name="大额申请").click()
    expect(page.locator('th[aria-sort="descending"]')).to_contain_text("金额")
    assert amounts(page) == sorted(filtered, reverse=True)
    screenshot(page, "saved-view")

    # the export carries the same filter and sort
    with page.expect_download() as fetched:
        page.locator(".export").get_by_role("link", name="CSV").click()
    text = Path(fetched.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert "金额" in rows[0] and len(rows) == 1 + len(filtered)
    column = rows[0].index("金额")
    assert [float(r[column]) for r in rows[1:]] == sorted(filtered, reverse=True)

    assert browser_log.problems == [], browser_log.problems
