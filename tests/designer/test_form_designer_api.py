"""The designer API the form designer page relies on: drafts saved only over the revision one read
(If-Match), formulas checked against the draft as they are typed, and layouts in rows with widths."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.builders import field, form, options
from tests.designer.test_design_api import DESIGN, assert_problem, error_paths, problems_of, put_app, put_form

ORDER = form(
    "order",
    field("title", required=True),
    field("qty", "integer"),
    field("price", "decimal", precision=12, scale=2),
    field("kind", "select", options=options("a", "b")),
    field("items", "subform", fields=[field("item"), field("count", "integer"), field("cost", "decimal")]),
    title_field="title",
)
URL = f"{DESIGN}/forms/order"


def test_a_draft_saved_over_the_revision_one_read_is_stored_and_tells_the_next(client: TestClient) -> None:
    put_app(client)
    first = put_form(client, ORDER)
    response = client.put(URL, json={**ORDER, "label": "Orders"}, headers={"If-Match": f'"{first["draft_revision"]}"'})
    assert response.status_code == 200, response.text
    assert response.json()["draft_revision"] == first["draft_revision"] + 1
    assert response.headers["ETag"] == f'"{first["draft_revision"] + 1}"'
    assert client.get(URL).headers["ETag"] == response.headers["ETag"]


def test_a_draft_saved_over_a_stale_revision_is_refused_and_keeps_the_other_save(client: TestClient) -> None:
    put_app(client)
    read = put_form(client, ORDER)["draft_revision"]
    put_form(client, {**ORDER, "label": "Someone else's"})  # another designer saves meanwhile
    stale = client.put(URL, json={**ORDER, "label": "Mine"}, headers={"If-Match": f'"{read}"'})
    body = assert_problem(stale, 412)
    assert "Someone else saved this form" in body["detail"]
    assert client.get(URL).json()["draft"]["label"] == "Someone else's"
    without = client.put(URL, json={**ORDER, "label": "Mine"})  # no If-Match: the old behaviour, last save wins
    assert without.status_code == 200 and without.json()["draft"]["label"] == "Mine"


def test_an_if_match_that_is_not_a_revision_is_a_bad_request(client: TestClient) -> None:
    put_app(client)
    put_form(client, ORDER)
    body = assert_problem(client.put(URL, json=ORDER, headers={"If-Match": "yesterday"}), 400)
    assert error_paths(body) == ["If-Match"]


def test_if_match_on_a_form_not_yet_saved_expects_no_revision(client: TestClient) -> None:
    put_app(client)
    assert_problem(client.put(URL, json=ORDER, headers={"If-Match": '"3"'}), 412)
    assert client.put(URL, json=ORDER, headers={"If-Match": '"0"'}).status_code == 200


def check(client: TestClient, formula: str, **extra: object) -> dict[str, object]:
    response = client.post(f"{URL}/formula-check", json={"formula": formula, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def test_a_formula_is_checked_against_the_saved_draft(client: TestClient) -> None:
    put_app(client)
    put_form(client, ORDER)
    assert check(client, "qty * price") == {"valid": True, "type": "number"}
    assert check(client, "SUM(items.cost)")["type"] == "number"
    assert check(client, 'CONCAT(title, "-", kind)')["type"] == "text"
    wrong = check(client, "qty * nope")
    assert wrong["valid"] is False and wrong["column"] == 7 and "'nope' is not a field" in str(wrong["message"])
    unclosed = check(client, "SUM(qty")
    assert unclosed["valid"] is False and isinstance(unclosed["column"], int)
    assert check(client, "FOO(1)")["valid"] is False


def test_a_formula_may_not_read_its_own_field_and_a_row_formula_reads_its_row(client: TestClient) -> None:
    put_app(client)
    put_form(client, ORDER)
    assert check(client, "qty + 1", field="qty")["valid"] is False
    assert check(client, "count * cost", subform="items", field="line") == {"valid": True, "type": "number"}
    assert check(client, "count * price", subform="items")["valid"] is False


def test_a_formula_is_checked_against_an_unsaved_draft_when_given(client: TestClient) -> None:
    put_app(client)
    put_form(client, ORDER)
    edited = {**ORDER, "fields": [*ORDER["fields"], field("discount", "decimal")]}
    assert check(client, "price - discount")["valid"] is False
    assert check(client, "price - discount", document=edited) == {"valid": True, "type": "number"}


def test_a_formula_check_without_a_formula_is_a_bad_request(client: TestClient) -> None:
    put_app(client)
    put_form(client, ORDER)
    body = assert_problem(client.post(f"{URL}/formula-check", json={"formula": 3}), 400)
    assert error_paths(body) == ["formula"]


def test_rows_with_widths_are_a_valid_layout_and_name_real_fields(client: TestClient) -> None:
    put_app(client)
    rows = {
        "sections": [
            {"title": "Main", "rows": [[{"field": "title", "width": "1/2"}, {"field": "qty", "width": "1/2"}]]},
            {"tab": "More", "rows": [[{"field": "price"}], [{"field": "kind", "width": "1/3"}]]},
        ]
    }
    assert problems_of(client, {**ORDER, "layout": rows}) == {}
    odd_width = {"sections": [{"rows": [[{"field": "title", "width": "2/5"}]]}]}
    assert set(problems_of(client, {**ORDER, "layout": odd_width})) == {"layout.sections[0].rows[0][0].width"}
    unknown = {"sections": [{"rows": [[{"field": "nope"}]]}]}
    assert "not a field" in problems_of(client, {**ORDER, "layout": unknown})["layout.sections[0].rows[0][0].field"]
    twice = {"sections": [{"rows": [[{"field": "title"}, {"field": "title"}]]}]}
    assert "placed twice" in problems_of(client, {**ORDER, "layout": twice})["layout.sections[0].rows[0][1].field"]
    old = {"sections": [{"title": "Main", "columns": 2, "fields": ["title", "qty"]}]}
    assert problems_of(client, {**ORDER, "layout": old}) == {}
