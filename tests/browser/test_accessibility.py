"""Every kind of page checked by axe-core (WCAG 2 A and AA rules) in a real browser, on both databases.

axe-core comes from the npm registry (a dev dependency in package.json) and is
injected by the test; the page's own CSP would refuse an injected script, so
this one context bypasses CSP (the other browser tests keep it on and assert
it holds).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import DEPARTMENT_HEAD, DESKTOP, PHONE, REQUESTER, TIMEOUT_MS, LiveServer, log_in

pytestmark = pytest.mark.xdist_group("browser")

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def violations(page: Page) -> list[dict[str, Any]]:
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: run `npm ci` (make install does)")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "rules => axe.run(document, {runOnly: {type: 'tag', values: rules}, resultTypes: ['violations']})", RULES
    )
    return [
        {"rule": v["id"], "impact": v["impact"], "help": v["help"], "where": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]


def audit(page: Page, where: str, found: dict[str, list[dict[str, Any]]]) -> None:
    problems = violations(page)
    if problems:
        found[where] = problems


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_page_passes_axe(browser: Browser, live_server: LiveServer, viewport: dict) -> None:
    found: dict[str, list[dict[str, Any]]] = {}

    def fresh() -> Page:
        context = browser.new_context(base_url=live_server.url, viewport=viewport, bypass_csp=True, locale="zh-CN")
        context.set_default_timeout(TIMEOUT_MS)
        return context.new_page()

    requester = fresh()
    requester.goto("/login")
    audit(requester, "login", found)
    log_in(requester, REQUESTER)
    audit(requester, "home", found)
    requester.goto("/apps/procurement")
    audit(requester, "app home", found)
    requester.goto("/apps/procurement/forms/purchase_request")
    audit(requester, "list", found)
    requester.goto("/apps/procurement/forms/purchase_request/new")
    requester.get_by_label("标题").fill("打印机")
    requester.get_by_label("申请部门").select_option("sales")
    row = requester.locator('[data-field="items"] tr[data-row]').first
    row.get_by_label("物品").fill("激光打印机")
    row.get_by_label("数量").fill("x")
    row.get_by_label("单价").fill("1999")
    requester.get_by_role("button", name="保存", exact=True).click()
    expect(requester.locator("[data-error-summary]")).to_be_visible()
    audit(requester, "form with errors", found)
    row.get_by_label("数量").fill("1")
    with requester.expect_navigation(url=re.compile(r"/records/\d+\?notice=submitted")):
        requester.get_by_role("button", name="保存并提交").click()
    audit(requester, "record", found)
    requester.goto("/tasks?box=submitted")
    audit(requester, "to-do list", found)

    head = fresh()
    log_in(head, DEPARTMENT_HEAD)
    head.goto("/tasks")
    head.locator(".todo-item").filter(has_text="打印机").get_by_role("link", name="打印机").click()
    audit(head, "task", found)
    head.locator("[data-open-dialog=return]").click()
    audit(head, "task with a dialog open", found)

    head.goto("/me")
    audit(head, "my settings", found)
    head.goto("/notifications")
    audit(head, "notifications", found)
    head.goto("/this/is/not/here", wait_until="load")
    audit(head, "not found", found)

    assert found == {}, found
