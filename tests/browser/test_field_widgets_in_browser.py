"""The widgets of rating, percent, rich_text and address in a real browser, on a desktop (1280 px)
and a phone (390 px): filled in (the stars by keyboard), saved, read back through the API and shown
on the record's page, with no console error, no CSP violation and nothing wider than the screen."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ADMIN, DESKTOP, PASSWORD, PHONE, TIMEOUT_MS, BrowserLog, LiveServer, log_in
from tests.builders import field, form, publish_app

pytestmark = pytest.mark.xdist_group("browser")

APP = "widgets"
RECORDS = f"/api/apps/{APP}/forms/sample/records"
SAMPLE = form(
    "sample",
    field("title", required=True),
    field("stars", "rating"),
    field("discount", "percent"),
    field("notes", "rich_text"),
    field("site_at", "address"),
    title_field="title",
)


@contextmanager
def admin_api(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url) as admin:
        login = admin.post("/api/auth/login", json={"email": ADMIN, "password": PASSWORD})
        assert login.status_code == 200, login.text
        admin.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        publish_app(admin, APP, SAMPLE)  # type: ignore[arg-type]
        yield admin


def new_record(page: Page, title: str) -> None:
    page.goto(f"/apps/{APP}/forms/sample/new")
    page.get_by_label("Title").fill(title)


def save(page: Page) -> int:
    with page.expect_navigation(url=lambda url: "/records/" in url and "/edit" not in url):
        page.get_by_role("button", name="Save", exact=True).click()
    return int(page.url.split("/records/")[1].split("?")[0].split("/")[0])


def fits(page: Page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def both_screens(
    open_page: Callable[..., Page], screenshot: Callable[[Page, str], Path]
) -> Iterator[tuple[str, int, Page]]:
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = open_page(viewport=viewport, locale="en")
        log_in(page, ADMIN)
        yield name, viewport["width"], page


def test_stars_are_chosen_with_the_keyboard(
    live_server: LiveServer,
    open_page: Callable[..., Page],
    browser_log: BrowserLog,
    screenshot: Callable[[Page, str], Path],
) -> None:
    with admin_api(live_server) as admin:
        for name, width, page in both_screens(open_page, screenshot):
            new_record(page, f"Stars {name}")
            page.locator('label[title="4 stars"]').click()  # a star is clicked
            expect(page.get_by_role("radio", name="4 stars")).to_be_checked()
            stars = page.get_by_role("radio", name="2 stars")
            stars.focus()
            stars.press("Space")  # or chosen with the keyboard
            expect(stars).to_be_checked()
            stars.press("ArrowRight")  # a radio group: the arrow moves the choice to 3 stars
            expect(page.get_by_role("radio", name="3 stars")).to_be_checked()
            expect(page.get_by_role("group", name="Stars")).to_be_visible()
            fits(page, width)
            screenshot(page, f"{name}-stars")
            record = admin.get(f"{RECORDS}/{save(page)}").json()
            assert record["stars"] == 3
            expect(page.locator('[data-field="stars"] dd')).to_have_text("3/5")
            page.goto(f"/apps/{APP}/forms/sample/records/{record['id']}/edit")
            expect(page.get_by_role("radio", name="3 stars")).to_be_checked()
            page.locator("label", has_text="No rating").click()
            expect(page.get_by_role("radio", name="No rating")).to_be_checked()
            save(page)
            assert admin.get(f"{RECORDS}/{record['id']}").json()["stars"] is None
    assert browser_log.problems == [] and browser_log.csp_violations() == []


def test_a_percentage_is_typed_before_its_sign(
    live_server: LiveServer,
    open_page: Callable[..., Page],
    browser_log: BrowserLog,
    screenshot: Callable[[Page, str], Path],
) -> None:
    with admin_api(live_server) as admin:
        for name, width, page in both_screens(open_page, screenshot):
            new_record(page, f"Percent {name}")
            page.get_by_label("Discount").fill("12.5")
            fits(page, width)
            screenshot(page, f"{name}-percent")
            record = admin.get(f"{RECORDS}/{save(page)}").json()
            assert record["discount"] == "0.125"
            expect(page.locator('[data-field="discount"] dd')).to_have_text("12.5%")
            page.goto(f"/apps/{APP}/forms/sample/records/{record['id']}/edit")
            expect(page.get_by_label("Discount")).to_have_value("12.5")
            page.get_by_label("Discount").fill("7%")
            save(page)
            assert admin.get(f"{RECORDS}/{record['id']}").json()["discount"] == "0.070"
    assert browser_log.problems == [] and browser_log.csp_violations() == []


def test_rich_text_is_edited_with_its_toolbar_and_shown_cleaned(
    live_server: LiveServer,
    open_page: Callable[..., Page],
    browser_log: BrowserLog,
    screenshot: Callable[[Page, str], Path],
) -> None:
    with admin_api(live_server) as admin:
        for name, width, page in both_screens(open_page, screenshot):
            new_record(page, f"Rich {name}")
            editor = page.get_by_role("textbox", name="Notes")
            editor.click()
            editor.press_sequentially("Hello ")
            bold = page.get_by_role("toolbar", name="Formatting").get_by_role("button", name="Bold")
            bold.click()
            expect(bold).to_have_attribute("aria-pressed", "true")
            editor.press_sequentially("world")
            fits(page, width)
            screenshot(page, f"{name}-rich-text")
            record = admin.get(f"{RECORDS}/{save(page)}").json()
            assert "Hello" in record["notes"] and "<b>world</b>" in record["notes"]
            shown = page.locator('[data-field="notes"] .rich-text-shown')
            expect(shown.locator("b")).to_have_text("world")
        # markup a client sent is cleaned before it is stored, and shown as markup only on the record's page
        sent = {
            "title": "Sent",
            "notes": '<p>Safe <em>text</em><img src=x onerror="alert(1)"></p><script>alert(2)</script>',
        }
        created = admin.post(RECORDS, json=sent).json()
        assert created["notes"] == "<p>Safe <em>text</em></p>"
        page.goto(f"/apps/{APP}/forms/sample/records/{created['id']}")
        expect(page.locator('[data-field="notes"] .rich-text-shown em')).to_have_text("text")
        assert page.locator('[data-field="notes"] img, [data-field="notes"] script').count() == 0
        page.goto(f"/apps/{APP}/forms/sample")
        expect(page.get_by_text("Safe text").first).to_be_visible()  # the list shows its plain text
        assert page.locator("main em").count() == 0
    assert browser_log.problems == [] and browser_log.csp_violations() == []


def test_an_address_is_typed_in_its_parts(
    live_server: LiveServer,
    open_page: Callable[..., Page],
    browser_log: BrowserLog,
    screenshot: Callable[[Page, str], Path],
) -> None:
    with admin_api(live_server) as admin:
        for name, width, page in both_screens(open_page, screenshot):
            new_record(page, f"Address {name}")
            expect(page.get_by_role("group", name="Site At")).to_be_visible()
            page.get_by_label("Province / state").fill("广东省")
            page.get_by_label("City").fill("深圳市")
            page.get_by_label("District").fill("南山区")
            page.get_by_label("Street and number").fill("科苑路 15 号")
            fits(page, width)
            screenshot(page, f"{name}-address")
            record = admin.get(f"{RECORDS}/{save(page)}").json()
            assert record["site_at"] == {
                "province": "广东省",
                "city": "深圳市",
                "district": "南山区",
                "detail": "科苑路 15 号",
            }
            expect(page.locator('[data-field="site_at"] dd')).to_have_text("科苑路 15 号, 南山区, 深圳市, 广东省")
            page.goto(f"/apps/{APP}/forms/sample/records/{record['id']}/edit")
            expect(page.get_by_label("City")).to_have_value("深圳市")
            for label in ("Province / state", "City", "District", "Street and number"):
                page.get_by_label(label).fill("")
            save(page)
            assert admin.get(f"{RECORDS}/{record['id']}").json()["site_at"] is None
    assert browser_log.problems == [] and browser_log.csp_violations() == []


def test_the_widgets_and_the_record_page_pass_axe(live_server: LiveServer, browser: Browser) -> None:
    from tests.browser.test_accessibility import violations

    with admin_api(live_server) as admin:
        values = {"title": "Axe", "stars": 4, "discount": "12.5%", "notes": "<p>Hi <b>there</b></p>"}
        record = admin.post(RECORDS, json={**values, "site_at": {"city": "深圳市", "detail": "科苑路 15 号"}}).json()
        for viewport in (DESKTOP, PHONE):
            context = browser.new_context(base_url=live_server.url, viewport=viewport, bypass_csp=True, locale="en")
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            log_in(page, ADMIN)
            found: dict[str, object] = {}
            for where in (f"/records/{record['id']}/edit", f"/records/{record['id']}", "/new"):
                page.goto(f"/apps/{APP}/forms/sample{where}")
                expect(page.locator("main")).to_be_visible()
                if problems := violations(page):
                    found[where] = problems
            assert found == {}, found
            context.close()
