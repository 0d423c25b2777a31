"""The to-do dialogs in a real browser: return, resubmit, transfer, add a signer, reject, withdraw.

One request goes back and forth between the people of the demo: the head of
Sales returns it, the requester submits it again from its page, the head
transfers it to the vice-president, who adds the accountant as a signer
before him; the accountant rejects it (a reject needs a comment, and the
dialog says so at the field), which sends it back to the requester. A second request is withdrawn by its requester
from the "submitted" list before anyone acted. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ACCOUNTANT, DEPARTMENT_HEAD, REQUESTER, VICE_PRESIDENT, BrowserLog, log_in

pytestmark = pytest.mark.xdist_group("browser")

Screenshot = Callable[[Page, str], Path]


def submit_request(page: Page, title: str) -> str:
    """Fill in a one-line purchase request, save and submit it; the record page's URL."""
    page.goto("/apps/procurement/forms/purchase_request/new")
    page.get_by_label("标题").fill(title)
    page.get_by_label("申请部门").select_option("sales")
    row = page.locator('[data-field="items"] tr[data-row]').first
    row.get_by_label("物品").fill("椅子")
    row.get_by_label("数量").fill("4")
    row.get_by_label("单价").fill("650")
    expect(page.locator('[data-field="amount"] output')).to_have_text("2,600.00")
    with page.expect_navigation(url=re.compile(r"/records/\d+\?notice=submitted")):
        page.get_by_role("button", name="保存并提交").click()
    return page.url.split("?")[0]


def open_task(page: Page, who: str, title: str) -> None:
    log_in(page, who)
    page.goto("/tasks")
    page.locator(".todo-item").filter(has_text=title).get_by_role("link", name=title).click()
    expect(page.locator("[data-task]")).to_be_visible()


def open_dialog(page: Page, action: str) -> object:
    page.locator(f"[data-open-dialog={action}]").click()
    dialog = page.locator(f"#dialog-{action}")
    expect(dialog).to_be_visible()
    return dialog


def choose_person(dialog, search: str, name: str) -> None:
    dialog.locator("[data-user-search]").fill(search)
    select = dialog.locator("[data-user-select]")
    expect(select.locator('option:not([value=""])')).to_have_count(1)  # the search found exactly them
    expect(select.locator("option", has_text=name)).to_have_count(1)
    value = select.locator("option", has_text=name).get_attribute("value")
    select.select_option(value)


def test_return_resubmit_transfer_add_signer_reject_and_withdraw(
    open_page: Callable[..., Page], screenshot: Screenshot, browser_log: BrowserLog
) -> None:
    title = "会议室椅子"
    requester = open_page()
    log_in(requester, REQUESTER)
    record_url = submit_request(requester, title)

    # the head of Sales returns it to the requester
    head = open_page()
    open_task(head, DEPARTMENT_HEAD, title)
    dialog = open_dialog(head, "return")
    dialog.locator("select[name=target]").select_option("submitter")
    dialog.locator("textarea[name=comment]").fill("请写明用途")
    screenshot(head, "return-dialog")
    with head.expect_navigation(url=re.compile(r"/tasks\?done=returned")):
        dialog.locator("[data-submit]").click()
    expect(head.get_by_role("status")).to_contain_text("已退回")

    # the requester sees it back in draft and submits it again from its page
    requester.goto(record_url)
    expect(requester.locator("[data-status]")).to_have_text("草稿")
    expect(requester.locator(".timeline")).to_contain_text("请写明用途")
    screenshot(requester, "returned-to-requester")
    with requester.expect_navigation(url=re.compile(r"\?notice=submitted")):
        requester.locator("[data-record-action=submit]").click()
    expect(requester.locator("[data-status]")).to_have_text("审批中")

    # the head transfers it to the vice-president
    head.goto("/tasks")
    head.locator(".todo-item").filter(has_text=title).get_by_role("link", name=title).click()
    dialog = open_dialog(head, "transfer")
    choose_person(dialog, "vp", "周总")
    screenshot(head, "transfer-dialog")
    with head.expect_navigation(url=re.compile(r"/tasks\?done=transferred")):
        dialog.locator("[data-submit]").click()

    # the vice-president asks the accountant to sign before him
    vp = open_page()
    open_task(vp, VICE_PRESIDENT, title)
    dialog = open_dialog(vp, "add_signer")
    choose_person(dialog, "accountant", "赵敏")
    dialog.locator("input[name=position][value=before]").check()
    screenshot(vp, "add-signer-dialog")
    with vp.expect_navigation(url=re.compile(r"/tasks\?done=add_signer")):
        dialog.locator("[data-submit]").click()

    # the accountant rejects it: first without the comment a rejection needs
    accountant = open_page()
    open_task(accountant, ACCOUNTANT, title)
    dialog = open_dialog(accountant, "reject")
    dialog.locator("[data-submit]").click()
    expect(dialog.locator('[data-error-for="comment"]')).not_to_be_empty()
    expect(dialog.locator("textarea[name=comment]")).to_be_focused()
    screenshot(accountant, "reject-needs-a-comment")
    dialog.locator("textarea[name=comment]").fill("预算已用完")
    with accountant.expect_navigation(url=re.compile(r"/tasks\?done=rejected")):
        dialog.locator("[data-submit]").click()

    # the step was the head's (transferred), whose rejection goes back to the requester
    requester.goto(record_url)
    expect(requester.locator("[data-status]")).to_have_text("草稿")
    timeline = requester.locator("[data-flow-instance]").last
    for said in ("转交", "加签", "预算已用完"):
        expect(timeline).to_contain_text(said)
    screenshot(requester, "rejected-with-timeline")

    # a second request, withdrawn from the submitted list before anyone acted
    second = "白板"
    second_url = submit_request(requester, second)
    requester.goto("/tasks?box=submitted")
    item = requester.locator(".todo-item").filter(has_text=second)
    item.locator("[data-flow-action=withdraw]").click()
    confirm = item.locator("dialog[data-confirm=withdraw]")
    expect(confirm).to_be_visible()
    screenshot(requester, "withdraw-confirm")
    with requester.expect_navigation(url=re.compile(r"done=withdrawn")):
        confirm.locator("[data-submit]").click()
    requester.goto(second_url)
    expect(requester.locator("[data-status]")).to_have_text("已撤回")
    screenshot(requester, "withdrawn")

    assert browser_log.problems == [], browser_log.problems


def test_an_approver_edits_a_field_the_step_allows_and_sees_its_error_at_the_field(
    open_page: Callable[..., Page], screenshot: Screenshot, browser_log: BrowserLog
) -> None:
    """The demo's GPU server request (136,000) waits for the head of Engineering, whose step may edit
    the reason; over 100,000 a reason is required, so clearing it is refused at the field."""
    head = open_page()
    open_task(head, "eng.head@opsloom.local", "GPU training server")
    reason = head.locator('[data-task-record] [data-field="reason"]')
    expect(reason.locator("textarea")).to_be_editable()
    reason.locator("textarea").fill("")
    dialog = open_dialog(head, "approve")
    dialog.locator("[data-submit]").click()
    expect(reason.locator("[data-error]")).to_have_text("此记录需要填写此项")  # in the reader's language
    expect(dialog.locator("[data-values-errors]")).to_contain_text("申请理由: 此记录需要填写此项")
    screenshot(head, "approve-refused-at-the-field")
    dialog.locator("[data-close]").click()
    reason.locator("textarea").fill("Training the new recommendation models; quotes attached.")
    open_dialog(head, "approve").locator("[data-submit]").click()
    head.wait_for_url(re.compile(r"/tasks\?done=approved"))
    # the change is part of the record's history of the step, as the requester sees it
    requester = open_page()
    log_in(requester, "engineer@opsloom.local")
    requester.goto("/tasks?box=submitted")
    requester.locator(".todo-item").filter(has_text="GPU training server").get_by_role(
        "link", name="GPU training server"
    ).click()
    expect(requester.locator(".timeline")).to_contain_text("Training the new recommendation models")
    screenshot(requester, "requester-sees-the-change")
    refused = [p for p in browser_log.problems if "status of 422" in p]
    assert len(refused) == 1 and [p for p in browser_log.problems if p not in refused] == [], browser_log.problems
