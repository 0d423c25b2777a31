"""The to-do pages through HTTP: the four boxes, one task with its record, its dialogs and its timeline."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import pytest

from tests.builders import admin_client, field, form, publish_app
from tests.conftest import DATABASES
from tests.runtime.flow.office import Office, Person, approval, cc, handler, users
from tests.runtime.pages.test_pages import assert_secure


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("task_pages")) as client:
        yield client


@pytest.fixture
def office(api):
    office = Office(api, app="desk")
    office.publish_form()
    return office


def page(person: Person, url: str, locale: str = "en"):
    person.client.cookies.set("opsloom_locale", locale)
    response = person.client.get(url, headers={"Accept": "text/html"})
    assert_secure(response)
    assert "<script>" not in response.text and " on" + "click=" not in response.text
    scripts = re.findall(r"<script([^>]*)>", response.text)
    assert all('src="/static/' in s or 'type="application/json"' in s for s in scripts), scripts
    return response


def dialogs(html: str) -> list[str]:
    return re.findall(r'<dialog id="dialog-[a-z_]+" class="dialog" data-action="([a-z_]+)"', html)


def buttons(html: str) -> list[str]:
    return re.findall(r'data-open-dialog="([a-z_]+)"', html)


# ------------------------------------------------------------------ the boxes


def test_each_box_lists_its_items_with_counts_and_links(office):
    boss, watcher, clerk = office.people("boss", "watcher", "clerk", locale="en")
    office.grant(clerk)
    office.publish_flow(cc("tell", users(watcher)), approval("head", users(boss)))
    record = office.submitted(clerk, title="Standing desks")
    task = boss.task()

    pending = page(boss, "/tasks")
    assert pending.status_code == 200
    html = pending.text
    assert '<a href="/tasks?box=pending" data-box="pending" aria-current="page"' in html
    assert re.search(r'data-box="pending"[^>]*>Waiting for me <span class="tab-count"[^>]*>1</span>', html)
    assert f'<a class="todo-title" href="/tasks/{task}">Standing desks</a>' in html
    assert "Step: head" in html and f"Submitted by {clerk.email.split('@')[0]}" in html
    assert re.search(r'<time datetime="[^"]+">[A-Z][a-z]{2} \d{1,2}, 20\d\d', html)  # the reader's format

    submitted = page(clerk, "/tasks?box=submitted").text
    detail = f"/apps/desk/forms/{office.form_key}/records/{record['id']}"
    assert f'href="{detail}">Standing desks</a>' in submitted
    assert f'data-record-url="/api{detail}"' in submitted
    assert 'data-flow-action="withdraw"' in submitted and 'data-flow-action="urge"' in submitted
    assert '<dialog id="withdraw-' in submitted and 'data-confirm="withdraw"' in submitted

    copies = page(watcher, "/tasks?box=cc").text
    assert "Standing desks" in copies and 'data-flow-action="' not in copies

    boss.approve(comment="fine")
    done = page(boss, "/tasks?box=done&done=approved").text
    assert 'role="status" data-done="approved">Done: the task is approved.' in done
    assert "Standing desks" in done and "Approved" in done
    after = page(clerk, "/tasks?box=submitted").text
    assert 'data-flow-action="' not in after  # an approved request can be neither withdrawn nor urged


def test_empty_boxes_explain_what_they_are_for(office):
    [newcomer] = office.people("newcomer")
    for box, words in (("pending", "Nothing is waiting for you"), ("submitted", "You have not submitted")):
        html = page(newcomer, f"/tasks?box={box}").text
        assert f'data-empty="{box}"' in html and words in html
    html = page(newcomer, "/tasks?box=nonsense").text
    assert 'data-box="pending" aria-current="page"' in html
    chinese = page(newcomer, "/tasks?box=cc", "zh-CN").text
    assert '<html lang="zh-CN"' in chinese and "抄送我的" in chinese and "还没有抄送给你的申请" in chinese


def test_the_boxes_page_through_their_items(office):
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    for _ in range(21):
        office.submitted(clerk)
    first = page(boss, "/tasks").text
    assert first.count('class="todo-item"') == 20
    next_url = re.search(r'<a href="(/tasks\?box=pending&amp;cursor=\d+)" rel="next">', first)
    assert next_url, first
    second = page(boss, next_url.group(1).replace("&amp;", "&")).text
    assert second.count('class="todo-item"') == 1 and 'rel="next"' not in second


def test_logged_out_visitors_go_to_login(anonymous):
    for url in ("/tasks", "/tasks/1"):
        response = anonymous.get(url, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login?" + urlencode({"next": url})


# ------------------------------------------------------------------ one task


def test_someone_elses_task_is_not_found(office):
    boss, stranger, clerk = office.people("boss", "stranger", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    office.submitted(clerk)
    task = boss.task()
    for url in (f"/tasks/{task}", "/tasks/999999999", "/tasks/nope", f"/tasks/{2**64}"):
        response = page(stranger, url)
        assert response.status_code == 404 and "There is nothing here" in response.text


def test_the_task_shows_editable_fields_as_inputs_hides_hidden_ones_and_offers_allowed_actions(office):
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss), fields={"note": "editable", "secret": "hidden"}))
    office.submitted(clerk, title="Chairs", amount="1234.5", note="n", secret="s3cret")
    task = boss.task()
    html = page(boss, f"/tasks/{task}").text
    assert f'data-task data-task-id="{task}"' in html and "<h1>Chairs</h1>" in html
    assert '<div class="field" data-field="note" data-widget="text"' in html and 'value="n"' in html
    assert 'data-editable="note"' in html
    assert 'data-readonly-field="title"' in html and 'data-field="title"' not in html
    assert 'data-readonly-field="amount"' in html and "1,234.50" in html
    assert "secret" not in html and "s3cret" not in html
    assert '<script type="application/json" id="form-meta">' in html
    meta = json.loads(re.search(r'id="form-meta">(.*?)</script>', html, re.S).group(1))
    assert meta["values"]["amount"] == "1234.50" and "secret" not in meta["values"]  # what rules may read
    assert '<script type="module" src="/static/js/task.js"></script>' in html
    assert buttons(html) == ["approve", "reject", "return", "transfer", "delegate", "add_signer"]
    assert dialogs(html) == ["approve", "reject", "return", "transfer", "delegate", "add_signer"]
    assert 'aria-labelledby="dialog-approve-title"' in html and 'name="comment"' in html
    assert '<select id="dialog-transfer-to" name="to" data-user-select' in html
    assert 'name="position" value="parallel"' in html
    assert 'data-error-for="comment"' in html and "data-dialog-error" in html


def test_a_handler_step_cannot_reject_and_a_closed_task_has_no_dialogs(office):
    worker, clerk = office.people("worker", "clerk")
    office.grant(clerk)
    office.publish_flow(handler("fill", users(worker), fields={"note": "editable"}))
    record = office.submitted(clerk)
    task = worker.task()
    html = page(worker, f"/tasks/{task}").text
    assert "reject" not in buttons(html) and "reject" not in dialogs(html)
    assert 'data-open-dialog="approve" aria-haspopup="dialog" aria-controls="dialog-approve">Complete' in html
    worker.approve(values={"note": "filled in"})
    assert office.read(record)["note"] == "filled in"
    closed = page(worker, f"/tasks/{task}").text
    assert buttons(closed) == [] and dialogs(closed) == [] and "data-task-closed" in closed
    assert 'data-field="note"' not in closed  # no longer editable
    shown = closed.find('data-readonly-field="note"')
    assert shown >= 0 and "filled in" in closed[shown:], closed[shown - 100 : shown + 400]


def test_the_dialogs_mark_the_comment_the_step_requires(office):
    boss, clerk = office.people("boss", "clerk", locale="en")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    office.submitted(clerk)
    html = page(boss, f"/tasks/{boss.task()}").text
    approve = re.search(r'<textarea id="dialog-approve-comment"[^>]*>', html)
    reject = re.search(r'<textarea id="dialog-reject-comment"[^>]*>', html)
    assert approve and reject
    assert "data-required" not in approve.group(0)  # by default approving needs no comment
    assert 'aria-required="true"' in reject.group(0) and "data-required=" in reject.group(0)
    boss.approve()

    office.publish_flow(approval("head", users(boss), comment={"approve": "required", "reject": "optional"}))
    office.submitted(clerk)
    html = page(boss, f"/tasks/{boss.task()}").text
    approve = re.search(r'<textarea id="dialog-approve-comment"[^>]*>', html)
    reject = re.search(r'<textarea id="dialog-reject-comment"[^>]*>', html)
    assert approve and reject
    assert 'aria-required="true"' in approve.group(0)
    assert 'data-required="Write a comment: this step asks for one with an approval."' in approve.group(0)
    assert "data-required" not in reject.group(0)
    assert 'for="dialog-approve-comment">Comment<span class="required"' in html
    assert "data-row-rules" not in html  # no editable subform at this step


def test_the_task_tells_the_page_what_an_editable_subforms_rows_allow(api):
    office = Office(api, app="desk")
    office.publish_form(field("title", required=True), field("items", "subform", fields=[field("item")]))
    boss, clerk = office.people("boss", "clerk", locale="en")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss), fields={"items": "editable"}, rows={"items": {"add": False}}))
    office.submitted(clerk, items=[{"item": "Laptop"}])
    html = page(boss, f"/tasks/{boss.task()}").text
    rules = re.search(r"data-row-rules='([^']*)'", html)
    assert rules, html
    assert json.loads(rules.group(1).replace("&#34;", '"')) == {"items": {"add": False, "edit": True, "delete": True}}


def test_return_offers_the_steps_the_record_passed(office):
    first, second, clerk = office.people("first", "second", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("check", users(first), label="Check"), approval("sign", users(second)))
    office.submitted(clerk)
    first.approve(comment="looks right")
    html = page(second, f"/tasks/{second.task()}").text
    assert '<option value="submitter">The submitter</option>' in html
    assert '<option value="previous">' in html and '<option value="check">Check</option>' in html


def test_the_timeline_lists_who_did_what_when_with_comments_and_changes(office):
    first, second, clerk = office.people("first", "second", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("check", users(first), fields={"note": "editable"}), approval("sign", users(second)))
    office.submitted(clerk)
    first.approve(comment="<b>ok</b>", values={"note": "priced"})
    html = page(second, f"/tasks/{second.task()}").text
    timeline = html[html.index('id="timeline-title"') :]
    assert '<ol class="timeline">' in timeline
    assert 'data-event="submitted"' in timeline and 'data-event="approved"' in timeline
    assert f"<strong>{first.email.split('@')[0]}</strong>" in timeline and "approved" in timeline
    assert '<blockquote class="comment">&lt;b&gt;ok&lt;/b&gt;</blockquote>' in timeline
    assert "<li>Note: <ins>priced</ins></li>" in timeline
    assert "Also on this step" in html
    chinese = page(second, f"/tasks/{second.task()}", "zh-CN").text
    assert "审批记录" in chinese and "同意" in chinese and "提交了申请" in chinese and "转交" in chinese


def test_sections_group_the_fields_as_the_layout_says(api):
    office = Office(api, app="desk")
    office.form_key = f"laid_out_{office.serial}"
    document = form(
        office.form_key,
        field("title", required=True),
        field("amount", "decimal"),
        field("note"),
        title_field="title",
    )
    document["layout"] = {"sections": [{"title": {"en": "Money", "zh-CN": "金额"}, "fields": ["amount"]}]}
    publish_app(api, "desk", document)
    office.url = f"/api/apps/desk/forms/{office.form_key}/records"
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    office.publish_flow(approval("head", users(boss)))
    office.submitted(clerk, amount="5")
    html = page(boss, f"/tasks/{boss.task()}").text
    money = html.index(">Money</h2>")
    assert money < html.index('data-readonly-field="amount"') < html.index('data-readonly-field="title"')


def test_home_counts_link_to_the_boxes(office):
    [someone] = office.people("someone")
    office.grant(someone)
    html = page(someone, "/").text
    for box in ("pending", "submitted", "cc", "done"):
        assert f'<a href="/tasks?box={box}">' in html
