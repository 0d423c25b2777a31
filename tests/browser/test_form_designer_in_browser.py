"""The form designer in a real browser, on both databases: a designer creates a form, adds fields by
dragging and by keyboard, sets their properties, moves one with the keyboard, undoes and redoes, finds
the autosaved draft after a reload, adds a required-when rule with the condition builder and sees a
formula's mistake; two designers at once do not overwrite each other; axe finds nothing serious; and
the page is photographed at 1280 px and 390 px in both languages."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import ADMIN, DESKTOP, PHONE, TIMEOUT_MS, BrowserLog, LiveServer, log_in
from tests.browser.test_accessibility import violations

pytestmark = pytest.mark.xdist_group("browser")

Screenshot = Callable[[Page, str], Path]
APP = "/design/apps/procurement"


def create_form(page: Page, key: str, label_en: str, label_zh: str) -> None:
    page.goto(APP)
    page.locator("#form-label-zh").fill(label_zh)
    page.locator("#form-label-en").fill(label_en)
    page.locator("#form-key").fill(key)
    with page.expect_navigation(url=re.compile(rf"/forms/{key}$")):
        page.locator("#form-key").press("Enter")
    expect(page.locator("#form-designer[data-ready]")).to_be_attached()


def order(page: Page) -> list[str]:
    return page.locator(".fd-canvas .fd-cell").evaluate_all("cells => cells.map(c => c.dataset.key)")


def saved(page: Page) -> None:
    expect(page.locator("[data-save-status]")).to_have_attribute("data-save-status", "saved")


def draft(page: Page, key: str) -> dict[str, Any]:
    response = page.request.get(f"/api/design/apps/procurement/forms/{key}")
    assert response.ok, response.text()
    return response.json()


def saved_draft(page: Page, key: str, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The stored draft once an autosave has brought it to `check` (an edit's save starts after a pause,
    so "saved" on the page may still describe the save before it)."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        stored = draft(page, key)["draft"]
        if check(stored) or time.monotonic() > deadline:
            return stored
        page.wait_for_timeout(100)


def drag(page: Page, source: Locator, target: Locator) -> None:
    """A drag with the mouse in small steps, as a person does (SortableJS follows the pointer)."""
    source.scroll_into_view_if_needed()
    source.hover()
    # Preact runs effects (where SortableJS is made or remade) after the next paint; a drag begun before
    # then is held by a Sortable about to be destroyed and never lands. Let the page settle first.
    page.evaluate(
        "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(r, 0))))"
    )
    start = source.bounding_box()
    assert start is not None
    page.mouse.down()
    page.mouse.move(start["x"] + start["width"] / 2 + 12, start["y"] + start["height"] / 2 + 12, steps=8)
    expect(page.locator(".sortable-fallback")).to_be_attached()  # the drag has begun: the dragged copy follows
    end = target.bounding_box()
    assert end is not None
    page.mouse.move(end["x"] + end["width"] * 0.7, end["y"] + end["height"] / 2, steps=25)
    # SortableJS notices where the pointer is on its own clock; on a busy machine it may not have yet.
    # Like a person, keep the pointer moving a little over the target until the drop place shows there.
    # The page may scroll under the pointer too (SortableJS scrolls near an edge), so aim anew each time.
    landing = target.locator("xpath=..").locator(".sortable-ghost")
    for wiggle in range(40):
        if landing.count():
            break
        end = target.bounding_box()
        assert end is not None
        page.mouse.move(end["x"] + end["width"] * 0.75, end["y"] + end["height"] / 2 + 2 * (wiggle % 2), steps=3)
        page.wait_for_timeout(100)
    page.mouse.up()


def test_a_designer_builds_a_form_by_mouse_and_keyboard(
    open_page: Callable[..., Page], screenshot: Screenshot, browser_log: BrowserLog
) -> None:
    page = open_page(locale="en")
    log_in(page, ADMIN)
    create_form(page, "visit", "Customer visit", "客户拜访")
    expect(page.get_by_role("heading", name="Customer visit", level=1)).to_be_visible()
    assert order(page) == ["name"]

    # By keyboard: a palette item is a button; Enter adds its field and selects it.
    page.locator('[data-palette="decimal"]').focus()
    page.keyboard.press("Enter")
    assert order(page) == ["name", "decimal"]
    panel = page.locator(".fd-properties")
    expect(panel.get_by_role("heading", name="Number")).to_be_visible()
    panel.get_by_label("English").first.fill("Amount")
    panel.get_by_label("中文").first.fill("金额")
    panel.get_by_label("Key", exact=True).fill("amount")
    expect(panel.locator(".fd-warning")).to_have_count(0)  # a new field: nothing to keep
    panel.get_by_label("Required", exact=True).check()
    panel.get_by_label("Smallest value").fill("0")
    assert order(page) == ["name", "amount"]

    # By mouse: a date dragged from the palette onto the row of the name field.
    drag(page, page.locator('[data-palette="date"]'), page.locator('.fd-cell[data-key="name"]'))
    expect(page.locator('.fd-cell[data-key="date"]')).to_be_visible()
    assert set(order(page)) == {"name", "amount", "date"}
    date_row = page.locator('.fd-row:has(.fd-cell[data-key="date"])')
    expect(date_row.locator(".fd-cell")).to_have_count(2)  # it joined the name's row, half and half
    expect(page.locator('.fd-cell[data-key="date"]')).to_have_class(re.compile(r"\bw-1-2\b"))
    screenshot(page, "fields added")

    # The keyboard moves a field: select Amount, then "Move Amount up" puts it above the name's row.
    page.locator('.fd-cell[data-key="amount"] .fd-card-main').click()
    before = order(page)
    up = page.get_by_role("button", name="Move Amount up")
    up.click()
    moved = order(page)
    assert moved[0] == "amount" and moved != before
    expect(page.get_by_role("button", name="Move Amount up")).to_be_disabled()  # already at the top
    expect(page.locator(".fd-cell-tools [data-move]:focus")).to_have_count(1)  # focus stays on the tools

    # Undo and redo: buttons and Ctrl+Z / Shift+Ctrl+Z.
    page.locator("[data-undo]").focus()
    page.keyboard.press("Control+z")
    assert order(page) == before
    page.keyboard.press("Control+Shift+z")
    assert order(page) == moved
    page.locator("[data-undo]").click()
    assert order(page) == before
    page.locator("[data-redo]").click()
    assert order(page) == moved

    saved_draft(page, "visit", lambda d: d["layout"]["sections"][0]["rows"][0] == [{"field": "amount", "width": "1"}])
    saved(page)
    page.reload()
    expect(page.locator("#form-designer[data-ready]")).to_be_attached()
    assert order(page) == moved  # the autosaved draft, as left
    stored = draft(page, "visit")["draft"]
    amount = next(f for f in stored["fields"] if f["key"] == "amount")
    assert amount["required"] is True and amount["label"] == {"zh-CN": "金额", "en": "Amount"} and amount["min"] == "0"
    assert stored["layout"]["sections"][0]["rows"][0] == [{"field": "amount", "width": "1"}]

    # A rule with the condition builder: the date is required when the amount is over 1000.
    page.locator('.fd-cell[data-key="date"] .fd-card-main').click()
    rule = page.locator('[data-rule="required_when"]')
    rule.locator("summary").click()
    rule.get_by_role("button", name="Add condition").click()
    rule.get_by_label("Field", exact=True).select_option("amount")
    rule.get_by_label("Condition", exact=True).select_option("gt")
    expect(page.locator("[data-save-status]")).not_to_have_attribute("data-save-status", "saved")
    value = rule.get_by_label("Value", exact=True)
    value.fill("1000")
    # The autosave of the operator lands while the value is still being typed: the page re-renders, and
    # what was typed stays in the box until it is committed.
    saved(page)
    expect(value).to_have_value("1000")
    value.press("Tab")
    rule_saved = {"and": [{"field": "amount", "op": "gt", "value": 1000}]}
    stored = saved_draft(page, "visit", lambda d: any(f.get("required_when") == rule_saved for f in d["fields"]))
    date = next(f for f in stored["fields"] if f["key"] == "date")
    assert date["required_when"] == rule_saved
    expect(page.locator('.fd-cell[data-key="date"] .fd-rule-badge')).to_be_visible()

    # A formula with a mistake: the server's parser says where.
    page.locator('[data-palette="formula"]').click()
    formula = page.locator(".fd-properties").get_by_label("Formula", exact=True)
    formula.fill("amount * nope")
    verdict = page.locator("[data-formula-verdict]")
    expect(verdict).to_have_attribute("data-formula-verdict", "error")
    expect(verdict).to_contain_text("At character 10")
    expect(verdict).to_contain_text("'nope' is not a field")
    expect(formula).to_have_attribute("aria-invalid", "true")
    screenshot(page, "formula error")
    formula.fill("amount * 2")
    expect(verdict).to_have_attribute("data-formula-verdict", "ok")
    expect(verdict).to_contain_text("gives a number")
    saved(page)

    # Renaming a key says the data is kept.
    page.locator('.fd-cell[data-key="name"] .fd-card-main').click()
    page.locator(".fd-properties").get_by_label("Key", exact=True).fill("customer")
    expect(page.locator(".fd-properties .fd-warning")).to_contain_text("Renamed from name. The data is kept")
    assert saved_draft(page, "visit", lambda d: d["title_field"] == "customer")["title_field"] == "customer"
    # ... and the formula and the rule that read the amount follow its new key.
    page.locator('.fd-cell[data-key="amount"] .fd-card-main').click()
    key = page.locator(".fd-properties").get_by_label("Key", exact=True)
    key.fill("total")
    key.press("Tab")
    expect(page.locator('.fd-cell[data-key="formula"] .fd-card-sample')).to_have_text("= total * 2")
    stored = saved_draft(
        page,
        "visit",
        lambda d: (
            any(f["key"] == "formula" and f.get("formula") == "total * 2" for f in d["fields"])
            and any(f["key"] == "date" and "total" in json.dumps(f.get("required_when")) for f in d["fields"])
        ),
    )
    fields = {f["key"]: f for f in stored["fields"]}
    assert fields["formula"]["formula"] == "total * 2"
    assert fields["date"]["required_when"] == {"and": [{"field": "total", "op": "gt", "value": 1000}]}

    # A copy of a field: its own id and key, in the row after it.
    page.locator('.fd-cell[data-key="date"] .fd-card-main').click()
    page.get_by_role("button", name="Duplicate Date").click()
    expect(page.locator('.fd-cell[data-key="date_2"]')).to_be_visible()
    stored = saved_draft(page, "visit", lambda d: any(f["key"] == "date_2" for f in d["fields"]))
    fields = {f["key"]: f for f in stored["fields"]}
    assert fields["date_2"]["id"] != fields["date"]["id"]
    assert fields["date_2"]["required_when"] == fields["date"]["required_when"]

    # Tabs: a second section on a tab of its own; the copy moves into it by keyboard; the preview has tabs.
    page.get_by_role("button", name="Add section").click()
    sections = page.locator(".fd-section")
    expect(sections).to_have_count(2)
    for index, tab in ((0, "Main"), (1, "More")):
        section = sections.nth(index)
        section.locator(".fd-section-edit summary").click()
        section.locator(".fd-section-edit input[lang='en']").nth(1).fill(tab)
        section.locator(".fd-section-edit summary").click()
    page.locator('.fd-cell[data-key="date_2"] .fd-card-main').click()
    for _ in range(6):  # down, row by row, past the last row of the first section into the second
        if sections.nth(1).locator('.fd-cell[data-key="date_2"]').count():
            break
        page.locator('.fd-cell[data-key="date_2"] [data-move="down"]').press("Enter")
    expect(sections.nth(1).locator('.fd-cell[data-key="date_2"]')).to_be_visible()
    saved(page)
    page.get_by_role("button", name="Preview").click()
    frame = page.frame_locator(".fd-preview iframe")
    tabs = frame.get_by_role("tab")
    expect(tabs).to_have_text(["Main", "More"])
    expect(frame.locator('[data-field="date_2"]')).to_be_hidden()
    tabs.nth(1).click()
    expect(frame.locator('[data-field="date_2"]')).to_be_visible()
    expect(frame.locator('[data-field="customer"]')).to_be_hidden()
    screenshot(page, "preview with tabs")
    assert browser_log.problems == []


def test_a_stale_designer_is_told_to_reload_instead_of_overwriting(
    open_page: Callable[..., Page], browser_log: BrowserLog
) -> None:
    first, second = open_page(locale="en"), open_page(locale="en")
    for page in (first, second):
        log_in(page, ADMIN)
    create_form(first, "call", "Call", "电话")
    second.goto(f"{APP}/forms/call")
    expect(second.locator("#form-designer[data-ready]")).to_be_attached()
    first.locator('[data-palette="text"]').click()
    saved(first)
    second.locator('[data-palette="email"]').click()
    expect(second.get_by_role("alert")).to_contain_text("Someone else saved this form.")
    expect(second.locator("[data-save-status]")).to_have_attribute("data-save-status", "conflict")
    keys = [f["key"] for f in draft(second, "call")["draft"]["fields"]]
    assert keys == ["name", "text"]  # the first designer's save stands
    second.get_by_role("button", name="Reload").click()
    expect(second.locator('.fd-cell[data-key="text"]')).to_be_visible()
    assert [p for p in browser_log.problems if "412" not in p] == []  # the refused save is the one error


def test_the_designer_in_both_languages_at_desktop_and_phone_width_passes_axe(
    browser: Browser, live_server: LiveServer, screenshot: Screenshot
) -> None:
    found: dict[str, Any] = {}
    for locale in ("zh-CN", "en"):
        for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            context = browser.new_context(base_url=live_server.url, viewport=viewport, bypass_csp=True, locale=locale)
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            log_in(page, ADMIN)
            page.goto(f"{APP}/forms/purchase_request")
            expect(page.locator("#form-designer[data-ready]")).to_be_attached()
            where = f"{locale} {name}"
            screenshot(page, f"{where} form settings")
            found[f"{where} form"] = violations(page)
            page.locator('.fd-cell[data-key="category"] .fd-card-main').click()
            expect(page.locator(".fd-properties .fd-options")).to_be_visible()
            screenshot(page, f"{where} select field")
            found[f"{where} field"] = violations(page)
            page.locator('.fd-cell[data-key="items"] .fd-card-main').click()
            page.locator(".fd-columns .fd-column-head .link-button").first.click()
            expect(page.locator(".fd-columns .fd-editor")).to_be_visible()
            screenshot(page, f"{where} subform")
            page.locator('.fd-views button[aria-pressed="false"]').click()  # the preview
            frame = page.frame_locator(".fd-preview iframe")
            expect(frame.locator("#record-form")).to_be_visible()
            if name == "phone":
                page.locator(".fd-preview-head [aria-pressed='false']").click()
            expect(frame.locator('[data-field="title"] input')).not_to_have_value("")  # a sample value
            screenshot(page, f"{where} preview")
            found[f"{where} preview"] = violations(page)
            expect(page.locator("[data-undo]")).to_be_disabled()  # looking changed nothing
            context.close()
    serious = {
        where: [v for v in problems if v["impact"] in ("serious", "critical")] for where, problems in found.items()
    }
    assert {k: v for k, v in serious.items() if v} == {}, json.dumps(serious, ensure_ascii=False, indent=1)


def test_an_archived_field_is_brought_back_with_its_values(
    open_page: Callable[..., Page], browser_log: BrowserLog
) -> None:
    """A field removed and published is archived; the palette offers it back, and after the next publish
    the records have their values again."""
    page = open_page(locale="en")
    log_in(page, ADMIN)
    create_form(page, "visitor", "Visitor", "访客")
    page.locator('[data-palette="text"]').click()
    panel = page.locator(".fd-properties")
    panel.get_by_label("English").first.fill("Company")
    panel.get_by_label("Key", exact=True).fill("company")
    saved_draft(page, "visitor", lambda d: [f["key"] for f in d["fields"]] == ["name", "company"])
    csrf = {"X-CSRF-Token": page.locator('meta[name="csrf-token"]').get_attribute("content") or ""}
    design = "/api/design/apps/procurement/forms/visitor"
    assert page.request.post(f"{design}/publish", headers=csrf).ok
    records = "/api/apps/procurement/forms/visitor/records"
    made = page.request.post(records, headers=csrf, data={"name": "Li Na", "company": "Northwind"}).json()
    stored = draft(page, "visitor")
    without = {
        **stored["draft"],
        "fields": [f for f in stored["draft"]["fields"] if f["key"] != "company"],
        "layout": {"sections": [{"rows": [[{"field": "name", "width": "1"}]]}]},
    }
    saved_again = page.request.put(design, headers={**csrf, "If-Match": f'"{stored["draft_revision"]}"'}, data=without)
    assert saved_again.ok, saved_again.text()
    removed = page.request.post(f"{design}/publish", headers=csrf)
    assert removed.ok, removed.text()
    assert "company" not in page.request.get(f"{records}/{made['id']}").json()

    page.reload()
    expect(page.locator("#form-designer[data-ready]")).to_be_attached()
    back = page.get_by_role("button", name="Bring back Company")
    back.focus()
    page.keyboard.press("Enter")
    expect(page.locator('.fd-cell[data-key="company"]')).to_be_visible()
    expect(back).to_have_count(0)  # offered once: it is on the form again
    saved_draft(page, "visitor", lambda d: "company" in [f["key"] for f in d["fields"]])
    published = page.request.post(f"{design}/publish", headers=csrf).json()
    assert [s["action"] for s in published["plan"]["steps"]] == ["restore_column"]
    assert page.request.get(f"{records}/{made['id']}").json()["company"] == "Northwind"
    assert browser_log.problems == []


def test_a_rollup_is_set_up_from_the_fields_of_the_form_it_sums(
    open_page: Callable[..., Page], browser_log: BrowserLog
) -> None:
    """The palette offers a rollup; its form is chosen from the app's forms, then its relation and number
    field from that form's own fields; published, a supplier shows the sum of its purchase orders."""
    page = open_page(locale="en")
    log_in(page, ADMIN)
    page.goto(f"{APP}/forms/supplier")
    expect(page.locator("#form-designer[data-ready]")).to_be_attached()
    page.locator('[data-palette="rollup"]').focus()
    page.keyboard.press("Enter")
    panel = page.locator(".fd-properties")
    expect(panel.get_by_role("heading", name="Rollup")).to_be_visible()
    panel.get_by_label("English").first.fill("Ordered")
    panel.get_by_label("中文").first.fill("采购总额")
    panel.get_by_label("Key", exact=True).fill("ordered")
    panel.get_by_label("Form to sum up").select_option("purchase_order")
    via = panel.get_by_label("Linked through")
    expect(via.locator('option[value="supplier"]')).to_be_attached()
    expect(via.locator('option[value="request"]')).to_have_count(0)  # links to requests, not suppliers
    via.select_option("supplier")
    panel.get_by_label("Figure").select_option("sum")
    number = panel.get_by_label("Number field")
    expect(number.locator('option[value="amount"]')).to_be_attached()
    number.select_option("amount")
    stored = saved_draft(page, "supplier", lambda d: any(f.get("field") == "amount" for f in d["fields"]))
    rollup = next(f for f in stored["fields"] if f["type"] == "rollup")
    assert {k: rollup[k] for k in ("key", "form", "via", "aggregate", "field")} == {
        "key": "ordered",
        "form": "purchase_order",
        "via": "supplier",
        "aggregate": "sum",
        "field": "amount",
    }
    csrf = {"X-CSRF-Token": page.locator('meta[name="csrf-token"]').get_attribute("content") or ""}
    published = page.request.post("/api/design/apps/procurement/forms/supplier/publish", headers=csrf)
    assert published.ok, published.text()
    suppliers = page.request.get("/api/apps/procurement/forms/supplier/records", params={"sort": "-ordered"}).json()
    assert suppliers["items"] and all("ordered" in s for s in suppliers["items"])
    assert browser_log.problems == []
