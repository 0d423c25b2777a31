"""The publish and versions pages through HTTP, on both databases: the plan in plain words, the choices for
records that do not fit, refusals told on the page, versions, diffs and rollback."""

from __future__ import annotations

import re
from html import unescape

from fastapi.testclient import TestClient

from tests.builders import create, field, form, publish_app, records_url
from tests.conftest import another_client, create_user, log_in
from tests.runtime.pages.test_pages import assert_secure, token_in

APP = "shop"
PAGE = f"/design/apps/{APP}/forms/order"
URL = records_url(APP, "order")


def first_form():
    return form("order", field("title", required=True), field("amount"), field("note"), title_field="title")


def save(client: TestClient, document) -> None:
    response = client.put(f"/api/design/apps/{APP}/forms/order", json=document)
    assert response.status_code == 200, response.text


def text_of(html: str) -> str:
    """The page's words, without tags, as a reader sees them."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def steps_of(html: str) -> list[str]:
    section = html.split('class="plan-steps"', 1)[1].split("</ol>", 1)[0]
    return [text_of(item) for item in re.findall(r"<li>(.*?)</li>", section, re.S)]


def english(client: TestClient) -> TestClient:
    client.cookies.set("opsloom_locale", "en")
    return client


def test_the_plan_says_in_plain_words_what_a_publish_does(client: TestClient) -> None:
    english(client)
    publish_app(client, APP, first_form())
    create(client, URL, title="desk", amount="12.50", note="a")
    create(client, URL, title="chair", amount="about 30", note="b")
    create(client, URL, title="lamp", amount="", note="c")
    changed = form(
        "order",
        field("title", required=True),
        field("amount", "decimal", scale=2, label={"en": "Amount", "zh-CN": "金额"}),
        field("remark", label="Note", id="fld_note"),
        field("needed_by", "date", label={"en": "Needed by", "zh-CN": "需要日期"}),
        title_field="title",
    )
    save(client, changed)
    page = client.get(f"{PAGE}/publish")
    assert page.status_code == 200
    assert_secure(page)
    steps = steps_of(page.text)
    assert "Rename the key of Note (remark) from note to remark; the values stay" in steps
    assert "Add column Needed by (needed_by) (empty in existing records)" in steps
    assert "Field Amount (amount) changes from Text to Number" in " ".join(steps)
    words = text_of(page.text)
    assert "1 record will not convert to the changed Amount (amount)." in words
    assert "Leave it empty" in words and "Cancel: do not publish" in words
    assert "about 30" in words  # the offending value, with its record
    assert 'name="choice:amount" value="set_empty"' in page.text
    client.cookies.set("opsloom_locale", "zh-CN")
    chinese = text_of(client.get(f"{PAGE}/publish").text)
    assert "新增字段 需要日期 (needed_by)（现有数据中为空）" in chinese
    assert "字段 金额 (amount) 由「单行文本」改为「数字」" in chinese
    assert "有 1 条数据无法转换为修改后的 金额 (amount)。" in chinese


def test_publishing_without_a_choice_is_refused_on_the_page_and_nothing_changes(client: TestClient) -> None:
    english(client)
    publish_app(client, APP, first_form())
    bad = create(client, URL, title="chair", amount="about 30")
    save(client, form("order", field("title", required=True), field("amount", "decimal"), title_field="title"))
    token = token_in(client.get(f"{PAGE}/publish").text)
    refused = client.post(f"{PAGE}/publish", data={"csrf_token": token, "action": "publish"})
    assert refused.status_code == 409
    words = text_of(refused.text)
    assert "Not published" in words and "see the plan for what to do" in words
    assert "Needs a decision" in words
    assert client.get(f"{URL}/{bad['id']}").json()["amount"] == "about 30"
    assert client.get(f"/api/design/apps/{APP}/forms/order").json()["published_version"] == 1
    forged = client.post(f"{PAGE}/publish", data={"csrf_token": "forged", "action": "publish"})
    assert forged.status_code == 403


def test_the_choice_made_is_applied(client: TestClient) -> None:
    english(client)
    publish_app(client, APP, first_form())
    good = create(client, URL, title="desk", amount="12.50")
    bad = create(client, URL, title="chair", amount="about 30")
    save(client, form("order", field("title", required=True), field("amount", "decimal", scale=2), title_field="title"))
    token = token_in(client.get(f"{PAGE}/publish").text)
    wrong = {"csrf_token": token, "choice:amount": "set_value", "value:amount": "abc", "action": "publish"}
    refused = client.post(f"{PAGE}/publish", data=wrong)
    assert refused.status_code == 422 and "resolutions.amount.value" in refused.text
    assert "does not fit the field either" in text_of(refused.text)
    assert 'value="abc"' in refused.text  # what was typed stays
    choice = {"csrf_token": token, "choice:amount": "set_value", "value:amount": "0"}
    checked = client.post(f"{PAGE}/publish", data={**choice, "action": "check"})
    assert checked.status_code == 200
    assert "1 record does not convert and gets 0" in text_of(checked.text) and "Decided" in checked.text
    done = client.post(f"{PAGE}/publish", data={**choice, "action": "publish"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"{PAGE}/versions?published=2"
    assert client.get(f"{URL}/{bad['id']}").json()["amount"] == "0.00"
    assert client.get(f"{URL}/{good['id']}").json()["amount"] == "12.50"
    versions = client.get(done.headers["location"])
    assert "Published: version 2 is now in use." in text_of(versions.text)


def test_keeping_the_old_values_in_an_archived_field_is_a_choice_on_the_page(client: TestClient) -> None:
    english(client)
    publish_app(client, APP, first_form())
    bad = create(client, URL, title="chair", amount="about 30")
    save(client, form("order", field("title", required=True), field("amount", "decimal", scale=2), title_field="title"))
    page = client.get(f"{PAGE}/publish")
    assert "keep every value as it was in an archived field" in text_of(page.text)
    choice = {"csrf_token": token_in(page.text), "choice:amount": "archive"}
    checked = client.post(f"{PAGE}/publish", data={**choice, "action": "check"})
    assert "1 record does not convert and is left empty; every value as it was is kept" in text_of(checked.text)
    done = client.post(f"{PAGE}/publish", data={**choice, "action": "publish"}, follow_redirects=False)
    assert done.status_code == 303
    assert client.get(f"{URL}/{bad['id']}").json()["amount"] is None
    archived = client.get(f"/api/design/apps/{APP}/forms/order").json()["archived_fields"]
    assert sorted((f["key"], f["type"]) for f in archived) == [("amount_before_1", "text"), ("note", "text")]


def test_a_field_becoming_required_asks_for_a_backfill(client: TestClient) -> None:
    english(client)
    publish_app(client, APP, first_form())
    create(client, URL, title="desk", note="kept")
    empty = create(client, URL, title="chair")
    save(
        client,
        form(
            "order", field("title", required=True), field("amount"), field("note", required=True), title_field="title"
        ),
    )
    page = client.get(f"{PAGE}/publish")
    words = text_of(page.text)
    assert "Note (note) becomes required, but 1 record has no value." in words
    assert f'href="/apps/{APP}/forms/order/records/{empty["id"]}"' in page.text
    token = token_in(page.text)
    done = client.post(f"{PAGE}/publish", data={"csrf_token": token, "action": "publish", "fill:note": "n/a"})
    assert done.status_code == 200 and "Published: version 2" in text_of(done.text)
    assert client.get(f"{URL}/{empty['id']}").json()["note"] == "n/a"


def test_duplicates_cannot_be_decided_by_a_publish(client: TestClient) -> None:
    english(client)
    publish_app(client, APP, first_form())
    create(client, URL, title="same")
    create(client, URL, title="same")
    save(client, form("order", field("title", required=True, unique=True), field("amount"), title_field="title"))
    words = text_of(client.get(f"{PAGE}/publish").text)
    assert "Title (title) becomes unique, but 2 records share values." in words
    assert "A publish cannot decide this" in words


def test_a_draft_with_problems_is_told_not_crashed(client: TestClient) -> None:
    english(client)
    publish_app(client, APP, first_form())
    broken = first_form()
    broken["title_field"] = "nothing"
    save_response = client.put(f"/api/design/apps/{APP}/forms/order", json=broken)
    if save_response.status_code != 200:  # the draft store refuses it: the page cannot be shown a broken draft
        broken = form("order", field("title", "formula", formula="SUM(("), title_field="title")
        assert client.put(f"/api/design/apps/{APP}/forms/order", json=broken).status_code == 200
    page = client.get(f"{PAGE}/publish")
    assert page.status_code == 200
    assert "Not published" in text_of(page.text) and "cannot be published until these are fixed" in page.text
    assert client.get(f"/design/apps/{APP}/forms/nothing/publish").status_code == 404


def test_versions_show_who_and_when_a_diff_in_words_and_rollback(client: TestClient) -> None:
    english(client)
    publish_app(client, APP, first_form())
    record = create(client, URL, title="desk", amount="12")
    save(client, form("order", field("title", required=True), field("amount", "integer"), title_field="title"))
    assert client.post(f"/api/design/apps/{APP}/forms/order/publish").status_code == 200
    page = client.get(f"{PAGE}/versions")
    words = text_of(page.text)
    assert "Version 2" in words and "Version 1" in words and "In use" in words and "by admin," in words
    diff = text_of(client.get(f"{PAGE}/versions?from=1&to=2").text)
    assert "Amount (amount) changes from Text to Whole number" in diff
    same = text_of(client.get(f"{PAGE}/versions?from=2&to=draft").text)
    assert "No differences in the fields." in same
    plan = client.get(f"{PAGE}/rollback?version=1")
    assert plan.status_code == 200
    assert "Field Amount (amount) changes from Whole number to Text: every value converts" in steps_of(plan.text)
    token = token_in(plan.text)
    back = client.post(f"{PAGE}/rollback", data={"csrf_token": token, "version": "1", "action": "publish"})
    assert back.status_code == 200 and "Published: version 3" in text_of(back.text)
    assert client.get(f"{URL}/{record['id']}").json()["amount"] == "12"
    assert client.get(f"{PAGE}/rollback?version=99").status_code == 404
    assert client.get(f"{PAGE}/rollback?version=x").status_code == 404


def test_people_who_do_not_design_the_app_get_404(client: TestClient) -> None:
    publish_app(client, APP, first_form())
    create_user(client, "amy@example.com", "right-password-1")
    amy = another_client(client)
    log_in(amy, "amy@example.com", "right-password-1")
    for path in ("publish", "versions", "rollback?version=1"):
        assert amy.get(f"{PAGE}/{path}").status_code == 404
    token = token_in(amy.get("/design").text)
    assert amy.post(f"{PAGE}/publish", data={"csrf_token": token, "action": "publish"}).status_code == 404


def test_a_first_publish_creates_the_table_from_the_page(client: TestClient) -> None:
    english(client)
    assert client.put(f"/api/design/apps/{APP}", json={"key": APP, "label": "Shop"}).status_code == 200
    save(client, first_form())
    page = client.get(f"{PAGE}/publish")
    assert "First publish" in text_of(page.text)
    assert steps_of(page.text) == ["Create the form's table with its 3 fields"]
    done = client.post(f"{PAGE}/publish", data={"csrf_token": token_in(page.text), "action": "publish"})
    assert done.status_code == 200 and "Published: version 1 is now in use." in text_of(done.text)
    assert create(client, URL, title="desk")["title"] == "desk"
    again = client.post(f"{PAGE}/publish", data={"csrf_token": token_in(page.text), "action": "publish"})
    assert "Nothing changed" in text_of(again.text)
    renamed = first_form()
    renamed["fields"][1]["label"] = {"zh-CN": "金额", "en": "Amount"}
    save(client, renamed)
    diff = text_of(client.get(f"{PAGE}/versions?from=1&to=draft").text)
    assert "Amount (amount) renamed: Amount → 金额 / Amount" in diff
