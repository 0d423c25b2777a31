"""Every field type over HTTP: good values round-trip, bad values are a 422 naming the field."""

from __future__ import annotations

import pytest

from tests.builders import (
    admin_client,
    create,
    field,
    form,
    message_at,
    options,
    problem,
    publish_app,
    publish_fresh,
    records_url,
)
from tests.conftest import DATABASES

EVERYTHING = form(
    "sample",
    field("title", max_length=20),
    field("body", "textarea"),
    field("qty", "integer"),
    field("price", "decimal", precision=8, scale=2),
    field("done", "boolean"),
    field("due", "date"),
    field("at", "datetime"),
    field("color", "select", options=options("red", "green", "blue")),
    field("tags", "multiselect", options=options("a", "b", "c")),
    field("mail", "email"),
    field("tel", "phone"),
    field("site", "url"),
    title_field="title",
)
URL = records_url("types", "sample")

RULES = form(
    "ruled",
    field("name", required=True, min_length=2, max_length=5),
    field("sku", pattern=r"[A-Z]{2}-\d{3}"),
    field("age", "integer", min=18, max=65),
    field("rate", "decimal", precision=6, scale=2, min="0.50", max="99.99"),
    field("starts", "date", min="2024-01-01", max="2024-12-31"),
    field("meets", "datetime", min="2024-01-01T00:00:00Z", max="2024-12-31T23:59:59Z"),
    field("note", "textarea", max_length=10),
    field("picks", "multiselect", options=options("x", "y", "z", "w"), min_items=2, max_items=3),
    field("agree", "boolean", required=True),
)
RULED = records_url("types", "ruled")


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    """One database per module: tests add their own records and look only at those."""
    with admin_client(request.param, tmp_path_factory.mktemp("types")) as client:
        publish_app(client, "types", EVERYTHING, RULES)
        yield client


def roundtrip(api, key, value):
    """Create a record with one value; return it as created and as read back (must agree)."""
    created = create(api, URL, **{key: value})
    read = api.get(f"{URL}/{created['id']}").json()
    assert read[key] == created[key], (created[key], read[key])
    return created[key]


def refused(api, key, value, url=URL, **others):
    body = problem(api.post(url, json={**others, key: value}), 422, key)
    return message_at(body, key)


GOOD = [
    ("title", "Desk", "Desk"),
    ("title", "  padded  ", "padded"),
    ("title", "日本語テキスト", "日本語テキスト"),
    ("title", "x" * 20, "x" * 20),
    ("body", "line one\nline two\n", "line one\nline two\n"),
    ("body", "长" * 5000, "长" * 5000),
    ("qty", 0, 0),
    ("qty", -42, -42),
    ("qty", 2**63 - 1, 2**63 - 1),
    ("qty", -(2**63 - 1), -(2**63 - 1)),
    ("qty", "17", 17),
    ("qty", 3.0, 3),
    ("price", "1200.50", "1200.50"),
    ("price", "0.1", "0.10"),
    ("price", 7, "7.00"),
    ("price", "-999999.99", "-999999.99"),
    ("price", "999999.99", "999999.99"),
    ("price", "1.500", "1.50"),
    ("done", True, True),
    ("done", False, False),
    ("due", "2026-01-31", "2026-01-31"),
    ("due", "2024-02-29", "2024-02-29"),
    ("at", "2026-01-31T09:30:00Z", "2026-01-31T09:30:00Z"),
    ("at", "2026-01-31T09:30:00+08:00", "2026-01-31T01:30:00Z"),
    ("at", "2026-01-01T01:00:00-05:30", "2026-01-01T06:30:00Z"),
    ("at", "2026-01-31T09:30:00.123456+00:00", "2026-01-31T09:30:00.123456Z"),
    ("at", "2026-01-31T09:30:00", "2026-01-31T09:30:00Z"),
    ("color", "green", "green"),
    ("tags", ["c", "a"], ["a", "c"]),
    ("tags", ["b", "b"], ["b"]),
    ("mail", "Ann.Lee+x@Example.COM", "Ann.Lee+x@example.com"),
    ("tel", "+86 (10) 1234-5678", "+86 (10) 1234-5678"),
    ("tel", "13800138000", "13800138000"),
    ("site", "https://example.com/a?b=c#d", "https://example.com/a?b=c#d"),
    ("site", "http://localhost:8000", "http://localhost:8000"),
]


@pytest.mark.parametrize(("key", "value", "stored"), GOOD, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(GOOD)])
def test_good_values_round_trip(api, key, value, stored):
    assert roundtrip(api, key, value) == stored


EMPTY = [("title", ""), ("title", "   "), ("body", " \n "), ("color", ""), ("tags", []), ("mail", "")]


@pytest.mark.parametrize(("key", "value"), EMPTY)
def test_empty_values_are_stored_as_null(api, key, value):
    assert roundtrip(api, key, value) is None


@pytest.mark.parametrize("key", [f["key"] for f in EVERYTHING["fields"]])
def test_null_is_accepted_for_every_optional_field(api, key):
    assert roundtrip(api, key, None) is None


BAD = [
    ("title", 5, "text"),
    ("title", ["a"], "text"),
    ("title", "x" * 21, "20"),
    ("body", {"a": 1}, "text"),
    ("title", "a\x00b", "NUL"),
    ("body", "a\x00b", "NUL"),
    ("mail", "a\x00@example.com", "NUL"),
    ("qty", "many", "whole number"),
    ("qty", 1.5, "whole number"),
    ("qty", True, "whole number"),
    ("qty", 2**63, "too large"),
    ("qty", "99999999999999999999", "whole number"),
    ("qty", [1], "whole number"),
    ("price", "abc", "decimal"),
    ("price", "1.005", "decimal places"),
    ("price", 0.125, "decimal places"),
    ("price", "1000000", "too large"),
    ("price", "-1000000.00", "too large"),
    ("price", "NaN", "finite"),
    ("price", "Infinity", "finite"),
    ("price", "1e30", "too large"),
    ("price", "1e-30", "decimal places"),
    ("price", True, "decimal"),
    ("price", {"v": 1}, "decimal"),
    ("done", "true", "true or false"),
    ("done", 1, "true or false"),
    ("due", "2026-02-30", "date"),
    ("due", "31/01/2026", "date"),
    ("due", "2026-01-31T10:00:00", "date"),
    ("due", 20260131, "date"),
    ("at", "yesterday", "date and time"),
    ("at", "2026-13-01T00:00:00Z", "date and time"),
    ("at", 1700000000, "date and time"),
    ("color", "purple", "red, green, blue"),
    ("color", ["red"], "option"),
    ("color", 1, "option"),
    ("tags", "a", "list"),
    ("tags", ["a", "zz"], "zz"),
    ("tags", [1], "option"),
    ("mail", "not-an-email", "e-mail"),
    ("mail", "a@b", "e-mail"),
    ("mail", "a b@example.com", "e-mail"),
    ("tel", "call me", "phone"),
    ("tel", "12", "phone"),
    ("site", "example.com", "http"),
    ("site", "ftp://example.com", "http"),
    ("site", "javascript:alert(1)", "http"),
    ("site", "https://exa mple.com", "http"),
]


@pytest.mark.parametrize(("key", "value", "hint"), BAD, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(BAD)])
def test_bad_values_are_refused_with_a_helpful_message(api, key, value, hint):
    message = refused(api, key, value)
    assert hint.lower() in message.lower(), message


# ----------------------------------------------------------------- decimal


def test_decimals_are_exact_not_floats(api):
    url = publish_fresh(api, "types", EVERYTHING)
    a = create(api, url, price="0.10")
    b = create(api, url, price="0.20")
    assert (a["price"], b["price"]) == ("0.10", "0.20")
    listed = api.get(url, params={"sort": "price"}).json()["items"]
    assert [r["price"] for r in listed] == ["0.10", "0.20"]
    exact = api.get(url, params={"filter": '{"field": "price", "op": "eq", "value": "0.30"}'}).json()
    assert exact["items"] == []
    summed = create(api, url, price="0.30")
    hit = api.get(url, params={"filter": '{"field": "price", "op": "eq", "value": "0.3"}'}).json()
    assert [r["id"] for r in hit["items"]] == [summed["id"]]
    between = '{"field": "price", "op": "between", "value": ["0.11", "0.29"]}'
    assert [r["id"] for r in api.get(url, params={"filter": between}).json()["items"]] == [b["id"]]


def test_decimal_sent_as_a_json_number_is_kept_exact(api):
    response = api.post(URL, content=b'{"price": 0.10}', headers={"content-type": "application/json"})
    assert response.status_code == 201 and response.json()["price"] == "0.10"
    response = api.post(URL, content=b'{"price": 123456.78}', headers={"content-type": "application/json"})
    assert response.status_code == 201 and response.json()["price"] == "123456.78"


def test_decimal_largest_value_of_the_precision_fits_exactly(api):
    record = create(api, URL, price="999999.99")
    patched = api.patch(f"{URL}/{record['id']}", json={"price": "-0.01"}).json()
    assert patched["price"] == "-0.01"
    assert api.get(f"{URL}/{record['id']}").json()["price"] == "-0.01"


def test_huge_numbers_are_refused_quickly(api):
    for raw in (b'{"qty": 1e999999999}', b'{"price": 1e999999999}', b'{"qty": "1e999999999"}'):
        response = api.post(URL, content=raw, headers={"content-type": "application/json"})
        problem(response, 422)


# ---------------------------------------------------------------- datetime


def test_datetime_is_normalised_to_utc_and_written_with_z(api):
    record = create(api, URL, at="2026-03-01T00:30:00+09:00")
    assert record["at"] == "2026-02-28T15:30:00Z"
    window = '{"field": "at", "op": "between", "value": ["2026-02-28T15:00:00Z", "2026-02-28T16:00:00Z"]}'
    assert record["id"] in [r["id"] for r in api.get(URL, params={"filter": window}).json()["items"]]


def test_equal_moments_in_different_zones_are_equal(api):
    record = create(api, URL, at="2026-01-01T08:00:00+08:00")
    same = '{"field": "at", "op": "eq", "value": "2026-01-01T00:00:00Z"}'
    assert record["id"] in [r["id"] for r in api.get(URL, params={"filter": same}).json()["items"]]


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_datetimes_beyond_the_calendar_are_refused(api, value):
    refused(api, "at", value)


# ------------------------------------------------------------------- rules


def ruled(**values):
    return {"name": "Ann", "agree": True, **values}


def test_a_valid_ruled_record_is_accepted(api):
    record = create(
        api,
        RULED,
        **ruled(
            sku="AB-123",
            age=18,
            rate="0.50",
            starts="2024-12-31",
            meets="2024-06-01T12:00:00+08:00",
            note="0123456789",
            picks=["y", "x"],
        ),
    )
    assert record["sku"] == "AB-123" and record["picks"] == ["x", "y"] and record["rate"] == "0.50"


@pytest.mark.parametrize("missing", ["name", "agree"])
def test_required_fields_must_be_present(api, missing):
    values = ruled()
    del values[missing]
    body = problem(api.post(RULED, json=values), 422, missing)
    assert "required" in message_at(body, missing)


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_required_text_may_not_be_empty(api, empty):
    assert "required" in refused(api, "name", empty, url=RULED, agree=True)


def test_required_boolean_false_is_a_value(api):
    assert create(api, RULED, name="Ann", agree=False)["agree"] is False


@pytest.mark.parametrize(
    ("key", "value", "hint"),
    [
        ("age", 17, "at least 18"),
        ("age", 66, "at most 65"),
        ("rate", "0.49", "at least 0.50"),
        ("rate", "100.00", "at most 99.99"),
        ("starts", "2023-12-31", "at least 2024-01-01"),
        ("starts", "2025-01-01", "at most 2024-12-31"),
        ("meets", "2024-01-01T07:59:59+08:00", "at least"),
        ("meets", "2025-01-01T00:00:00Z", "at most"),
    ],
)
def test_min_and_max_are_enforced(api, key, value, hint):
    assert hint in refused(api, key, value, url=RULED, **ruled())


@pytest.mark.parametrize(("key", "value"), [("age", 65), ("rate", "99.99"), ("starts", "2024-01-01")])
def test_min_and_max_are_inclusive(api, key, value):
    assert create(api, RULED, **ruled(**{key: value}))[key] == value


@pytest.mark.parametrize(
    ("key", "value", "hint"),
    [
        ("name", "A", "at least 2"),
        ("name", "Annabel", "most allowed is 5"),
        ("note", "x" * 11, "most allowed is 10"),
    ],
)
def test_length_limits_are_enforced(api, key, value, hint):
    others = ruled()
    others.pop(key, None)
    assert hint in refused(api, key, value, url=RULED, **others)


def test_length_counts_characters_not_bytes(api):
    assert create(api, RULED, **ruled(name="张三李四王"))["name"] == "张三李四王"


@pytest.mark.parametrize("value", ["AB-12", "ab-123", "AB-1234", "XAB-123", "AB-123 X"])
def test_pattern_must_match_the_whole_value(api, value):
    assert "pattern" in refused(api, "sku", value, url=RULED, **ruled())


@pytest.mark.parametrize(("value", "hint"), [(["x"], "at least 2"), (["x", "y", "z", "w"], "at most 3")])
def test_multiselect_item_counts_are_enforced(api, value, hint):
    assert hint in refused(api, "picks", value, url=RULED, **ruled())


def test_an_empty_optional_multiselect_is_not_held_to_its_item_count(api):
    assert create(api, RULED, **ruled(picks=[]))["picks"] is None


def test_rules_apply_to_patches_too(api):
    record = create(api, RULED, **ruled(age=30))
    problem(api.patch(f"{RULED}/{record['id']}", json={"age": 70}), 422, "age")
    problem(api.patch(f"{RULED}/{record['id']}", json={"sku": "bad"}), 422, "sku")
    assert api.get(f"{RULED}/{record['id']}").json()["age"] == 30
