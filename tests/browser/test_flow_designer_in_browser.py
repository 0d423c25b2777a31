"""The flow designer in the browser, on both databases."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN, BrowserLog, log_in

pytestmark = pytest.mark.xdist_group("browser")


def test_smoke(
    open_page: Callable[..., Page], screenshot: Callable[[Page, str], Path], browser_log: BrowserLog
) -> None:
    page = open_page(locale="en")
    log_in(page, ADMIN)
    page.goto("/design/apps/procurement/flows/purchase_approval?lang=en")
    expect(page.locator("#flow-designer[data-ready]")).to_be_attached()
    page.screenshot(path="/tmp/fd/smoke.png", full_page=True)
    page.locator('[data-node="head"] .fl-node-main').click()
    page.screenshot(path="/tmp/fd/smoke2.png", full_page=True)
    print(browser_log.problems)
