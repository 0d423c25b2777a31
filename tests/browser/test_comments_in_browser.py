"""A comment from the record's page in a real browser: the requester asks the vice-president to look, by @;
the vice-president finds it among his notifications."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import REQUESTER, VICE_PRESIDENT, BrowserLog, log_in

pytestmark = pytest.mark.xdist_group("browser")

Screenshot = Callable[[Page, str], Path]


def test_a_comment_mentions_the_vice_president(
    open_page: Callable[..., Page], screenshot: Screenshot, browser_log: BrowserLog
) -> None:
    requester = open_page()
    log_in(requester, REQUESTER)
    requester.goto("/apps/procurement/forms/purchase_request")
    requester.locator("table.records tbody tr", has_text="客户演示用投影仪").get_by_role("link").first.click()
    expect(requester.locator("h1")).to_contain_text("采购申请")

    send = requester.get_by_role("button", name="发送评论")
    send.click()  # nothing written: refused at the field
    expect(requester.locator('#comment-form [data-field="text"] [data-error]')).not_to_be_empty()
    requester.get_by_label("评论内容").fill("周总，这台投影仪下周客户演示要用，麻烦看一下")
    who = requester.get_by_role("combobox", name="提醒谁看（@）")
    who.fill("vp")
    expect(requester.get_by_role("option")).to_have_count(1)
    expect(requester.get_by_role("option")).to_contain_text("周总")
    who.press("ArrowDown")
    who.press("Enter")
    with requester.expect_navigation(url=re.compile(r"\?notice=commented$")):
        send.click()
    expect(requester.locator(".timeline")).to_contain_text("下周客户演示要用")
    screenshot(requester, "commented")

    vp = open_page()
    log_in(vp, VICE_PRESIDENT)
    expect(vp.locator('[data-count="unread"]')).not_to_be_empty()
    vp.goto("/notifications")
    mention = vp.get_by_role("link", name=re.compile("有人在「客户演示用投影仪」的评论中提到了你"))
    mention.click()
    expect(vp.locator(".timeline")).to_contain_text("下周客户演示要用")
    refusals = [p for p in browser_log.problems if "status of 400" in p]
    assert len(refusals) == 1 and [p for p in browser_log.problems if p not in refusals] == [], browser_log.problems
    assert browser_log.csp_violations() == []
