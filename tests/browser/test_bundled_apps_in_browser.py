"""Every bundled app in a real browser, on the demo, on both databases: as a platform admin, its home, every
form's list and first record, every dashboard and report of its menu open without a script error or a CSP
violation, and are axe-clean; the same app home on a phone in English.

It also takes the template gallery's screenshots, in both languages: `<n>.<locale>.jpg` under
`<screenshots>/<db>/bundled/<app>/` (copied to `examples/<app>/screenshots/`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from opsloom.designer.packages import read_package
from opsloom.resources import data_path
from tests.browser.conftest import (
    ADMIN,
    DESKTOP,
    PHONE,
    REPORT_CSP_VIOLATIONS,
    SCREENSHOTS,
    TIMEOUT_MS,
    BrowserLog,
    LiveServer,
)
from tests.browser.conftest import log_in as log_in_page
from tests.browser.test_accessibility import violations

pytestmark = pytest.mark.xdist_group("browser")

APPS = sorted(p.name for p in data_path("examples").iterdir() if (p / "app.json").exists())


def admin_page(browser: Browser, server: LiveServer, log: BrowserLog, viewport: Any, locale: str) -> Page:
    # bypass_csp only lets axe-core be injected; CSP violations are still reported by the listener
    context = browser.new_context(base_url=server.url, viewport=viewport, locale=locale, bypass_csp=True)
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    log.watch(page)
    log_in_page(page, ADMIN)
    return page


def visit(page: Page, url: str, found: dict[str, Any]) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, f"{url}: {response and response.status}"
    expect(page.locator("h1")).to_be_visible()
    page.wait_for_load_state("networkidle")
    problems = violations(page)
    if problems:
        found[url] = problems


def gallery_shots(page: Page, package: dict[str, Any], locale: str, folder: Path) -> None:
    """The app at its best: its dashboard of the most reports (or its first list), then its first form's first
    record."""
    app = package["app"]["key"]
    first_form = (package["app"].get("menu") or [package["forms"][0]["key"]])[0]
    dashboards = package.get("dashboards", [])
    fullest = max(dashboards, key=lambda d: sum("report" in item for item in d["items"]), default=None)
    start = f"/apps/{app}/dashboards/{fullest['key']}" if fullest else f"/apps/{app}/forms/{first_form}"
    page.goto(start)
    page.wait_for_load_state("networkidle")
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"1.{locale}.jpg"), type="jpeg", quality=70)
    page.goto(f"/apps/{app}/forms/{first_form}")
    page.locator(f'a[href^="/apps/{app}/forms/{first_form}/records/"]').first.click()
    expect(page).to_have_url(re.compile(r"/records/\d+"))
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(folder / f"2.{locale}.jpg"), type="jpeg", quality=70)


@pytest.mark.parametrize("app", APPS)
def test_each_bundled_app_opens_page_by_page(
    app: str, browser: Browser, live_server: LiveServer, browser_log: BrowserLog, tmp_path_factory: Any
) -> None:
    package = read_package(data_path("examples") / app)
    label = package["app"]["label"]
    found: dict[str, Any] = {}
    page = admin_page(browser, live_server, browser_log, DESKTOP, "zh-CN")

    visit(page, f"/apps/{app}", found)
    expect(page.locator("h1")).to_have_text(label["zh-CN"])
    for form in package["forms"]:
        list_url = f"/apps/{app}/forms/{form['key']}"
        visit(page, list_url, found)
        expect(page.locator("h1")).to_have_text(form["label"]["zh-CN"])
        if package.get("sample_data", {}).get(form["key"]):
            first = page.locator(f'a[href^="{list_url}/records/"]').first
            expect(first).to_be_visible()
            visit(page, first.get_attribute("href") or "", found)
    for dashboard in package.get("dashboards", []):
        visit(page, f"/apps/{app}/dashboards/{dashboard['key']}", found)
        expect(page.locator("h1")).to_have_text(dashboard["label"]["zh-CN"])
    for report in package.get("reports", [])[:3]:
        visit(page, f"/apps/{app}/reports/{report['key']}", found)

    phone = admin_page(browser, live_server, browser_log, PHONE, "en")
    visit(phone, f"/apps/{app}", found)
    expect(phone.locator("h1")).to_have_text(label["en"])
    assert not re.search(r"\{\w+\}", phone.locator("main").inner_text()), "a message placeholder was left unfilled"

    root = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path_factory.getbasetemp() / "screenshots"
    shots = root / live_server.db_kind / "bundled" / app
    gallery_shots(page, package, "zh-CN", shots)
    english = admin_page(browser, live_server, browser_log, DESKTOP, "en")
    gallery_shots(english, package, "en", shots)
    assert sorted(p.name for p in shots.glob("*.jpg")) == ["1.en.jpg", "1.zh-CN.jpg", "2.en.jpg", "2.zh-CN.jpg"]

    assert found == {}, found
    assert browser_log.problems == []
