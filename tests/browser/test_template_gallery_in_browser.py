"""The template gallery in a real browser, on both databases: an admin of an empty installation installs the
CRM template through the page (the plan shown first), opens the app and finds its sample customers; the
gallery and the plan are axe-clean at desktop and phone widths, in Chinese and English."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from opsloom.designer.packages import read_package
from opsloom.resources import data_path
from tests.browser.conftest import (
    CHROMIUM,
    DESKTOP,
    PHONE,
    REPORT_CSP_VIOLATIONS,
    TIMEOUT_MS,
    BrowserLog,
    LiveServer,
    _opsloom,
    _stop,
    _wait_until_healthy,
    free_port,
    log_in,
)
from tests.browser.test_accessibility import violations

pytestmark = pytest.mark.xdist_group("browser")

ADMIN = "owner@example.com"
PASSWORD = "gallery-password-1"


@pytest.fixture
def empty_server(db_kind: str, db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """`opsloom serve` on an installation with no app yet, and one platform admin."""
    data_dir, cwd = tmp_path / "server-data", tmp_path / "server-cwd"
    cwd.mkdir()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OPSLOOM_")},
        "OPSLOOM_DATABASE_URL": db_url,
        "OPSLOOM_DATA_DIR": str(data_dir),
        "OPSLOOM_RUN_WORKER": "false",
    }
    created = subprocess.run(
        _opsloom("user", "create", "--email", ADMIN, "--password", PASSWORD, "--admin"),
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            _opsloom("serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
            cwd=cwd,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", db_kind, db_url, data_dir, log)
    try:
        _wait_until_healthy(server.url, process, log)
        yield server
    finally:
        _stop(process)


@pytest.fixture
def gallery_browser(empty_server: LiveServer) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"The browser tests need Debian's chromium at {CHROMIUM}; install it with `make browser`")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def open_as_admin(gallery_browser: Browser, empty_server: LiveServer, browser_log: BrowserLog) -> Callable[..., Page]:
    def open_(viewport: dict = DESKTOP, locale: str = "zh-CN", bypass_csp: bool = False) -> Page:
        """A logged-in admin's page; `bypass_csp` only for axe-core, which is injected as an inline script."""
        context = gallery_browser.new_context(
            base_url=empty_server.url, viewport=viewport, locale=locale, bypass_csp=bypass_csp
        )
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        browser_log.watch(page)
        log_in(page, ADMIN, PASSWORD)
        return page

    return open_


def test_install_crm_through_the_gallery_then_open_it(
    open_as_admin: Callable[..., Page], browser_log: BrowserLog, screenshot: Callable[[Page, str], Path]
) -> None:
    page = open_as_admin(locale="en")
    page.goto("/design")
    page.get_by_role("link", name=re.compile("start from a template")).click()
    expect(page.get_by_role("heading", name="Start from a template", level=1)).to_be_visible()
    crm = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name="CRM"))
    expect(crm).to_contain_text("9 forms · 3 roles · 2 flows")
    expect(crm).to_contain_text("Opportunity")
    screenshot(page, "gallery")

    crm.get_by_role("link", name="Install…").click()
    expect(page.get_by_role("heading", name="Install CRM: what will happen")).to_be_visible()
    expect(page.get_by_text("New form Customer")).to_be_visible()
    expect(page.get_by_text("New flow Large deal review")).to_be_visible()
    expect(page.get_by_label("Add the sample records")).to_be_checked()
    screenshot(page, "plan")
    axe = open_as_admin(locale="en", bypass_csp=True)
    for url in ("/design/templates", "/design/templates/crm"):
        axe.goto(url)
        assert violations(axe) == [], url

    page.get_by_role("button", name="Install", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("CRM is installed.")
    version = read_package(data_path("examples") / "crm")["app"]["version"]
    expect(crm.get_by_text(f"Installed: version {version}")).to_be_visible()
    screenshot(page, "installed")
    page.get_by_role("status").get_by_role("link", name="Open the app").click()
    expect(page).to_have_url(re.compile(r"/apps/crm$"))
    page.goto("/apps/crm/forms/customer")
    expect(page.get_by_text("Northwind Retail")).to_be_visible()
    screenshot(page, "crm customers")
    assert browser_log.problems == []


def test_the_gallery_on_a_phone_in_chinese(
    open_as_admin: Callable[..., Page], browser_log: BrowserLog, screenshot: Callable[[Page, str], Path]
) -> None:
    page = open_as_admin(viewport=PHONE)
    page.goto("/design/templates")
    expect(page.get_by_role("heading", name="从模板开始")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "gallery phone")
    projects = page.get_by_role("listitem").filter(has=page.get_by_role("heading", name="项目管理"))
    projects.get_by_role("link", name="安装…").click()
    expect(page.get_by_role("heading", name="安装「项目管理」：将要发生什么")).to_be_visible()
    expect(page.get_by_text("新建流程「立项审批」")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "plan phone")
    assert browser_log.problems == []
    axe = open_as_admin(viewport=PHONE, bypass_csp=True)
    for url in ("/design/templates", "/design/templates/projects"):
        axe.goto(url)
        assert violations(axe) == [], url
