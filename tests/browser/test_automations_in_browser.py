"""The automation pages in a real browser, on both databases: "when a purchase request is approved,
create a purchase order" and a weekly schedule are built in the editor, test-run on a sample record
(nothing written), published, and switched off in the list; axe finds no serious issue; screenshots at
desk and phone widths, in Chinese and English."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ADMIN, PHONE, BrowserLog, LiveServer, log_in
from tests.browser.test_designer_pages_in_browser import api, audit_pages, shoot

pytestmark = pytest.mark.xdist_group("browser")

LIST = "/design/apps/procurement/automations"
ORDERS = "/api/apps/procurement/forms/purchase_order/records"


def create(page: Page, name: str, key: str, form: str) -> None:
    page.goto(LIST)
    page.get_by_label("名称").fill(name)
    page.get_by_label("标识").fill(key)
    page.locator("#automation-form").select_option(form)
    with page.expect_navigation(url=re.compile(f"/automations/{key}$")):
        page.get_by_role("button", name="创建并编辑").click()
    expect(page.locator(".au-status")).to_be_visible()


def saved(page: Page) -> None:
    expect(page.locator(".au-status")).to_have_text("已保存全部修改")


def test_an_approved_request_becomes_a_purchase_order_and_a_schedule_is_built_and_tried(
    live_server: LiveServer,
    open_page: Callable[..., Page],
    browser: Browser,
    browser_log: BrowserLog,
    screenshot: Callable[[Page, str], Path],
) -> None:
    with api(live_server) as admin:
        orders_before = admin.get(ORDERS).json()["items"]
    page = open_page()
    log_in(page, ADMIN)
    page.goto(LIST)
    expect(page.get_by_role("heading", name="自动化", exact=True)).to_be_visible()

    create(page, "审批通过生成采购订单", "approved_to_order", "purchase_request")
    page.get_by_label("触发条件").select_option("flow.approved")
    page.locator("#au-new-kind").select_option("create_record")
    page.get_by_role("button", name="添加", exact=True).click()
    page.get_by_label("在此表单中新建").select_option("purchase_order")
    for target in ("supplier", "amount", "notes"):
        page.locator("#au-a0-map-new").select_option(target)
        page.get_by_role("button", name="添加字段").click()
    rows = page.locator(".mapping-row")
    expect(rows).to_have_count(3)
    page.locator("#au-a0-map-1-mode").select_option("formula")  # amount ← a formula
    page.locator("#au-a0-map-1-source").fill("amount")
    page.locator("#au-a0-map-2-mode").select_option("value")
    page.locator("#au-a0-map-2-source").fill("由审批通过的申请自动生成")
    saved(page)
    expect(page.get_by_text("可以发布。")).to_be_visible()

    page.get_by_role("button", name="试运行", exact=True).click()
    result = page.locator("[data-test-result]")
    expect(result).to_contain_text("满足条件")
    expect(result).to_contain_text("由审批通过的申请自动生成")
    screenshot(page, "approved to order, tried")
    page.get_by_role("button", name="发布").click()
    expect(page.get_by_text("已发布为第 1 版。")).to_be_visible()

    create(page, "每周采购汇总", "weekly_summary", "purchase_request")
    page.get_by_label("触发条件").select_option("schedule")
    page.get_by_label("Cron 表达式").fill("30 8 * * 1")
    page.get_by_label("时区").fill("Asia/Shanghai")
    page.locator("#au-new-kind").select_option("create_record")
    page.get_by_role("button", name="添加", exact=True).click()
    page.get_by_label("在此表单中新建").select_option("purchase_order")
    page.locator("#au-a0-map-new").select_option("notes")
    page.get_by_role("button", name="添加字段").click()
    page.locator("#au-a0-map-0-source").fill("每周汇总")
    saved(page)
    page.get_by_role("button", name="试运行", exact=True).click()
    expect(result).to_contain_text("每次运行时将执行这些动作")
    expect(result.locator("time")).to_have_count(3)
    expect(result.locator("time").first).to_contain_text("08:30:00+08:00")
    page.get_by_role("button", name="发布").click()
    expect(page.get_by_text("已发布为第 1 版。")).to_be_visible()
    screenshot(page, "weekly schedule, tried")

    with api(live_server) as admin:
        assert admin.get(ORDERS).json()["items"] == orders_before  # the test runs wrote nothing
        document = admin.get("/api/design/apps/procurement/automations/approved_to_order").json()["draft"]
        assert document["trigger"] == {"on": "flow.approved"}
        assert document["actions"][0]["mapping"]["amount"] == {"formula": "amount"}

    page.goto(LIST)
    expect(page.locator(".automation-item")).to_have_count(4)  # the procurement example's two, and these
    mine = page.locator("#automation-approved_to_order")
    expect(mine.locator(".badge")).to_have_text("已启用")
    with page.expect_navigation():
        mine.get_by_role("button", name="停用").click()
    expect(page.locator("#automation-approved_to_order .badge")).to_have_text("已停用")
    screenshot(page, "list")

    # The example's robot notification names its channel, which the demo has not added yet.
    page.goto(f"{LIST}/notify_finance_of_large_requests")
    expect(page.locator("#au-a0-channel option:checked")).to_have_text("名为“finance”的通知渠道")

    phone = open_page(viewport=PHONE, locale="en")
    log_in(phone, ADMIN)
    phone.goto(LIST + "/approved_to_order")
    expect(phone.get_by_text("Ready to publish.")).to_be_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the editor is {width}px wide on a phone"
    screenshot(phone, "editor on a phone in English")
    shoot(open_page, screenshot, LIST, "list")
    editors = [f"{LIST}/approved_to_order", f"{LIST}/weekly_summary", f"{LIST}/notify_finance_of_large_requests"]
    assert audit_pages(browser, live_server, [LIST, *editors]) == {}
    assert browser_log.problems == [] and browser_log.csp_violations() == []


def test_a_data_alert_on_a_reports_total_is_built_in_the_editor(
    live_server: LiveServer, open_page: Callable[..., Page], browser_log: BrowserLog
) -> None:
    """A metric trigger: the spend report's total above 1,000,000, checked on working days at 09:00; the
    condition step gives way (a metric watches a total, not records); it publishes with a recordless action."""
    page = open_page()
    log_in(page, ADMIN)
    create(page, "支出预警", "spend_alert", "purchase_request")
    page.get_by_label("触发条件").select_option("metric")
    page.get_by_label("报表", exact=True).select_option("spend_by_department")
    page.get_by_label("指标").select_option("spend")
    page.get_by_label("变为").select_option("gte")
    page.get_by_label("阈值").fill("1000000")
    expect(page.locator("#au-condition-title")).to_have_count(0)
    page.locator("#au-new-kind").select_option("create_record")
    page.get_by_role("button", name="添加", exact=True).click()
    page.get_by_label("在此表单中新建").select_option("purchase_order")
    page.locator("#au-a0-map-new").select_option("notes")
    page.get_by_role("button", name="添加字段").click()
    page.locator("#au-a0-map-0-source").fill("支出超过一百万")
    saved(page)
    page.get_by_role("button", name="发布").click()
    expect(page.get_by_text("已发布为第 1 版。")).to_be_visible()
    with api(live_server) as admin:
        trigger = admin.get("/api/design/apps/procurement/automations/spend_alert").json()["draft"]["trigger"]
    assert trigger == {
        "on": "metric",
        "cron": "0 9 * * 1-5",
        "op": "gte",
        "report": "spend_by_department",
        "measure": "spend",
        "value": 1000000,
    }
    assert browser_log.problems == [] and browser_log.csp_violations() == []


def test_a_change_of_the_orders_linking_to_a_request_is_built_with_the_keyboard(
    live_server: LiveServer,
    open_page: Callable[..., Page],
    browser: Browser,
    browser_log: BrowserLog,
    screenshot: Callable[[Page, str], Path],
) -> None:
    """update_record on other records: the radio group of which records (this one, the one a relation links
    to, those linking here) is moved with the arrow keys; the orders of a request take a formula's value."""
    page = open_page()
    log_in(page, ADMIN)
    create(page, "申请改名后更新订单备注", "request_notes_to_orders", "purchase_request")
    page.locator("#au-new-kind").select_option("update_record")
    page.get_by_role("button", name="添加", exact=True).click()
    page.get_by_label("本记录", exact=True).focus()
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("本记录关联的记录")).to_be_checked()
    expect(page.locator("#au-a0-link")).to_have_value("supplier")
    page.keyboard.press("ArrowDown")
    expect(page.get_by_label("关联到本记录的记录")).to_be_checked()
    page.get_by_label("表单及其关联到此处的字段").select_option("purchase_order.request")
    page.locator("#au-a0-map-new").select_option("notes")
    page.locator(".mapping-add").filter(has=page.locator("#au-a0-map-new")).get_by_role("button").click()
    page.locator("#au-a0-map-0-mode").select_option("formula")
    page.locator("#au-a0-map-0-source").fill('CONCAT("申请：", title)')
    saved(page)
    expect(page.get_by_text("可以发布。")).to_be_visible()
    screenshot(page, "orders linking to a request")
    with api(live_server) as admin:
        draft = admin.get("/api/design/apps/procurement/automations/request_notes_to_orders").json()["draft"]
    assert draft["actions"] == [
        {
            "kind": "update_record",
            "form": "purchase_order",
            "where": {"via": "request"},
            "mapping": {"notes": {"formula": 'CONCAT("申请：", title)'}},
        }
    ]
    assert audit_pages(browser, live_server, [f"{LIST}/request_notes_to_orders"]) == {}
    assert browser_log.problems == [] and browser_log.csp_violations() == []
