"""Bad requests are clear problems, never 500s; hostile input is refused or kept as plain data."""

from __future__ import annotations

import json

import pytest

from tests.builders import admin_client, create, field, form, options, problem, publish_fresh, records_url
from tests.conftest import DATABASES

NOTE = form(
    "note",
    field("title", max_length=200),
    field("qty", "integer"),
    field("price", "decimal", precision=10, scale=2),
    field("kind", "select", options=options("a", "b")),
    field("moment", "datetime"),
    field("body", "textarea"),
    title_field="title",
)
HOSTILE = [
    "x'; DROP TABLE notes; --",
    'x"; DROP TABLE "notes"; --',
    "' OR '1'='1",
    "%",
    "_",
    "50%_off",
    "\\",
    "a\\%b",
    "/",
    "//%",
    "]]>' UNION SELECT * FROM platform_users --",
    "$$; SELECT pg_sleep(10); $$",
    "ünïcødé ✓ 中文",
]


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("errors"), max_body_bytes=4096) as client:
        yield client


@pytest.fixture(scope="module")
def shared(api):
    """A form for tests that write nothing, or look only at what they wrote."""
    return publish_fresh(api, "notes", NOTE)


@pytest.fixture
def url(api):
    """A form of this test's own, for tests that count records."""
    return publish_fresh(api, "notes", NOTE)


def filtered(api, url, condition, **params):
    return api.get(url, params={"filter": json.dumps(condition), **params})


# ------------------------------------------------------- unknown things


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("post", ""), ("get", "/1"), ("patch", "/1"), ("delete", "/1"), ("get", "/1/history")],
)
def test_unknown_app_or_form_is_a_404_problem(api, shared, method, suffix):
    kwargs = {"json": {"title": "x"}} if method in ("post", "patch") else {}
    for target in (records_url("nowhere", "note"), records_url("notes", "nothing")):
        body = problem(getattr(api, method)(target + suffix, **kwargs), 404)
        assert "nowhere" in body["detail"] or "nothing" in body["detail"]


def test_draft_only_form_is_a_404_that_says_so(api):
    api.put("/api/design/apps/notes/forms/drafty", json=form("drafty", field("title")))
    body = problem(api.get(records_url("notes", "drafty")), 404)
    assert "not published" in body["detail"]


def test_unknown_route_is_a_404_problem(api):
    problem(api.get("/api/apps/notes/nonsense"), 404)


def test_unknown_field_in_a_body_is_a_422_naming_it_and_listing_the_fields(api, shared):
    body = problem(api.post(shared, json={"title": "x", "colour": "red"}), 422, "colour")
    assert "title" in body["errors"][0]["message"] and "qty" in body["errors"][0]["message"]


def test_unknown_field_in_a_patch_is_a_422(api, shared):
    record = create(api, shared, title="x")
    problem(api.patch(f"{shared}/{record['id']}", json={"colour": "red"}), 422, "colour")


@pytest.mark.parametrize(
    ("condition", "path"),
    [
        ({"field": "colour", "op": "eq", "value": 1}, "filter.field"),
        ({"and": [{"field": "qty", "op": "near", "value": 1}]}, "filter.and[0].op"),
        ({"and": [{"field": "qty", "op": "contains", "value": 1}]}, "filter.and[0].op"),
        ({"or": [{"field": "qty", "op": "eq", "value": 1}, {"field": "nope", "op": "eq"}]}, "filter.or[1].field"),
        ({"not": {"field": "qty", "op": "eq", "value": "ten"}}, "filter.not.value"),
        ({"and": [{"or": [{"field": "qty", "op": "in", "value": [1, "x"]}]}]}, "filter.and[0].or[0].value[1]"),
        ({"field": "qty", "op": "between", "value": [1]}, "filter.value"),
        ({"field": "qty", "op": "gt"}, "filter.value"),
        ({"field": "qty", "op": "is_empty", "value": 3}, "filter.value"),
        ({"field": "qty", "op": "eq", "value": 1, "extra": True}, "filter"),
        ({"and": []}, "filter.and"),
        ({"and": {"field": "qty"}}, "filter.and"),
        ({"and": [1]}, "filter.and[0]"),
        ({"field": "qty", "op": ["eq"], "value": 1}, "filter.op"),
        ({"field": "qty", "op": {"eq": 1}, "value": 1}, "filter.op"),
        ({"field": ["qty"], "op": "eq", "value": 1}, "filter.field"),
        ({"field": "qty", "op": "eq", "value": {"var": ["today"]}}, "filter.value"),
        ({"field": "qty", "op": "eq", "value": {"var": "os.system"}}, "filter.value"),
        ({"field": "deleted_at", "op": "is_empty"}, "filter.field"),
        ({"field": "moment", "op": "last_n_days", "value": 0}, "filter.value"),
        ({"field": "title", "op": "contains", "value": ""}, "filter.value"),
        ([], "filter"),
        ("qty", "filter"),
        (None, "filter"),
    ],
)
def test_malformed_filter_is_a_400_pointing_at_the_part(api, shared, condition, path):
    problem(filtered(api, shared, condition), 400, path)


@pytest.mark.parametrize("text", ["{", "{'field': 'qty'}", "not json", '{"field": "qty", "op": "eq", "value": 1}}'])
def test_filter_that_is_not_json_is_a_400(api, shared, text):
    problem(api.get(shared, params={"filter": text}), 400, "filter")


def test_absurdly_nested_filter_is_a_400(api, shared):
    problem(api.get(shared, params={"filter": "[" * 5000 + "]" * 5000}), 400, "filter")
    deep = {"field": "qty", "op": "eq", "value": 1}
    for _ in range(40):
        deep = {"not": deep}
    problem(filtered(api, shared, deep), 400)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999999999"])
def test_non_finite_numbers_in_filters_are_a_400(api, shared, value):
    for key in ("qty", "price"):
        text = f'{{"field": "{key}", "op": "gt", "value": {value}}}'
        problem(api.get(shared, params={"filter": text}), 400)


# ------------------------------------------------------------ bodies


@pytest.mark.parametrize("raw", [b"{", b"{'title': 'x'}", b'{"title": "x",}', b"\xff\xfe", b"nul\x00l", b"[" * 3000])
def test_malformed_json_body_is_a_400(api, url, raw):
    problem(api.post(url, content=raw, headers={"content-type": "application/json"}), 400, "$")
    assert api.get(url).json()["total"] == 0


def test_empty_body_is_a_400(api, shared):
    problem(api.post(shared, content=b"", headers={"content-type": "application/json"}), 400, "$")


@pytest.mark.parametrize("raw", [b'{"qty": NaN}', b'{"price": Infinity}', b'{"price": -Infinity}'])
def test_non_json_number_constants_are_refused(api, shared, raw):
    problem(api.post(shared, content=raw, headers={"content-type": "application/json"}), 400, "$")


def test_lone_surrogates_are_refused(api, url):
    raw = b'{"title": "\\ud800"}'
    problem(api.post(url, content=raw, headers={"content-type": "application/json"}), 422, "title")
    problem(api.get(url, params={"filter": '{"field": "title", "op": "contains", "value": "\\udfff"}'}), 400)
    assert api.get(url).json()["total"] == 0


@pytest.mark.parametrize("payload", [[{"title": "x"}], "title", 42, None])
def test_body_that_is_not_an_object_is_a_422(api, shared, payload):
    problem(api.post(shared, content=json.dumps(payload), headers={"content-type": "application/json"}), 422, "$")


def test_oversized_body_is_a_413(api, url):
    body = problem(api.post(url, json={"body": "x" * 5000}), 413)
    assert "4096" in body["detail"]
    assert api.get(url).json()["total"] == 0


def test_oversized_streamed_body_without_a_length_is_a_413(api, url):
    def chunks():
        yield b'{"body": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    problem(api.post(url, content=chunks(), headers={"content-type": "application/json"}), 413)
    assert api.get(url).json()["total"] == 0


def test_body_just_under_the_limit_is_accepted(api, shared):
    assert api.post(shared, json={"body": "x" * 3000}).status_code == 201


def test_nul_characters_are_refused_not_a_server_error(api, shared):
    problem(api.post(shared, json={"title": "a\x00b"}), 422, "title")
    problem(filtered(api, shared, {"field": "title", "op": "contains", "value": "a\x00"}), 400)
    problem(filtered(api, shared, {"field": "title", "op": "eq", "value": "a\x00"}), 400)
    problem(api.get(shared, params={"q": "a\x00"}), 422, "q")
    problem(api.get(shared, params={"sort": "title\x00"}), 422, "sort")


# ---------------------------------------------------------------- ids


@pytest.mark.parametrize("record_id", ["0", "-1", str(2**63), str(2**64), "abc", "1e3", "0x10", "９"])
@pytest.mark.parametrize(
    ("method", "suffix"), [("get", ""), ("patch", ""), ("delete", ""), ("post", "/restore"), ("get", "/history")]
)
def test_record_ids_out_of_range_are_a_400(api, shared, record_id, method, suffix):
    kwargs = {"json": {"qty": 1}} if method == "patch" else {}
    problem(getattr(api, method)(f"{shared}/{record_id}{suffix}", **kwargs), 400, "record_id")


def test_largest_record_id_is_simply_not_found(api, shared):
    problem(api.get(f"{shared}/{2**63 - 1}"), 404)


# ---------------------------------------------------------- injection


def test_hostile_field_keys_in_a_body_are_refused_as_unknown_fields(api, url):
    for key in ['title"; DROP TABLE x; --', "title = 1 --", "TITLE", " title", "qty)", "deleted_at", "id"]:
        problem(api.post(url, json={key: "x"}), 422, key)
    assert api.get(url).json()["total"] == 0


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_stored_and_returned_verbatim(api, shared, text):
    record = create(api, shared, title=text, body=text)
    assert (record["title"], record["body"]) == (text.strip(), text)
    assert api.get(f"{shared}/{record['id']}").json()["title"] == text.strip()


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_filter_values_are_plain_data(api, url, text):
    create(api, url, title="plain")
    target = create(api, url, title=f"<{text}>")
    expected = [target["id"]]
    for op, value in (("eq", f"<{text}>"), ("contains", text), ("starts_with", f"<{text}"), ("in", [f"<{text}>"])):
        response = filtered(api, url, {"field": "title", "op": op, "value": value})
        assert response.status_code == 200, response.text
        assert [r["id"] for r in response.json()["items"]] == expected, (op, value)
    searched = api.get(url, params={"q": text})
    assert [r["id"] for r in searched.json()["items"]] == expected
    assert api.get(url).json()["total"] == 2


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_filter_field_names_are_refused(api, shared, text):
    problem(filtered(api, shared, {"field": text, "op": "eq", "value": 1}), 400, "filter.field")
    problem(filtered(api, shared, {"field": "title", "op": text, "value": 1}), 400, "filter.op")


@pytest.mark.parametrize("text", [*HOSTILE, "title desc", "title;", "-title--", "1"])
def test_hostile_sort_keys_are_refused(api, shared, text):
    problem(api.get(shared, params={"sort": text}), 400, "sort")


def test_hostile_values_in_other_types_are_refused(api, shared):
    for key in ("qty", "price", "moment", "kind"):
        problem(api.post(shared, json={key: "1; DROP TABLE notes"}), 422, key)
        problem(filtered(api, shared, {"field": key, "op": "eq", "value": "1 OR 1=1"}), 400, "filter.value")


def test_tables_are_intact_after_an_attack(api, url):
    keep = create(api, url, title="keep me", qty=1)
    for text in HOSTILE:
        api.post(url, json={"title": text})
        api.post(url, json={text: text})
        filtered(api, url, {"field": "title", "op": "contains", "value": text})
        filtered(api, url, {"field": text, "op": "eq", "value": text})
        api.get(url, params={"sort": text, "q": text})
        api.patch(f"{url}/{keep['id']}", json={text: 1})
    listed = api.get(url, params={"limit": 500}).json()
    assert listed["total"] == len(HOSTILE) + 1
    assert api.get(f"{url}/{keep['id']}").json()["qty"] == 1
    assert [h["action"] for h in api.get(f"{url}/{keep['id']}/history").json()["items"]] == ["create"]
    assert api.get("/api/design/apps/notes/forms/note").status_code in (200, 404)
    assert create(api, url, title="still works")["title"] == "still works"
