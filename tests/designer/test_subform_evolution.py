"""Changing a published form with subforms never loses a row: child tables evolve like forms do."""

from __future__ import annotations

import copy
import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import inspect

from tests.builders import create, field, form, message_at, problem, publish_app, records_url

APP = "evo"
URL = records_url(APP, "order")
DESIGN = f"/api/design/apps/{APP}/forms/order"
ROWS_TABLE = "evo__order__items"


def row_fields() -> list[dict[str, Any]]:
    return [
        field("item", required=True),
        field("qty", "integer"),
        field("price", "decimal", precision=14, scale=2),
        field("line_total", "formula", formula="qty * price"),
    ]


def items(*fields: dict[str, Any], key: str = "items", id: str = "fld_items", **rules: Any) -> dict[str, Any]:
    return {"id": id, "key": key, "type": "subform", "label": "Items", "fields": list(fields) or row_fields(), **rules}


def order_form(*fields: dict[str, Any]) -> dict[str, Any]:
    """The order form; by default: title, items (item, qty, price, line_total), amount."""
    chosen = fields or (items(), field("amount", "formula", formula="SUM(items.line_total)"))
    return form("order", field("title", required=True), *chosen, title_field="title")


def save(client: TestClient, document: dict[str, Any]) -> dict[str, Any]:
    response = client.put(DESIGN, json=document)
    assert response.status_code == 200, response.text
    return response.json()


def publish(client: TestClient, body: dict[str, Any] | None = None, dry_run: bool = False) -> Any:
    suffix = "?dry_run=true" if dry_run else ""
    return client.post(f"{DESIGN}/publish{suffix}", json=body) if body else client.post(f"{DESIGN}/publish{suffix}")


def published(client: TestClient, document: dict[str, Any], body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Save `document` and publish it; the plan."""
    save(client, document)
    response = publish(client, body)
    assert response.status_code == 200, response.text
    return response.json()["plan"]


def actions(plan: dict[str, Any]) -> list[str]:
    return [step["action"] for step in plan["steps"]]


def columns_of(client: TestClient) -> dict[str, list[str]]:
    """Every table of the database with its column names, as the database has them."""

    async def run() -> dict[str, list[str]]:
        async with client.app.state.db.session() as session:
            connection = await session.connection()

            def read(sync: Any) -> dict[str, list[str]]:
                found = inspect(sync)
                return {name: [c["name"] for c in found.get_columns(name)] for name in found.get_table_names()}

            return await connection.run_sync(read)

    return client.portal.call(run)


def line(item: str, qty: int | None = 1, price: str | None = "1.00") -> dict[str, Any]:
    return {"item": item, "qty": qty, "price": price}


def row_fields_of(document: dict[str, Any], key: str = "items") -> list[dict[str, Any]]:
    return next(f for f in document["fields"] if f["key"] == key)["fields"]


# ------------------------------------------------------- tables and subforms


def test_publishing_a_form_with_a_subform_creates_its_child_table(client):
    publish_app(client, APP, order_form())
    tables = columns_of(client)
    assert "items" not in tables["evo__order"] and "amount" in tables["evo__order"]
    assert tables[ROWS_TABLE] == ["id", "parent_id", "position", "item", "qty", "price", "line_total"]
    record = create(client, URL, title="a", items=[line("desk", 2, "10.50")])
    assert record["amount"] == "21.00"


def test_a_subform_added_later_gets_a_table_and_old_records_no_rows(client):
    publish_app(client, APP, order_form(field("note")))
    old = create(client, URL, title="old", note="n")
    plan = published(client, order_form(field("note"), items(), field("amount", "formula", formula="SUM(items.qty)")))
    assert actions(plan) == ["create_child_table", "add_column", "recompute_formulas"]
    assert plan["steps"][0]["table"] == ROWS_TABLE
    assert ROWS_TABLE in columns_of(client)
    record = client.get(f"{URL}/{old['id']}").json()
    assert record["items"] == [] and record["amount"] == "0.00" and record["note"] == "n"
    changed = client.patch(f"{URL}/{old['id']}", json={"items": [line("desk", 4)]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["amount"] == "4.00"


def test_renaming_the_subform_keeps_its_rows_and_its_table(client):
    publish_app(client, APP, order_form())
    record = create(client, URL, title="a", items=[line("desk", 2, "10.50"), line("pen", 3)])
    renamed = order_form(items(key="lines"), field("amount", "formula", formula="SUM(lines.line_total)"))
    plan = published(client, renamed)
    assert {"change": "renamed", "key": "lines", "before": "items", "after": "lines"}.items() <= plan["changes"][
        0
    ].items()
    assert "create_child_table" not in actions(plan) and "archive_subform" not in actions(plan)
    after = client.get(f"{URL}/{record['id']}").json()
    assert "items" not in after and after["lines"] == record["items"] and after["amount"] == "24.00"
    assert ROWS_TABLE in columns_of(client)  # the table keeps its name; only the key changed
    problem(client.patch(f"{URL}/{record['id']}", json={"items": []}), 422, "items")
    first = after["lines"][0]["id"]
    changed = client.patch(f"{URL}/{record['id']}", json={"lines": [{"id": first, "qty": 1}]}).json()
    assert changed["lines"][0]["id"] == first and changed["amount"] == "10.50"
    count = json.dumps({"field": "lines", "agg": "count", "op": "eq", "value": 1})
    assert [r["id"] for r in client.get(URL, params={"filter": count}).json()["items"]] == [record["id"]]


def test_row_fields_are_added_renamed_removed_and_restored(client):
    publish_app(client, APP, order_form())
    record = create(client, URL, title="a", items=[line("desk", 2, "10.50")])
    url, row = f"{URL}/{record['id']}", record["items"][0]["id"]
    document = order_form()
    row_fields_of(document).append(field("note", max_length=40))
    plan = published(client, document)
    assert actions(plan)[0] == "add_column"
    assert plan["steps"][0]["subform"] == "fld_items" and "rows of items" in plan["summary"][0]
    assert "note" in columns_of(client)[ROWS_TABLE]
    assert client.get(url).json()["items"][0]["note"] is None
    client.patch(url, json={"items": [{"id": row, "note": "oak"}]})

    renamed = copy.deepcopy(document)
    rows = row_fields_of(renamed)
    rows[1]["key"], rows[3]["formula"] = "quantity", "quantity * price"
    plan = published(client, renamed)
    assert "rename_column" in actions(plan)
    assert {"change": "renamed", "key": "items.quantity"}.items() <= plan["changes"][0].items()
    assert client.get(url).json()["items"] == [
        {"id": row, "item": "desk", "quantity": 2, "price": "10.50", "line_total": "21.00", "note": "oak"}
    ]

    removed = copy.deepcopy(renamed)
    row_fields_of(removed).pop()
    plan = published(client, removed)
    assert actions(plan)[0] == "archive_column"
    assert "note" not in client.get(url).json()["items"][0]
    problem(client.patch(url, json={"items": [{"id": row, "note": "x"}]}), 422, "items[0].note")
    problem(client.post(URL, json={"title": "b", "items": [{"item": "x", "note": "x"}]}), 422, "items[0].note")
    assert "note" not in columns_of(client)[ROWS_TABLE]

    plan = published(client, renamed)
    assert actions(plan)[0] == "restore_column"
    assert client.get(url).json()["items"][0]["note"] == "oak"
    assert client.get(url).json()["version"] == 2  # publishing never touched the record itself


def test_retyping_a_row_field_is_blocked_with_row_ids_and_values_until_resolved(client):
    publish_app(client, APP, order_form())
    record = create(client, URL, title="a", items=[line("desk", 2, "10.50"), line("pen", 3, "2.00")])
    desk, pen = (r["id"] for r in record["items"])
    retyped = order_form()
    row_fields_of(retyped)[2] = field("price", "integer")
    save(client, retyped)
    dry = publish(client, dry_run=True).json()["plan"]
    assert dry["can_apply"] is False
    (blocker,) = dry["blockers"]
    assert blocker["field"] == "items.price" and blocker["count"] == 1
    assert [(r["id"], r["value"]) for r in blocker["records"]] == [(desk, "10.50")]
    assert '"items.price"' in blocker["how_to_fix"]
    refused = problem(publish(client), 409, "fields.items.price")
    assert refused["plan"]["blockers"] == dry["blockers"]
    assert client.get(f"{URL}/{record['id']}").json() == record  # nothing changed
    problem(publish(client, {"resolutions": {"items.nope": {"on_invalid": "set_empty"}}}), 400)
    done = publish(client, {"resolutions": {"items.price": {"on_invalid": "set_empty"}}})
    assert done.status_code == 200, done.text
    assert actions(done.json()["plan"]) == ["convert_column", "recompute_formulas", "recompute_formulas"]
    after = client.get(f"{URL}/{record['id']}").json()
    assert [(r["id"], r["price"], r["line_total"]) for r in after["items"]] == [(desk, None, None), (pen, 2, "6.00")]
    assert after["amount"] == "6.00"  # the total follows its rows
    assert client.post(URL, json={"title": "b", "items": [line("x", 1, "1.5")]}).status_code == 422


def test_retyped_row_values_can_be_given_a_value_instead(client):
    publish_app(client, APP, order_form())
    record = create(client, URL, title="a", items=[line("desk", 2, "10.50")])
    retyped = order_form()
    row_fields_of(retyped)[2] = field("price", "integer")
    published(client, retyped, {"resolutions": {"items.price": {"on_invalid": "set_value", "value": 7}}})
    after = client.get(f"{URL}/{record['id']}").json()
    assert after["items"][0]["price"] == 7 and after["amount"] == "14.00"


def test_a_row_field_becoming_required_is_blocked_by_empty_rows_until_filled(client):
    publish_app(client, APP, order_form())
    record = create(client, URL, title="a", items=[line("desk", None, "10.00"), line("pen", 2, "1.00")])
    empty = record["items"][0]["id"]
    required = order_form()
    row_fields_of(required)[1]["required"] = True
    save(client, required)
    refused = problem(publish(client), 409, "fields.items.qty")
    (blocker,) = refused["plan"]["blockers"]
    assert blocker["field"] == "items.qty" and blocker["records"] == [empty]
    assert '"items.qty"' in blocker["how_to_fix"]
    done = publish(client, {"resolutions": {"items.qty": {"fill_empty": 3}}})
    assert done.status_code == 200, done.text
    after = client.get(f"{URL}/{record['id']}").json()
    assert [(r["qty"], r["line_total"]) for r in after["items"]] == [(3, "30.00"), (2, "2.00")]
    assert after["amount"] == "32.00"
    problem(client.post(URL, json={"title": "b", "items": [{"item": "x"}]}), 422, "items[0].qty")


def test_a_subform_becoming_required_is_blocked_by_records_without_rows(client):
    publish_app(client, APP, order_form())
    bare = create(client, URL, title="no rows")
    create(client, URL, title="rows", items=[line("desk", 1, "10.00")])
    deleted = create(client, URL, title="deleted, no rows")
    assert client.delete(f"{URL}/{deleted['id']}").status_code == 204
    required = order_form(items(required=True), field("amount", "formula", formula="SUM(items.line_total)"))
    save(client, required)
    refused = problem(publish(client), 409, "fields.items")
    (blocker,) = refused["plan"]["blockers"]
    assert blocker["records"] == [bare["id"]] and blocker["count"] == 1
    assert client.patch(f"{URL}/{bare['id']}", json={"items": [line("pen", 1, "1.00")]}).status_code == 200
    assert publish(client).status_code == 200


def test_the_diff_shows_changes_to_row_fields(client):
    publish_app(client, APP, order_form())
    changed = order_form()
    row_fields_of(changed)[1]["key"] = "quantity"
    row_fields_of(changed)[3]["formula"] = "quantity * price"
    row_fields_of(changed).append(field("note"))
    save(client, changed)
    diff = client.get(f"{DESIGN}/diff", params={"to": "draft"}).json()["changes"]
    assert {(c["change"], c["key"]) for c in diff} >= {
        ("renamed", "items.quantity"),
        ("added", "items.note"),
        ("formula_changed", "items.line_total"),
    }


def test_removing_a_subform_archives_its_rows_and_publishing_it_back_restores_them(client):
    publish_app(client, APP, order_form())
    record = create(client, URL, title="a", items=[line("desk", 2, "10.50"), line("pen", 3)])
    without = order_form(field("amount", "formula", formula="1"))
    plan = published(client, without)
    assert actions(plan) == ["archive_subform", "recompute_formulas"]
    assert ROWS_TABLE in columns_of(client)  # kept, with its rows
    after = client.get(f"{URL}/{record['id']}").json()
    assert "items" not in after and after["amount"] == "1.00"
    problem(client.post(URL, json={"title": "b", "items": [line("x")]}), 422, "items")
    problem(
        client.get(URL, params={"filter": json.dumps({"field": "items", "agg": "count", "op": "gt", "value": 0})}), 400
    )
    assert [f["key"] for f in client.get(DESIGN).json()["archived_fields"]] == ["items"]
    newer = create(client, URL, title="while archived")

    plan = published(client, order_form())
    assert actions(plan) == ["restore_subform", "recompute_formulas"]
    back = client.get(f"{URL}/{record['id']}").json()
    assert back["items"] == record["items"] and back["amount"] == "24.00"
    assert client.get(f"{URL}/{newer['id']}").json()["items"] == []
    assert client.get(DESIGN).json()["archived_fields"] == []


def test_rolling_back_past_a_subform_archives_it_and_rolling_forward_restores_it(client):
    publish_app(client, APP, order_form(field("note")))
    published(client, order_form(field("note"), items(), field("amount", "formula", formula="SUM(items.qty)")))
    record = create(client, URL, title="a", items=[line("desk", 5)])
    rolled = client.post(f"{DESIGN}/rollback", json={"version": 1})
    assert rolled.status_code == 200, rolled.text
    assert "items" not in client.get(f"{URL}/{record['id']}").json()
    forward = client.post(f"{DESIGN}/rollback", json={"version": 2})
    assert forward.status_code == 200, forward.text
    back = client.get(f"{URL}/{record['id']}").json()
    assert back["items"] == record["items"] and back["amount"] == "5.00"


def test_a_new_subform_named_like_an_archived_one_gets_another_table(client):
    publish_app(client, APP, order_form())
    record = create(client, URL, title="a", items=[line("desk", 2, "10.50")])
    published(client, order_form(field("amount", "formula", formula="1")))
    fresh = items(field("what"), field("how_many", "integer"), id="fld_items_2")
    plan = published(client, order_form(fresh, field("amount", "formula", formula="SUM(items.how_many)")))
    assert actions(plan)[0] == "create_child_table"
    assert plan["steps"][0]["table"] == f"{ROWS_TABLE}_2"
    tables = columns_of(client)
    assert tables[f"{ROWS_TABLE}_2"] == ["id", "parent_id", "position", "what", "how_many"]
    assert "item" in tables[ROWS_TABLE]  # the archived rows are untouched
    assert client.get(f"{URL}/{record['id']}").json()["items"] == []
    other = create(client, URL, title="b", items=[{"what": "x", "how_many": 4}])
    assert other["amount"] == "4.00"
    # the archived subform comes back under a new key, with its own rows, next to the new one
    both = order_form(
        fresh,
        items(key="old_items"),
        field("amount", "formula", formula="SUM(items.how_many) + SUM(old_items.line_total)"),
    )
    plan = published(client, both)
    assert "restore_subform" in actions(plan)
    back = client.get(f"{URL}/{record['id']}").json()
    assert back["old_items"] == record["items"] and back["items"] == [] and back["amount"] == "21.00"
    again = client.get(f"{URL}/{other['id']}").json()
    assert again["old_items"] == [] and again["items"] == other["items"] and again["amount"] == "4.00"


def test_totals_over_rows_are_recomputed_when_a_row_formula_changes(client):
    publish_app(client, APP, order_form())
    record = create(client, URL, title="a", items=[line("desk", 2, "10.50"), line("pen", 3)])
    deleted = create(client, URL, title="gone", items=[line("x", 1, "5.00")])
    client.delete(f"{URL}/{deleted['id']}")
    doubled = order_form()
    row_fields_of(doubled)[3]["formula"] = "qty * price * 2"
    plan = published(client, doubled)
    assert actions(plan) == ["recompute_formulas", "recompute_formulas"]
    assert plan["steps"][0]["subform"] == "fld_items" and "subform" not in plan["steps"][1]
    after = client.get(f"{URL}/{record['id']}").json()
    assert [r["line_total"] for r in after["items"]] == ["42.00", "6.00"] and after["amount"] == "48.00"
    assert after["version"] == record["version"]
    client.post(f"{URL}/{deleted['id']}/restore")
    assert client.get(f"{URL}/{deleted['id']}").json()["amount"] == "10.00"  # deleted ones too
    largest = order_form(items(*row_fields_of(doubled)), field("amount", "formula", formula="MAX(items.line_total)"))
    plan = published(client, largest)
    assert actions(plan) == ["recompute_formulas"]
    assert client.get(f"{URL}/{record['id']}").json()["amount"] == "42.00"


def test_a_dry_run_shows_the_steps_and_changes_nothing(client):
    publish_app(client, APP, order_form())
    record = create(client, URL, title="a", items=[line("desk", 2, "10.50")])
    before_tables = columns_of(client)
    changed = order_form(items(key="lines"), field("amount", "formula", formula="SUM(lines.line_total) * 2"))
    rows = row_fields_of(changed, "lines")
    rows[1]["key"], rows[3]["formula"] = "quantity", "quantity * price"
    rows.append(field("note"))
    save(client, changed)
    response = publish(client, dry_run=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dry_run"] is True and body["applied"] is False and body["plan"]["can_apply"] is True
    assert actions(body["plan"]) == ["rename_column", "add_column", "recompute_formulas", "recompute_formulas"]
    assert all("lines" in text for text in body["plan"]["summary"][:3])
    assert columns_of(client) == before_tables
    assert client.get(f"{URL}/{record['id']}").json() == record
    assert [v["version"] for v in client.get(f"{DESIGN}/versions").json()["items"]] == [1]
    applied = publish(client).json()
    assert applied["plan"]["summary"] == body["plan"]["summary"] and applied["version"] == 2
    after = client.get(f"{URL}/{record['id']}").json()
    assert after["lines"][0]["quantity"] == 2 and after["lines"][0]["note"] is None and after["amount"] == "42.00"


def test_a_field_cannot_change_between_subform_and_another_type(client):
    publish_app(client, APP, order_form(items(), field("note"), field("amount", "formula", formula="SUM(items.qty)")))
    record = create(client, URL, title="a", note="n", items=[line("desk", 2)])
    to_text = order_form(field("items"), field("note"), field("amount", "formula", formula="1"))
    save(client, to_text)
    body = problem(publish(client), 409, "fields.items")
    assert "subform" in message_at(body, "fields.items")
    to_rows = order_form(
        items(), items(field("line"), key="note", id="fld_note"), field("amount", "formula", formula="1")
    )
    save(client, to_rows)
    problem(publish(client), 409, "fields.note")
    assert client.get(f"{URL}/{record['id']}").json() == record
    assert [v["version"] for v in client.get(f"{DESIGN}/versions").json()["items"]] == [1]


# ----------------------------------------------------------- semantic checks


def refused_paths(client: TestClient, document: dict[str, Any]) -> dict[str, str]:
    """The problems a draft shows, and the same refusal on publish: path -> message."""
    client.put(f"/api/design/apps/{APP}", json={"key": APP, "label": "Evo"})
    draft = save(client, document)
    body = problem(publish(client), 422)
    paths = {e["path"]: e["message"] for e in body["errors"]}
    assert {p["path"] for p in draft["problems"]} == set(paths)
    return paths


def test_rows_hold_no_subform_autonumber_attachment_or_unique_field(client):
    inner = items(field("x"), key="parts", id="fld_parts")
    document = order_form(
        items(
            field("item", unique=True),
            field("qty", "integer"),
            inner,
            field("no", "autonumber", pattern="L-{seq:3}"),
            field("scan", "attachment"),
        ),
    )
    errors = refused_paths(client, document)
    assert set(errors) == {
        "fields[1].fields[0].unique",
        "fields[1].fields[2].type",
        "fields[1].fields[3].type",
        "fields[1].fields[4].type",
    }, errors
    assert "another subform" in errors["fields[1].fields[2].type"]


def test_field_ids_are_unique_across_the_form_and_its_rows(client):
    document = order_form(
        items(field("item"), {**field("qty", "integer"), "id": "fld_title"}, {**field("other"), "id": "fld_item"}),
        items(field("x"), key="more", id="fld_more"),
    )
    document["fields"][2]["fields"][0]["id"] = "fld_item"  # a row field of another subform
    errors = refused_paths(client, document)
    assert "fields[1].fields[1].id" in errors and "fields[0]" in errors["fields[1].fields[1].id"]
    assert "fields[1].fields[2].id" in errors
    assert "fields[2].fields[0].id" in errors and "fields[1].fields[0]" in errors["fields[2].fields[0].id"]


def test_row_keys_follow_the_rules_of_form_keys(client):
    document = order_form(items(field("item"), field("item"), field("parent_id"), field("position"), field("select")))
    errors = refused_paths(client, document)
    assert {"fields[1].fields[1].key", "fields[1].fields[2].key", "fields[1].fields[3].key"} <= set(errors)
    assert "fields[1].fields[4].key" in errors  # an SQL reserved word


def test_bad_row_formulas_and_rules_are_refused_with_their_paths(client):
    document = order_form(
        items(
            field("item"),
            field("qty", "integer"),
            field("price", "decimal", scale=2),
            field("line_total", "formula", formula="qty * nope"),
            field("share", "formula", formula="price / amount"),  # a row reads its own fields only
            field("a", "formula", formula="b + 1"),
            field("b", "formula", formula="a + 1"),
            field("broken", "formula", formula="qty *"),
            field("stamp", "formula", formula="qty + version"),  # rows have no version, status, ...
            min_rows=5,
            max_rows=2,
        ),
        field("amount", "formula", formula="SUM(items.nope)"),
        field("total", "formula", formula="qty + 1"),
    )
    errors = refused_paths(client, document)
    for path in (
        "fields[1].fields[3].formula",
        "fields[1].fields[4].formula",
        "fields[1].fields[7].formula",
        "fields[1].fields[8].formula",
        "fields[2].formula",
        "fields[3].formula",
        "fields[1].min_rows",
    ):
        assert path in errors, (path, errors)
    assert "circle" in errors["fields[1].fields"]
    assert "nope" in errors["fields[1].fields[3].formula"]
    assert "'version'" in errors["fields[1].fields[8].formula"]
    assert "'items.nope'" in errors["fields[2].formula"]


def test_bad_row_rules_are_refused_with_their_paths(client):
    hidden = {"field": "missing", "op": "eq", "value": 1}
    errors = refused_paths(client, order_form(items(field("item"), field("note", visible_when=hidden))))
    assert "'missing' is not a field of items" in errors["fields[1].fields[1].visible_when.field"]
    required = {"field": "item", "op": "contains", "value": 5}
    errors = refused_paths(client, order_form(items(field("item"), field("note", required_when=required))))
    assert list(errors) == ["fields[1].fields[1].required_when.value"]
    # a row's validation reads the row, not the record
    check = {"condition": {"field": "title", "op": "eq", "value": "x"}, "message": "m"}
    errors = refused_paths(client, order_form(items(field("item"), validations=[check])))
    assert list(errors) == ["fields[1].validations[0].condition.field"]


def test_a_subform_needs_row_fields_and_takes_no_default(client):
    errors = refused_paths(client, order_form(items(field("x"), default="[]")))
    assert "fields[1].default" in errors
    empty = order_form(field("title"))
    empty["fields"] = [field("title", required=True), {**items(field("x")), "fields": []}]
    client.put(f"/api/design/apps/{APP}", json={"key": APP, "label": "Evo"})
    save(client, empty)
    body = problem(publish(client), 422)
    assert any(e["path"].startswith("fields[1]") for e in body["errors"]), body


def test_a_relation_in_rows_must_link_to_a_published_form(client):
    link = {"id": "fld_product", "key": "product", "type": "relation", "label": "Product", "form": "nowhere"}
    client.put(f"/api/design/apps/{APP}", json={"key": APP, "label": "Evo"})
    save(client, order_form(items(*row_fields(), link)))
    body = problem(publish(client), 422, "fields[1].fields[4].form")
    assert "'nowhere' is not a published form" in message_at(body, "fields[1].fields[4].form")
    assert client.get(f"{DESIGN}/versions").json()["items"] == []
