"""rich_text: HTML cleaned by nh3 over HTTP; searched, exported as plain text, documented in OpenAPI."""

from __future__ import annotations

from datetime import UTC

import pytest

from opsloom.runtime.fields import FIELD_TYPES, FieldSpec
from opsloom.runtime.pages.i18n import Translator
from tests.builders import admin_client, create, field, form, message_at, problem, publish_app, records_url
from tests.conftest import DATABASES
from tests.runtime.field_checks import draft_problems, exported, field_schema, ids_matching

APP = "notes"
NOTE = form("note", field("title"), field("body", "rich_text"), field("short", "rich_text", max_length=40))
URL = records_url(APP, "note")


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("rich")) as client:
        publish_app(client, APP, NOTE)
        yield client


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("<p>Hello <strong>world</strong></p>", "<p>Hello <strong>world</strong></p>"),
        ("<p onclick='steal()'>Hi</p>", "<p>Hi</p>"),
        ("<p>Hi</p><script>alert(1)</script>", "<p>Hi</p>"),
        ("<style>p{color:red}</style><p>Hi</p>", "<p>Hi</p>"),
        ("<img src=x onerror=alert(1)><p>Hi</p>", "<p>Hi</p>"),
        ("<iframe src='https://evil.example'></iframe><p>Hi</p>", "<p>Hi</p>"),
        ('<a href="javascript:alert(1)">x</a>', '<a rel="noopener noreferrer nofollow">x</a>'),
        ('<a href="https://a.example">x</a>', '<a href="https://a.example" rel="noopener noreferrer nofollow">x</a>'),
        ('<p style="position:fixed" class="big">Hi</p>', "<p>Hi</p>"),
        ("<ul><li>one</li><li>two</li></ul>", "<ul><li>one</li><li>two</li></ul>"),
        ("plain & <b>bold</b>", "plain &amp; <b>bold</b>"),
        ("<p></p><br>", None),
        ("<script>only()</script>", None),
        ("", None),
    ],
)
def test_html_is_cleaned_before_it_is_stored(api, sent, stored):
    record = create(api, URL, body=sent)
    assert record["body"] == stored
    assert api.get(f"{URL}/{record['id']}").json()["body"] == stored


@pytest.mark.parametrize(
    ("key", "sent", "hint"),
    [
        ("body", 5, "HTML"),
        ("body", {"html": "<p>x</p>"}, "HTML"),
        ("body", "<p>a\x00b</p>", "NUL"),
        ("short", "<p>" + "x" * 40 + "</p>", "most allowed is 40"),
        ("short", "<p>" + "x" * 5000 + "</p>", "most allowed is 40"),
    ],
)
def test_bad_rich_text_is_a_422_naming_the_field(api, key, sent, hint):
    body = problem(api.post(URL, json={key: sent}), 422, key)
    assert hint in message_at(body, key)


def test_the_limit_counts_the_cleaned_html(api):
    # 60 characters sent, but the script goes: what is stored fits.
    assert create(api, URL, short="<p>short</p><script>" + "x" * 40 + "</script>")["short"] == "<p>short</p>"


def test_contains_finds_text_as_people_wrote_it(api):
    a = create(api, URL, body="<p>Tom &amp; Jerry <em>Forever</em></p>")
    b = create(api, URL, body="<p>Nothing 50% here</p>")
    empty = create(api, URL, title="no body")
    mine = {a["id"], b["id"], empty["id"]}
    assert ids_matching(api, URL, {"field": "body", "op": "contains", "value": "tom & jerry"}) & mine == {a["id"]}
    assert ids_matching(api, URL, {"field": "body", "op": "contains", "value": "forever"}) & mine == {a["id"]}
    assert ids_matching(api, URL, {"field": "body", "op": "contains", "value": "50%"}) & mine == {b["id"]}
    assert ids_matching(api, URL, {"field": "body", "op": "is_empty"}) & mine == {empty["id"]}
    assert ids_matching(api, URL, {"field": "body", "op": "not_empty"}) & mine == {a["id"], b["id"]}
    for op, value in (("eq", "x"), ("gt", "x"), ("starts_with", "x")):
        problem(api.get(URL, params={"filter": f'{{"field": "body", "op": "{op}", "value": "{value}"}}'}), 400)
    problem(api.get(URL, params={"sort": "body"}), 400)


def test_contains_looks_in_the_text_never_in_the_markup(api):
    bold = create(api, URL, body='<p>Say <strong>bo</strong>ld &lt;i&gt; <a href="https://example.com/p">here</a></p>')
    lines = create(api, URL, body="<ul><li>first</li><li>second</li></ul>")
    mine = {bold["id"], lines["id"]}

    def found(text: str) -> set[int]:
        return ids_matching(api, URL, {"field": "body", "op": "contains", "value": text}) & mine

    for markup in ("strong", "<p>", "href", "example.com", "li>", "amp", "lt;", "noopener"):
        assert found(markup) == set(), markup
    assert found("bold") == {bold["id"]}  # one word across an inline tag
    assert found("<i>") == {bold["id"]}  # text that looks like markup is text
    assert found("here") == {bold["id"]}
    assert found("first") == found("second") == {lines["id"]}
    assert found("firstsecond") == set()  # list items are lines apart


def test_export_writes_plain_text(api):
    record = create(api, URL, body="<p>One &amp; <b>two</b></p><ul><li>three</li></ul>")
    assert exported(api, URL, "csv", "Body")[record["id"]] == "One & two\nthree"
    assert exported(api, URL, "xlsx", "Body")[record["id"]] == "One & two\nthree"


def test_openapi_says_it_is_html(api):
    schema = field_schema(api, APP, "Note", "body")
    assert schema["contentMediaType"] == "text/html" and schema["maxLength"] == 20000
    assert field_schema(api, APP, "Note", "short", write=True)["maxLength"] == 40


def test_the_designer_refuses_rich_text_in_rows_and_unique_rich_text(api):
    rows = field("lines", "subform", fields=[field("memo", "rich_text")])
    assert "fields[0].fields[0].type" in draft_problems(api, APP, form("rows", rows))
    assert draft_problems(api, APP, form("uniq", field("body", "rich_text", unique=True)))


def test_one_line_for_people_and_markup_only_for_the_record_page():
    unit = FIELD_TYPES["rich_text"]
    spec = FieldSpec("b", "b", "rich_text", "b", "Body")
    value = "<p>A &lt;b&gt; tag</p><p>Two</p>"
    assert unit.display(Translator("en"), UTC, spec, value) == "A <b> tag Two"  # plain text, escaped where shown
    assert unit.markup(spec, value) == value
    assert unit.markup(spec, "<p>x</p><script>bad()</script>") == "<p>x</p>"  # cleaned again as it is shown
    assert FIELD_TYPES["text"].markup(spec, value) is None
    assert unit.parse(spec, unit.from_cell(spec, "a < b\n\nsecond")) == "<p>a &lt; b</p><p>second</p>"
