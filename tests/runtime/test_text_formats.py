"""A text field's `format`: mainland mobile numbers, resident ID numbers (check character and date
of birth) and postcodes, checked over HTTP with a message that says what is wrong."""

from __future__ import annotations

import pytest

from opsloom.runtime.fields.text_formats import id_card_check_character
from tests.builders import admin_client, create, field, form, message_at, problem, publish_app, records_url
from tests.conftest import DATABASES
from tests.runtime.field_checks import draft_problems, field_schema

APP = "people"
PERSON = form(
    "person",
    field("name"),
    field("mobile", format="mobile_cn"),
    field("id_card", format="id_card_cn"),
    field("postcode", format="postcode_cn"),
    field("code", format="postcode_cn", pattern="1.*"),
)
URL = records_url(APP, "person")


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("formats")) as client:
        publish_app(client, APP, PERSON)
        yield client


@pytest.mark.parametrize(
    ("key", "sent", "stored"),
    [
        ("mobile", "13800138000", "13800138000"),
        ("mobile", " 19912345678 ", "19912345678"),
        ("id_card", "11010519491231002X", "11010519491231002X"),
        ("id_card", "11010519491231002x", "11010519491231002X"),
        ("id_card", "440305200002291232", "440305200002291232"),  # born on a leap day
        ("postcode", "100080", "100080"),
        ("code", "100080", "100080"),
        ("mobile", "", None),
    ],
)
def test_values_of_the_format_are_kept(api, key, sent, stored):
    assert create(api, URL, **{key: sent})[key] == stored


@pytest.mark.parametrize(
    ("key", "sent", "hint"),
    [
        ("mobile", "1380013800", "11 digits"),
        ("mobile", "138001380001", "11 digits"),
        ("mobile", "12800138000", "13 to 19"),
        ("mobile", "+8613800138000", "11 digits"),
        ("mobile", "138 0013 8000", "11 digits"),
        ("id_card", "110105194912310021", "check character"),
        ("id_card", "11010519491231002", "18 characters"),
        ("id_card", "01010519491231002X", "18 characters"),
        ("id_card", "110105194902300027", "19490230 is not a date of birth"),
        ("id_card", "110105180001010020", "18000101 is not a date of birth"),
        ("postcode", "10008", "6 digits"),
        ("postcode", "1000800", "6 digits"),
        ("postcode", "10008A", "6 digits"),
        ("code", "200080", "pattern"),
    ],
)
def test_values_out_of_the_format_are_a_422_saying_why(api, key, sent, hint):
    body = problem(api.post(URL, json={key: sent}), 422, key)
    assert hint in message_at(body, key)


def test_a_check_character_is_computed_as_the_standard_says():
    # GB 11643-1999's own example; the check of 11010519491231002 is X
    assert id_card_check_character("11010519491231002") == "X"
    assert id_card_check_character("44052418800101001") == "4"


def test_openapi_states_the_format(api):
    mobile = field_schema(api, APP, "Person", "mobile")
    assert mobile["pattern"] == "^1[3-9][0-9]{9}$" and "mobile" in mobile["description"]
    both = field_schema(api, APP, "Person", "code", write=True)
    assert both["pattern"] == "^(?:1.*)$" and both["allOf"][0]["pattern"] == "^[0-9]{6}$"


def test_the_designer_knows_the_formats_and_only_text_takes_one(api):
    assert "fields[0].format" in draft_problems(api, APP, form("bad", field("x", format="passport_xx")))
    assert "fields[0]" in draft_problems(api, APP, form("mail", field("x", "email", format="mobile_cn")))
    assert "fields[0]" in draft_problems(api, APP, form("notes", field("x", "textarea", format="postcode_cn")))
    default = form("dflt", field("x", format="mobile_cn", default="12345"))
    assert "11 digits" in draft_problems(api, APP, default)["fields[0].default"]
