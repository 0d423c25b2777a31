"""The flow designer in the browser, on both databases: the seed's purchase approval drawn from nothing
(department head → over 100,000 the vice-president → finance countersign → CC the requester's manager →
create the purchase order), simulated for a 50,000 and a 150,000 request with the right people named,
published, compared with the version before it, and then followed by a real request, whose record page
shows where it stands.

Nodes and branches are moved with the keyboard's buttons (the alternative to dragging them); the page
is checked by axe-core, and photographed at 1280 and 390 px in both languages for the README."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import ADMIN, DESKTOP, PHONE, REQUESTER, BrowserLog, log_in
from tests.browser.test_accessibility import AXE, RULES

pytestmark = pytest.mark.xdist_group("browser")

APP = "procurement"
PAGE = f"/design/apps/{APP}/flows/purchase_approval"
SALES_REP, SALES_HEAD, VP, FINANCE, ACCOUNTANT = (
    "王强 Sales rep",
    "李娜 Sales head",
    "周总 Vice-president",
    "刘洋 Finance",
    "赵敏 Accountant",
)


def violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's findings, run through the browser's devtools (the page's strict CSP stays on)."""
    page.evaluate(AXE.read_text())
    result = page.evaluate(
        "rules => axe.run(document, {runOnly: {type: 'tag', values: rules}, resultTypes: ['violations']})", RULES
    )
    return [{"rule": v["id"], "where": [n["target"] for n in v["nodes"]][:5]} for v in result["violations"]]


def ready(page: Page) -> None:
    expect(page.locator("#flow-designer[data-ready]")).to_be_attached()


def saved(page: Page) -> None:
    expect(page.locator("[data-save-status]")).to_have_attribute("data-save-status", "saved")


def panel(page: Page) -> Locator:
    return page.locator(".fl-panel")


def insert(page: Page, slot: str, kind: str) -> None:
    """Press the "+" at a slot ("root:1", "<condition>/0:0") and pick the kind of step."""
    page.locator(f'[data-slot="{slot}"] > .fl-add-button').click()
    page.locator(f'[data-slot="{slot}"] [data-add="{kind}"]').click()


def name_it(page: Page, english: str, chinese: str) -> None:
    panel(page).get_by_label("Name (English)").fill(english)
    panel(page).get_by_label("Name (中文)").fill(chinese)


def selected_id(page: Page) -> str:
    return panel(page).locator("[data-panel]").get_attribute("data-panel") or ""


def draw_the_purchase_approval(page: Page) -> None:
    for name in (
        "Department head",
        "Amount",
        "Finance countersign",
        "CC the requester's manager",
    ):
        page.get_by_role("button", name=f"Delete {name}", exact=True).click()
    expect(page.locator(".fl-canvas .fl-node-main")).to_have_count(0)

    insert(page, "root:0", "approval")  # a new approval asks the submitter's department head by default
    name_it(page, "Department head", "部门负责人审批")
    expect(panel(page).get_by_label("Who")).to_have_value("department_head")

    insert(page, "root:1", "condition")
    condition = page.locator(".fl-split-condition").first.get_attribute("data-split")
    page.locator(f'[data-branch="{condition}/0"] .fl-branch-main').click()
    name_it(page, "Over 100,000", "超过 100,000")
    panel(page).get_by_role("button", name="+ Add condition").click()
    panel(page).get_by_label("Field", exact=True).select_option("amount")
    panel(page).get_by_label("Condition", exact=True).select_option("gt")
    saved(page)  # the value is typed once the page is quiet: a save that lands meanwhile redraws the box
    panel(page).get_by_label("Value", exact=True).fill("100000")
    panel(page).get_by_label("Value", exact=True).press("Tab")  # the value is taken as it is left
    expect(page.locator(f'[data-branch="{condition}/0"]')).to_contain_text("100000")

    insert(page, f"{condition}/0:0", "approval")
    name_it(page, "Vice-president", "副总裁审批")
    panel(page).get_by_label("Who").select_option("role")
    panel(page).get_by_label("Role").select_option("vice_president")

    insert(page, "root:2", "approval")
    name_it(page, "Finance countersign", "财务会签")
    panel(page).get_by_label("Who").select_option("role")
    panel(page).get_by_label("Role").select_option("finance")
    panel(page).get_by_label("Countersign: all must approve").check()
    panel(page).get_by_label("Approving needs a comment").check()
    panel(page).locator('tr[data-field="items"] input[value="editable"]').check()
    panel(page).locator('tr[data-rows="items"]').get_by_label("Delete rows").uncheck()

    # The CC goes in before finance first, then one step down with the keyboard (the alternative to a drag).
    insert(page, "root:2", "cc")
    name_it(page, "CC the requester's manager", "抄送申请人上级")
    panel(page).get_by_label("Who").select_option("managers")
    page.get_by_role("button", name="Move CC the requester's manager down").press("Enter")

    insert(page, "root:4", "action")
    name_it(page, "Create the purchase order", "生成采购订单")
    panel(page).get_by_label("What it does").select_option("create_record")
    panel(page).get_by_label("Form", exact=True).select_option("purchase_order")
    for target, source in (
        ("request", "id"),
        ("supplier", "supplier"),
        ("amount", "amount"),
        ("items", "items"),
        ("notes", "title"),
    ):
        panel(page).locator(f'select[id$="-m-{target}"]').select_option(source)

    # A second condition, tested first by the keyboard's buttons, then put back and removed again.
    page.locator(f'[data-split="{condition}"] [data-add-branch]').click()
    page.get_by_role("button", name="Test Condition 2 earlier").press("Enter")
    expect(page.locator(f'[data-branch="{condition}/1"] .fl-branch-name')).to_have_text("Over 100,000")
    page.get_by_role("button", name="Test Condition 1 later").press("Enter")  # unnamed: called by its place
    expect(page.locator(f'[data-branch="{condition}/0"] .fl-branch-name')).to_have_text("Over 100,000")
    page.get_by_role("button", name="Delete Condition 2").click()


def order_of_steps(page: Page) -> list[str]:
    return page.locator(
        ".fl-tree > .fl-node .fl-node-name, .fl-tree > .fl-split > .fl-node .fl-node-name"
    ).all_inner_texts()


def simulate(page: Page, amount: str) -> Locator:
    simulator = page.locator(".fl-simulator")
    simulator.get_by_label("Submitted by").select_option(label=SALES_REP)
    simulator.get_by_label("Amount", exact=True).fill(amount)
    simulator.get_by_role("button", name="Show the route").click()
    result = simulator.locator(".fl-sim-result")
    expect(result.locator(".fl-sim-outcome")).to_have_text("Then the request is approved.")
    return result


def test_the_purchase_approval_is_drawn_simulated_published_and_followed(
    open_page: Callable[..., Page], screenshot: Callable[[Page, str], Path], browser_log: BrowserLog
) -> None:
    page = open_page(locale="en")
    log_in(page, ADMIN)
    page.goto(PAGE + "?lang=en")
    ready(page)
    draw_the_purchase_approval(page)
    saved(page)
    expect(page.locator(".fl-node-problems, .fd-problems")).to_have_count(0)
    assert order_of_steps(page) == [
        "Submit",
        "Department head",
        "Condition",
        "Finance countersign",
        "CC the requester's manager",
        "Create the purchase order",
        "Done",
    ]
    stored = page.request.get(f"/api/design/apps/{APP}/flows/purchase_approval").json()
    assert stored["problems"] == []
    nodes = {n["label"]["en"]: n for n in stored["draft"]["nodes"] if isinstance(n.get("label"), dict)}
    assert nodes["Finance countersign"]["mode"] == "countersign"
    assert nodes["Finance countersign"]["comment"] == {"approve": "required"}
    assert nodes["Finance countersign"]["rows"] == {"items": {"delete": False}}
    assert nodes["Vice-president"]["approvers"] == [{"kind": "role", "role": "vice_president"}]
    assert nodes["CC the requester's manager"]["recipients"] == [{"kind": "managers", "levels": 1}]
    assert nodes["Create the purchase order"]["action"]["mapping"]["request"] == "id"
    assert stored["draft"]["settings"] == {"same_approver": "any_earlier", "resubmit": "jump_back"}

    # Undo takes the last change back, redo brings it again.
    page.get_by_role("button", name="Undo").click()
    expect(page.locator(".fl-branch-name", has_text="Condition 2")).to_have_count(1)
    page.get_by_role("button", name="Redo").click()
    expect(page.locator(".fl-branch-name", has_text="Condition 2")).to_have_count(0)
    saved(page)

    small = simulate(page, "50000")
    expect(small.locator("[data-step]")).to_have_count(5)
    expect(small.locator('[data-step="vp"], .fl-route-approval', has_text=VP)).to_have_count(0)
    expect(small.locator(".fl-route-approval").first).to_contain_text(SALES_HEAD)
    expect(small.locator(".fl-route-approval").nth(1)).to_contain_text(FINANCE)
    expect(small.locator(".fl-route-approval").nth(1)).to_contain_text(ACCOUNTANT)
    expect(small.locator(".fl-route-cc")).to_contain_text(SALES_HEAD)  # the sales rep's manager heads Sales
    large = simulate(page, "150000")
    expect(large.locator(".fl-route-approval")).to_have_count(3)
    expect(large.locator(".fl-route-approval").nth(1)).to_contain_text(VP)
    screenshot(page, "simulated")
    assert violations(page) == []

    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.locator("[data-published]")).to_contain_text("version 2")
    expect(page.locator('.fl-version-list [data-version="2"]')).to_contain_text("In use")
    page.locator('[data-compare-previous="2"]').click()  # what version 2 changed, in words
    diff = page.locator("[data-flow-diff]")
    expect(diff.locator("h3")).to_have_text("From Version 1 to Version 2")
    expect(diff.locator("li", has_text="“Finance countersign” was added")).to_have_count(1)
    assert violations(page) == []

    # A request raised now follows version 2: the record page shows it waiting for the department head.
    requester = open_page(locale="en")
    log_in(requester, REQUESTER)
    requester.goto(f"/apps/{APP}/forms/purchase_request")
    csrf = requester.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    records = f"/api/apps/{APP}/forms/purchase_request/records"
    body = {
        "title": "Laptops",
        "department": "sales",
        "category": "it",
        "reason": "New team",
        "items": [{"item": "Laptop", "qty": 10, "unit_price": "15000.00"}],
    }
    created = requester.request.post(records, data=body, headers={"X-CSRF-Token": csrf})
    assert created.status == 201, created.text()
    record = created.json()
    submitted = requester.request.post(f"{records}/{record['id']}/submit", data={}, headers={"X-CSRF-Token": csrf})
    assert submitted.status == 200, submitted.text()
    requester.goto(f"/apps/{APP}/forms/purchase_request/records/{record['id']}?lang=en")
    standing = requester.locator(".flow-standing")
    current = standing.locator('[data-state="current"]')
    expect(current).to_have_count(1)
    expect(current).to_contain_text("Department head")
    expect(current).to_contain_text(SALES_HEAD)
    expect(standing.locator(".standing-type-approval", has_text="Vice-president")).to_have_attribute(
        "data-state", "ahead"
    )
    instance = requester.request.get(f"{records}/{record['id']}/timeline").json()["items"][0]
    assert instance["flow_version"] == 2
    screenshot(requester, "where-it-stands")
    assert violations(requester) == []
    assert browser_log.problems == [] and browser_log.csp_violations() == []


def test_the_flow_designer_reads_well_on_a_desktop_and_a_phone_in_both_languages(
    open_page: Callable[..., Page], screenshot: Callable[[Page, str], Path], browser_log: BrowserLog
) -> None:
    """Photographed as test-artifacts/screenshots/<db>/.../flow-designer-<language>-<width>.png (the README's)."""
    for locale, width, viewport in (
        ("en", 1280, DESKTOP),
        ("en", 390, PHONE),
        ("zh-CN", 1280, DESKTOP),
        ("zh-CN", 390, PHONE),
    ):
        short = "en" if locale == "en" else "zh"
        page = open_page(viewport=viewport, locale=locale)
        log_in(page, ADMIN)
        page.goto(f"/design/apps/{APP}?lang={locale}")  # the app's overview lists its flows and leads to them
        with page.expect_navigation(url=re.compile(r"/flows/purchase_approval$")):
            page.locator('#flows-title ~ .design-list a[href$="/flows/purchase_approval"]').click()
        assert violations(page) == [], width
        page.goto(f"{PAGE}?lang={locale}")
        ready(page)
        page.locator('[data-node="finance"] .fl-node-main').click()
        expect(panel(page).locator('[data-panel="finance"]')).to_be_visible()
        if width == 390:
            # nothing wider than the phone but the tree itself, which scrolls in its own box
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, overflow
        assert violations(page) == [], width
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, f"flow-designer-{short}-{width}")
    assert browser_log.problems == [] and browser_log.csp_violations() == []
