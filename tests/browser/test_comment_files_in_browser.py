"""A comment with a file, from the record's page in a real browser, on both databases: the requester
attaches a quotation to his comment; the comment shows it, and it downloads."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import REQUESTER, BrowserLog, log_in

pytestmark = pytest.mark.xdist_group("browser")

Screenshot = Callable[[Page, str], Path]


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_a_comment_carries_a_file(
    open_page: Callable[..., Page], screenshot: Screenshot, browser_log: BrowserLog, locale: str
) -> None:
    page = open_page(locale=locale)
    log_in(page, REQUESTER)
    page.goto("/apps/procurement/forms/purchase_request")
    page.locator("table.records tbody tr", has_text="客户演示用投影仪").get_by_role("link").first.click()
    attach = page.get_by_label("附件" if locale == "zh-CN" else "Attach files", exact=True)
    attach.set_input_files({"name": "报价单 v2.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 quote"})
    text = "新报价见附件" if locale == "zh-CN" else "The new quote is attached"
    page.locator("#comment-text").fill(text)
    with page.expect_navigation(url=re.compile(r"\?notice=commented$")):
        page.get_by_role("button", name="发送评论" if locale == "zh-CN" else "Send comment").click()
    event = page.locator(".timeline .event", has_text=text)
    link = event.get_by_role("link", name="报价单 v2.pdf")
    expect(link).to_be_visible()
    downloaded = page.request.get(link.get_attribute("href") or "")
    assert downloaded.status == 200 and downloaded.body() == b"%PDF-1.4 quote"
    screenshot(page, f"comment-with-file-{locale}")
    assert browser_log.problems == [], browser_log.problems
