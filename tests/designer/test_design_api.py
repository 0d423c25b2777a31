"""The designer API: app documents, form drafts with their problems, publishing, versions."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from opsloom.platform.database import Database
from opsloom.platform.settings import Settings
from opsloom.runtime.forms import compile_form, initial_storage
from tests.builders import field, form, options, records_url

APP = "shop"
DESIGN = f"/api/design/apps/{APP}"
ORDER = form(
    "order",
    field("title", required=True, max_length=50),
    field("amount", "decimal", precision=12, scale=2, min=0),
    field("kind", "select", options=options("a", "b")),
    title_field="title",
)


def put_app(client: TestClient, app: str = APP, **extra: Any) -> None:
    response = client.put(f"/api/design/apps/{app}", json={"key": app, "label": app.title(), **extra})
    assert response.status_code == 200, response.text


def put_form(client: TestClient, document: dict[str, Any]) -> dict[str, Any]:
    response = client.put(f"{DESIGN}/forms/{document['key']}", json=document)
    assert response.status_code == 200, response.text
    return response.json()


def problems_of(client: TestClient, document: dict[str, Any]) -> dict[str, str]:
    """The draft's problems as {path: message}."""
    return {p["path"]: p["message"] for p in put_form(client, document)["problems"]}


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    return body


def error_paths(body: dict[str, Any]) -> list[str]:
    return [e["path"] for e in body.get("errors", [])]


def table_names(settings: Settings) -> set[str]:
    """The tables in the test database, read on a connection of its own."""

    async def read() -> set[str]:
        database = Database(settings.resolved_database_url)
        try:
            async with database.engine.connect() as connection:
                return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
        finally:
            await database.dispose()

    return asyncio.run(read())


# --- app documents ---------------------------------------------------------------------------


def test_app_document_with_translated_label_is_saved_and_read_back(client):
    label = {"zh-CN": "采购管理", "en": "Procurement"}
    saved = client.put(DESIGN, json={"key": APP, "label": label, "color": "#2f6fde"})
    assert saved.status_code == 200, saved.text
    got = client.get(DESIGN)
    assert got.status_code == 200
    assert got.json()["label"] == label


def test_app_document_without_key_takes_the_key_of_the_address(client):
    saved = client.put(DESIGN, json={"label": "Shop"})
    assert saved.status_code == 200, saved.text
    assert client.get(DESIGN).json()["key"] == APP


def test_app_document_with_a_malformed_key_is_refused_at_key(client):
    body = assert_problem(client.put(DESIGN, json={"key": "Shop Floor", "label": "Shop"}), 422)
    assert error_paths(body) == ["key"]
    assert_problem(client.get(DESIGN), 404)


def test_app_document_whose_key_differs_from_the_address_is_refused(client):
    body = assert_problem(client.put(DESIGN, json={"key": "other", "label": "Shop"}), 422)
    assert error_paths(body) == ["key"]
    assert APP in body["errors"][0]["message"]


def test_app_address_that_is_not_an_identifier_is_refused(client):
    body = assert_problem(client.put("/api/design/apps/Shop", json={"label": "Shop"}), 400)
    assert error_paths(body) == ["app"]


def test_app_document_with_a_bad_label_names_the_label(client):
    body = assert_problem(client.put(DESIGN, json={"key": APP, "label": {"Chinese": "采购"}}), 422)
    assert error_paths(body) == ["label"]


def test_app_document_with_unknown_property_is_refused(client):
    body = assert_problem(client.put(DESIGN, json={"key": APP, "label": "S", "colour": "red"}), 422)
    assert error_paths(body) == ["$"]
    assert "colour" in body["errors"][0]["message"]


# --- form drafts and their problems ------------------------------------------------------------


def test_clean_draft_has_no_problems_and_is_not_published(client):
    put_app(client)
    saved = put_form(client, ORDER)
    assert saved["problems"] == []
    assert saved["published_version"] is None
    assert saved["draft"]["fields"] == ORDER["fields"]
    again = put_form(client, ORDER)
    assert again["draft_revision"] == saved["draft_revision"] + 1


def test_unknown_field_type_is_reported_at_its_path(client):
    put_app(client)
    document = form("order", field("title"), field("price", "money"))
    problems = problems_of(client, document)
    assert "fields[1].type" in problems
    assert "money" in problems["fields[1].type"]


def test_duplicate_option_value_is_reported_at_the_second_option(client):
    put_app(client)
    document = form("order", field("kind", "select", options=options("a", "a", "b")))
    problems = problems_of(client, document)
    assert list(problems) == ["fields[0].options[1].value"]
    assert "twice" in problems["fields[0].options[1].value"]


@pytest.mark.parametrize("key", ["select", "order", "table"])
def test_sql_reserved_word_is_not_a_field_key(client, key):
    put_app(client)
    problems = problems_of(client, form("order", field("title"), field(key)))
    assert list(problems) == ["fields[1].key"]
    assert "reserved" in problems["fields[1].key"]


@pytest.mark.parametrize("key", ["id", "version", "status", "created_by", "deleted_at"])
def test_system_field_name_is_not_a_field_key(client, key):
    put_app(client)
    problems = problems_of(client, form("order", field(key), field("title")))
    assert list(problems) == ["fields[0].key"]
    assert "system" in problems["fields[0].key"]


def test_duplicate_field_keys_and_ids_are_reported(client):
    put_app(client)
    document = form("order", field("title"), field("title"), {**field("other"), "id": "fld_title"})
    problems = problems_of(client, document)
    assert "fields[1].key" in problems and "fields[0]" in problems["fields[1].key"]
    assert "fields[2].id" in problems


def test_title_field_must_be_a_field(client):
    put_app(client)
    problems = problems_of(client, form("order", field("title"), title_field="name"))
    assert list(problems) == ["title_field"]
    assert "'name'" in problems["title_field"]


def test_decimal_scale_cannot_exceed_precision(client):
    put_app(client)
    problems = problems_of(client, form("order", field("amount", "decimal", precision=4, scale=6)))
    assert list(problems) == ["fields[0].scale"]


def test_invalid_regular_expression_is_reported(client):
    put_app(client)
    problems = problems_of(client, form("order", field("code", pattern="([A-Z]+")))
    assert list(problems) == ["fields[0].pattern"]
    assert "regular expression" in problems["fields[0].pattern"]


@pytest.mark.parametrize(
    ("document_field", "why"),
    [
        (field("qty", "integer", default="many"), "not an integer"),
        (field("qty", "integer", min=1, default=0), "below min"),
        (field("day", "date", default="someday"), "not a date"),
        (field("kind", "select", options=options("a", "b"), default="c"), "not an option"),
        (field("code", max_length=3, default="ABCDEF"), "too long"),
    ],
)
def test_default_must_fit_the_field(client, document_field, why):
    put_app(client)
    problems = problems_of(client, form("order", field("title"), document_field))
    assert list(problems) == ["fields[1].default"], why


def test_min_larger_than_max_is_reported(client):
    put_app(client)
    problems = problems_of(client, form("order", field("qty", "integer", min=10, max=1)))
    assert list(problems) == ["fields[0].min"]


def test_layout_must_refer_to_fields(client):
    put_app(client)
    document = form("order", field("title"), layout={"sections": [{"fields": ["title", "nope"]}]})
    assert list(problems_of(client, document)) == ["layout.sections[0].fields[1]"]


def test_every_problem_is_reported_at_once(client):
    put_app(client)
    document = form("order", field("a", "money"), field("b", "colour"), field("c", "integer", min="x"))
    problems = problems_of(client, document)
    assert {"fields[0].type", "fields[1].type", "fields[2].min"} <= set(problems)


def test_form_key_in_body_must_match_the_address(client):
    put_app(client)
    body = assert_problem(client.put(f"{DESIGN}/forms/order", json={**ORDER, "key": "invoice"}), 422)
    assert error_paths(body) == ["key"]
    assert_problem(client.get(f"{DESIGN}/forms/order"), 404)
    assert_problem(client.get(f"{DESIGN}/forms/invoice"), 404)


def test_form_draft_must_be_a_json_object(client):
    put_app(client)
    body = assert_problem(client.put(f"{DESIGN}/forms/order", json=[1, 2]), 422)
    assert error_paths(body) == ["$"]


def test_malformed_json_is_a_clear_400(client):
    put_app(client)
    response = client.put(f"{DESIGN}/forms/order", content=b"{not json", headers={"content-type": "application/json"})
    assert_problem(response, 400)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "/api/design/apps/nowhere/forms/order"),
        ("get", "/api/design/apps/nowhere/forms/order"),
        ("get", "/api/design/apps/nowhere"),
        ("post", "/api/design/apps/nowhere/forms/order/publish"),
        ("get", "/api/design/apps/nowhere/forms/order/versions"),
        ("get", "/api/design/apps/nowhere/forms/order/versions/1"),
    ],
)
def test_unknown_app_is_404_problem(client, method, path):
    kwargs = {"json": ORDER} if method == "put" else {}
    body = assert_problem(getattr(client, method)(path, **kwargs), 404)
    assert "nowhere" in body["detail"]


def test_unknown_form_of_a_known_app_is_404_problem(client):
    put_app(client)
    body = assert_problem(client.post(f"{DESIGN}/forms/ghost/publish"), 404)
    assert "ghost" in body["detail"]
    assert_problem(client.get(f"{DESIGN}/forms/ghost/versions"), 404)


# --- publishing --------------------------------------------------------------------------------


def test_draft_with_problems_is_not_published_and_nothing_is_created(client, settings):
    put_app(client)
    broken = form("order", field("title"), field("price", "money"))
    put_form(client, broken)
    body = assert_problem(client.post(f"{DESIGN}/forms/order/publish"), 422)
    assert "fields[1].type" in error_paths(body)
    assert client.get(f"{DESIGN}/forms/order").json()["published_version"] is None
    assert client.get(f"{DESIGN}/forms/order/versions").json() == {"items": []}
    assert_problem(client.get(records_url(APP, "order")), 404)
    assert "shop__order" not in table_names(settings)


def test_dry_run_returns_the_plan_and_creates_nothing(client, settings):
    put_app(client)
    put_form(client, ORDER)
    response = client.post(f"{DESIGN}/forms/order/publish", params={"dry_run": "true"})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["dry_run"] is True and result["applied"] is False and result["version"] is None
    actions = [step["action"] for step in result["plan"]["steps"]]
    assert actions == ["create_table"]
    assert result["plan"]["summary"] and "shop__order" in result["plan"]["summary"][0]
    assert_problem(client.get(records_url(APP, "order")), 404)
    assert client.get(f"{DESIGN}/forms/order/versions").json() == {"items": []}
    assert "shop__order" not in table_names(settings)


def test_publish_creates_the_table_and_lists_the_version(client, settings):
    put_app(client)
    put_form(client, ORDER)
    published = client.post(f"{DESIGN}/forms/order/publish")
    assert published.status_code == 200, published.text
    assert published.json()["applied"] is True and published.json()["version"] == 1
    assert "shop__order" in table_names(settings)

    created = client.post(records_url(APP, "order"), json={"title": "Desk", "amount": "10.50"})
    assert created.status_code == 201, created.text
    listed = client.get(records_url(APP, "order")).json()
    assert [r["title"] for r in listed["items"]] == ["Desk"]

    versions = client.get(f"{DESIGN}/forms/order/versions").json()["items"]
    assert [v["version"] for v in versions] == [1]
    assert versions[0]["published_at"].endswith("Z") or "+" in versions[0]["published_at"]
    assert versions[0]["summary"]
    assert client.get(f"{DESIGN}/forms/order").json()["published_version"] == 1

    one = client.get(f"{DESIGN}/forms/order/versions/1")
    assert one.status_code == 200
    assert one.json() == {"version": 1, "document": ORDER}
    assert_problem(client.get(f"{DESIGN}/forms/order/versions/2"), 404)


def test_publishing_an_unchanged_draft_again_makes_no_new_version(client):
    put_app(client)
    put_form(client, ORDER)
    assert client.post(f"{DESIGN}/forms/order/publish").json()["version"] == 1
    put_form(client, ORDER)  # saved again, same content
    again = client.post(f"{DESIGN}/forms/order/publish")
    assert again.status_code == 200, again.text
    assert again.json()["applied"] is False and again.json()["version"] == 1
    assert again.json()["plan"]["steps"] == []
    assert [v["version"] for v in client.get(f"{DESIGN}/forms/order/versions").json()["items"]] == [1]
    assert client.post(records_url(APP, "order"), json={"title": "Still works"}).status_code == 201


def test_published_version_is_immutable_while_the_draft_changes(client):
    put_app(client)
    put_form(client, ORDER)
    client.post(f"{DESIGN}/forms/order/publish")
    changed = {**ORDER, "label": "Orders"}
    assert put_form(client, changed)["draft"]["label"] == "Orders"
    assert client.get(f"{DESIGN}/forms/order/versions/1").json()["document"]["label"] == "Order"
    created = client.post(records_url(APP, "order"), json={"title": "Chair"})
    assert created.status_code == 201, created.text


def test_failed_publish_leaves_nothing_half_written(client, settings):
    """The table is created, then the publish fails: the table, version and state roll back."""
    put_app(client)
    put_form(client, ORDER)
    storage = initial_storage(APP, ORDER)
    compiled = compile_form(APP, ORDER, form_id=0, version=0, storage=storage)
    index_name = sorted(index.name for index in compiled.table.indexes)[0]

    async def run(*statements: str) -> None:
        database = Database(settings.resolved_database_url)
        try:
            async with database.engine.begin() as connection:
                for statement in statements:
                    await connection.execute(text(statement))
        finally:
            await database.dispose()

    # Another object already holds the name of one of the form's indexes, so the publish
    # fails after CREATE TABLE, inside its transaction.
    asyncio.run(run("CREATE TABLE blocker (x INTEGER)", f'CREATE INDEX "{index_name}" ON blocker (x)'))
    failed = client.post(f"{DESIGN}/forms/order/publish")
    assert failed.status_code >= 400, failed.text
    assert failed.headers["content-type"].startswith("application/problem+json")
    assert storage["table"] not in table_names(settings)
    state = client.get(f"{DESIGN}/forms/order").json()
    assert state["published_version"] is None and state["draft"] == ORDER
    assert client.get(f"{DESIGN}/forms/order/versions").json() == {"items": []}
    assert_problem(client.get(records_url(APP, "order")), 404)

    asyncio.run(run("DROP TABLE blocker"))
    retried = client.post(f"{DESIGN}/forms/order/publish")
    assert retried.status_code == 200, retried.text
    assert retried.json()["version"] == 1
    assert client.post(records_url(APP, "order"), json={"title": "Desk"}).status_code == 201


def test_forms_whose_table_names_collide_are_refused_without_side_effects(client, settings):
    """`a__b` + `c` and `a` + `b__c` would share the table a__b__c; the second is refused."""
    put_app(client, "a__b")
    put_app(client, "a")
    first = form("c", field("title"))
    second = form("b__c", field("name"))
    assert client.put("/api/design/apps/a__b/forms/c", json=first).status_code == 200
    assert client.post("/api/design/apps/a__b/forms/c/publish").status_code == 200
    assert client.put("/api/design/apps/a/forms/b__c", json=second).status_code == 200
    body = assert_problem(client.post("/api/design/apps/a/forms/b__c/publish"), 409)
    assert "a__b__c" in body["detail"]
    assert client.get("/api/design/apps/a/forms/b__c/versions").json() == {"items": []}
    assert client.post(records_url("a__b", "c"), json={"title": "kept"}).status_code == 201
