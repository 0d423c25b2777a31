"""Building a purchase-request app from a blank app through the designer's pages, step by step, as a person
does: shared by tests/browser/test_build_an_app_in_browser.py and bench/first_app.py.

Every interaction goes through `Hands`, which counts what a person would do: clicks, key presses (one per
character typed) and drags."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from playwright.sync_api import Locator, Page, expect

APP = "purchasing"
Shoot = Callable[[Page, str], object]


@dataclass
class Hands:
    """The person's hands on one page, counting what they do."""

    page: Page
    clicks: int = 0
    keys: int = 0
    drags: int = 0
    steps: list[str] = field(default_factory=list)

    @property
    def actions(self) -> int:
        return self.clicks + self.keys + self.drags

    def click(self, target: Locator) -> None:
        target.click()
        self.clicks += 1

    def type(self, target: Locator, text: str) -> None:
        """Click into a box, select what is there (Ctrl+A, when there is something) and type over it."""
        self.click(target)
        if target.input_value():
            target.press("Control+a")
            self.keys += 1
        target.press_sequentially(text)
        self.keys += len(text)

    def press(self, target: Locator, key: str) -> None:
        target.press(key)
        self.keys += 1

    def choose(self, target: Locator, value: str) -> None:
        """Open a list and pick: two clicks."""
        target.select_option(value)
        self.clicks += 2

    def go(self, path: str) -> None:
        """Typing an address is not how a person moves between pages; the links are counted as clicks."""
        self.page.goto(path)
        self.clicks += 1


def designer_ready(page: Page) -> None:
    expect(page.locator("#form-designer[data-ready]")).to_be_attached()


def saved(page: Page) -> None:
    expect(page.locator("[data-save-status]")).to_have_attribute("data-save-status", "saved")


def create_app(hands: Hands) -> None:
    page = hands.page
    hands.go("/design")
    hands.type(page.locator("#app-label-zh"), "采购")
    hands.type(page.locator("#app-label-en"), "Purchasing")
    hands.type(page.locator("#app-key"), APP)
    with page.expect_navigation(url=re.compile(rf"/design/apps/{APP}")):
        hands.press(page.locator("#app-key"), "Enter")


def create_form(hands: Hands, key: str, label_en: str, label_zh: str) -> None:
    page = hands.page
    hands.go(f"/design/apps/{APP}")
    hands.type(page.locator("#form-label-zh"), label_zh)
    hands.type(page.locator("#form-label-en"), label_en)
    hands.type(page.locator("#form-key"), key)
    with page.expect_navigation(url=re.compile(rf"/forms/{key}$")):
        hands.press(page.locator("#form-key"), "Enter")
    designer_ready(page)


def add_field(hands: Hands, type_name: str, key: str, label_en: str, label_zh: str) -> Locator:
    """A field from the palette, named; returns the properties panel."""
    page = hands.page
    hands.click(page.locator(f'[data-palette="{type_name}"]'))
    panel = page.locator(".fd-properties")
    hands.type(panel.get_by_label("English").first, label_en)
    hands.type(panel.get_by_label("中文").first, label_zh)
    # The key follows the English name: nothing to type.
    expect(panel.get_by_label("Key", exact=True)).to_have_value(key)
    expect(page.locator(f'.fd-cell[data-key="{key}"]')).to_be_visible()
    return panel


def publish(hands: Hands, form: str) -> None:
    page = hands.page
    saved(page)
    hands.go(f"/design/apps/{APP}/forms/{form}/publish")
    with page.expect_navigation(url=re.compile(r"/versions\?published=")):
        hands.click(page.get_by_role("button", name="Publish", exact=True))


def build_supplier(hands: Hands) -> None:
    """The supplier form: the name field a new form starts with is all it needs."""
    create_form(hands, "supplier", "Supplier", "供应商")
    publish(hands, "supplier")


def build_purchase_request(hands: Hands, shoot: Shoot) -> None:
    page = hands.page
    create_form(hands, "purchase_request", "Purchase request", "采购申请")
    panel = add_field(hands, "select", "department", "Department", "部门")
    # ... its options are the type's starting ones (edited like any other property)
    add_field(hands, "relation", "supplier", "Supplier", "供应商")
    hands.choose(panel.get_by_label("Linked form"), "supplier")

    add_field(hands, "subform", "items", "Items", "明细")
    columns = panel.locator(".fd-columns")
    for type_name, key, en, zh in (
        ("integer", "quantity", "Quantity", "数量"),
        ("decimal", "unit_price", "Unit price", "单价"),
        ("formula", "line_total", "Line total", "小计"),
    ):
        hands.choose(columns.get_by_label("Add a column"), type_name)
        column = columns.locator(".fd-column").last
        hands.type(column.get_by_label("English").first, en)
        hands.type(column.get_by_label("中文").first, zh)
        expect(column.get_by_label("Key", exact=True)).to_have_value(key)
    hands.type(columns.locator(".fd-column").last.get_by_label("Formula", exact=True), "quantity * unit_price")
    saved(page)

    add_field(hands, "formula", "total", "Total", "合计")
    hands.type(panel.get_by_label("Formula", exact=True), "SUM(items.line_total)")
    expect(page.locator("[data-formula-verdict]")).to_have_attribute("data-formula-verdict", "ok")

    add_field(hands, "decimal", "amount", "Amount", "金额")
    add_field(hands, "textarea", "reason", "Reason", "理由")
    rule = page.locator('[data-rule="required_when"]')
    hands.click(rule.locator("summary"))
    hands.click(rule.get_by_role("button", name="Add condition"))
    hands.choose(rule.get_by_label("Field", exact=True), "amount")
    hands.choose(rule.get_by_label("Condition", exact=True), "gt")
    hands.type(rule.get_by_label("Value", exact=True), "100000")
    hands.press(rule.get_by_label("Value", exact=True), "Tab")
    saved(page)
    shoot(page, "form-designed")
    publish(hands, "purchase_request")
    shoot(page, "published")


def design_flow(hands: Hands, submitter: str, shoot: Shoot) -> None:
    """The purchase request's approval: the department head, then over 100,000 every manager up to the top,
    then the requester's manager told; published, and tried for a 150,000 request by `submitter` (a name)."""
    page = hands.page
    hands.go(f"/design/apps/{APP}")
    hands.type(page.get_by_label("Key of a new flow"), "purchase_approval")
    hands.choose(page.get_by_label("Form it approves"), "purchase_request")
    with page.expect_navigation(url=re.compile(r"/flows/purchase_approval")):
        hands.click(page.get_by_role("button", name="Design a new flow"))
    expect(page.locator("#flow-designer[data-ready]")).to_be_attached()
    panel = page.locator(".fl-panel")

    def insert(slot: str, kind: str) -> None:
        hands.click(page.locator(f'[data-slot="{slot}"] > .fl-add-button'))
        hands.click(page.locator(f'[data-slot="{slot}"] [data-add="{kind}"]'))

    insert("root:0", "approval")  # the department head, as a new approval starts
    insert("root:1", "condition")
    condition = page.locator(".fl-split-condition").first.get_attribute("data-split")
    hands.click(page.locator(f'[data-branch="{condition}/0"] .fl-branch-main'))
    hands.click(panel.get_by_role("button", name="+ Add condition"))
    hands.choose(panel.get_by_label("Field", exact=True), "amount")
    hands.choose(panel.get_by_label("Condition", exact=True), "gt")
    saved(page)
    hands.type(panel.get_by_label("Value", exact=True), "100000")
    hands.press(panel.get_by_label("Value", exact=True), "Tab")
    expect(page.locator(f'[data-branch="{condition}/0"]')).to_contain_text("100000")
    insert(f"{condition}/0:0", "approval")
    hands.choose(panel.get_by_label("Who"), "managers")
    hands.choose(panel.get_by_label("How far up"), "top")
    insert("root:2", "cc")
    hands.choose(panel.get_by_label("Who"), "managers")
    saved(page)
    expect(page.locator(".fl-node-problems, .fd-problems")).to_have_count(0)
    hands.click(page.get_by_role("button", name="Publish", exact=True))
    expect(page.locator("[data-published]")).to_contain_text("version 1")

    simulator = page.locator(".fl-simulator")
    hands.choose(
        simulator.get_by_label("Submitted by"),
        simulator.get_by_label("Submitted by").locator("option", has_text=submitter).get_attribute("value") or "",
    )
    hands.type(simulator.get_by_label("Amount", exact=True), "150000")
    hands.click(simulator.get_by_role("button", name="Show the route"))
    expect(simulator.locator(".fl-sim-outcome")).to_have_text("Then the request is approved.")
    shoot(page, "flow-simulated")


def grant_requester(hands: Hands, member: str, shoot: Shoot) -> None:
    page = hands.page
    hands.go(f"/design/apps/{APP}/permissions")
    new_role = page.locator("details.new-role")
    if new_role.get_attribute("open") is None:
        hands.click(new_role.locator("summary"))
    hands.type(page.locator("#new-role-zh"), "申请人")
    hands.type(page.locator("#new-role-en"), "Requester")
    hands.type(page.locator("#new-role-key"), "requester")
    with page.expect_navigation(url=re.compile(r"saved=created")):
        hands.press(page.locator("#new-role-key"), "Enter")
    for action, scope in (("Create", "all"), ("View", "own")):
        hands.choose(page.get_by_label(f"Purchase request · {action}"), scope)
    hands.choose(page.get_by_label("Supplier · View"), "all")
    with page.expect_navigation(url=re.compile(r"saved=saved")):
        hands.click(page.get_by_role("button", name="Save permissions"))
    hands.type(page.locator("#add-person"), member)
    with page.expect_navigation(url=re.compile(r"saved=members")):
        hands.press(page.locator("#add-person"), "Enter")
    shoot(page, "permissions")


def add_supplier(hands: Hands, name: str) -> None:
    page = hands.page
    hands.go(f"/apps/{APP}/forms/supplier/new")
    hands.type(page.get_by_label("Name"), name)
    with page.expect_navigation(url=re.compile(r"/records/\d+")):
        hands.click(page.get_by_role("button", name="Save", exact=True))


def raise_request(hands: Hands, supplier: str, shoot: Shoot) -> None:
    """The requester fills in the new form and saves; the page then shows the computed total."""
    page = hands.page
    hands.go(f"/apps/{APP}/forms/purchase_request/new")
    department = page.get_by_label("Department")
    hands.choose(department, department.locator("option").nth(1).get_attribute("value") or "")  # the first choice
    hands.type(page.get_by_label("Supplier"), supplier)  # the picker searches as one types
    hands.click(page.get_by_role("option", name=supplier))
    expect(page.locator('[data-field="supplier"] .chip')).to_contain_text(supplier)
    hands.type(page.get_by_label("Amount"), "2400")
    for quantity, price in (("2", "450.00"), ("3", "500.00")):
        hands.click(page.get_by_role("button", name="Add a row"))
        row = page.locator('[data-field="items"] tbody tr').last
        hands.type(row.get_by_label("Quantity"), quantity)
        hands.type(row.get_by_label("Unit price"), price)
    shoot(page, "record-filled")
    with page.expect_navigation(url=re.compile(r"/records/\d+")):
        hands.click(page.get_by_role("button", name="Save", exact=True))
    expect(page.locator('[data-field="total"]')).to_contain_text("2,400.00")
    expect(page.locator('[data-field="supplier"]')).to_contain_text(supplier)
    shoot(page, "record-saved")


def log_in(page: Page, email: str, password: str) -> None:
    """The /login page in English; not counted (the build starts logged in)."""
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation(url=re.compile(r"/$")):
        page.get_by_role("button", name="Log in").click()
