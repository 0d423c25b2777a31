"""A purchase-request app built from nothing through the designer's pages alone, on both databases: the
supplier form, the purchase request (department, supplier link, line items with a line-total formula, a
total over them, an amount, a reason required over 100 000), published through the publish page, a
requester role granted on the permissions page; then a demo requester raises a request on the end-user
page and sees the computed total. The main steps are photographed for the README."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser import app_building as build
from tests.browser.conftest import ADMIN, REQUESTER, BrowserLog, log_in

pytestmark = pytest.mark.xdist_group("browser")
# bench/first_app.py runs this test and asks for its figures in this file: actions and wall time.
FIGURES = os.environ.get("OPSLOOM_FIRST_APP_FIGURES")


def test_a_purchase_request_app_is_built_through_the_pages_and_used(
    open_page: Callable[..., Page], screenshot: Callable[[Page, str], Path], browser_log: BrowserLog
) -> None:
    designer = build.Hands(open_page(locale="en"))
    log_in(designer.page, ADMIN)
    requester = build.Hands(open_page(locale="en"))
    log_in(requester.page, REQUESTER)
    photographing = 0.0  # the screenshots' time is not the person's

    def photo(page: Page, step: str) -> Path:
        nonlocal photographing
        taken = time.perf_counter()
        path = screenshot(page, step)
        photographing += time.perf_counter() - taken
        return path

    started = time.perf_counter()
    build.create_app(designer)
    build.build_supplier(designer)
    build.build_purchase_request(designer, photo)
    build.grant_requester(designer, REQUESTER, photo)
    build.add_supplier(designer, "Northwind Computing")
    before_flow = designer.actions
    build.design_flow(designer, "王强 Sales rep", photo)
    flow_actions = designer.actions - before_flow
    designed = time.perf_counter() - started - photographing
    route = designer.page.locator(".fl-route li")
    expect(route).to_have_count(4)  # the head of Sales, the branch, every manager up to the top, the CC
    expect(route.nth(2)).to_contain_text("李娜 Sales head, 周总 Vice-president")

    stored = designer.page.request.get(f"/api/design/apps/{build.APP}/forms/purchase_request").json()
    fields = {f["key"]: f for f in stored["draft"]["fields"]}
    assert fields["reason"]["required_when"] == {"and": [{"field": "amount", "op": "gt", "value": 100000}]}
    assert fields["total"]["formula"] == "SUM(items.line_total)" and fields["supplier"]["form"] == "supplier"
    assert [c["key"] for c in fields["items"]["fields"]] == [
        "item",
        "quantity",
        "unit_price",
        "line_total",
    ]  # "item": the subform's first column

    build.raise_request(requester, "Northwind Computing", photo)
    seconds = time.perf_counter() - started - photographing
    if FIGURES:
        both = (designer, requester)
        counts = {name: sum(getattr(h, name) for h in both) for name in ("clicks", "keys", "drags")}
        figures = {**counts, "designer": designer.actions, "requester": requester.actions, "flow": flow_actions}
        Path(FIGURES).write_text(json.dumps({**figures, "seconds": seconds, "designed": designed}))
    records = requester.page.request.get(f"/api/apps/{build.APP}/forms/purchase_request/records").json()["items"]
    assert [r["total"] for r in records] == ["2400.00"]

    # A rule on the formula Total offers the conditions of what it produces (a number): "is greater than".
    page = designer.page
    page.goto(f"/design/apps/{build.APP}/forms/purchase_request")
    build.designer_ready(page)
    page.locator('.fd-cell[data-key="reason"] .fd-card-main').click()
    rule = page.locator('[data-rule="required_when"]')  # open: the field has that rule
    rule.get_by_label("Field", exact=True).select_option("total")
    expect(rule.get_by_label("Condition", exact=True).locator('option[value="gt"]')).to_have_count(1)
    assert browser_log.problems == [] and browser_log.csp_violations() == []
