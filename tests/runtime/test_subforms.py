"""Subform rows: written with their record, validated with row paths, totalled, filtered, protected."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import column, func, select, table

from tests.builders import create, field, form, list_all, message_at, options, problem, publish_app, records_url
from tests.conftest import another_client, create_user, log_in, query

APP = "shop"
URL = records_url(APP, "order")
PRODUCTS = records_url(APP, "product")
ROWS_TABLE = "shop__order__items"


def row_fields(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        field("item", required=True, max_length=50),
        field("qty", "integer", min=1),
        field("price", "decimal", precision=14, scale=2),
        field("line_total", "formula", formula="qty * price"),
        *extra,
    ]


def items(*fields: dict[str, Any], **rules: Any) -> dict[str, Any]:
    return {
        "id": "fld_items",
        "key": "items",
        "type": "subform",
        "label": "Items",
        "fields": list(fields) or row_fields(),
        **rules,
    }


def order_form(subform: dict[str, Any] | None = None, *extra: dict[str, Any]) -> dict[str, Any]:
    return form(
        "order",
        field("title", required=True),
        subform or items(),
        field("amount", "formula", formula="SUM(items.line_total)"),
        *extra,
        title_field="title",
    )


def line(item: str, qty: int | None = 1, price: str | None = "1.00") -> dict[str, Any]:
    return {"item": item, "qty": qty, "price": price}


def stored_row_count(client: TestClient, name: str = ROWS_TABLE) -> int:
    """Rows in a child table, read straight from the database (orphans included)."""
    return query(client, select(func.count()).select_from(table(name, column("id"))))[0][0]


def row_ids(record: dict[str, Any]) -> list[int]:
    return [row["id"] for row in record["items"]]


def titles(client: TestClient, condition: dict[str, Any]) -> list[str]:
    response = client.get(URL, params={"filter": json.dumps(condition), "sort": "title"})
    assert response.status_code == 200, response.text
    return [r["title"] for r in response.json()["items"]]


# ---------------------------------------------------------------- create


def test_rows_are_created_with_the_record_and_totalled_exactly(client):
    publish_app(client, APP, order_form())
    response = client.post(URL, json={"title": "desks", "items": [line("desk", 3, "3.33"), line("pen", 1, "0.01")]})
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["amount"] == "10.00"
    first, second = record["items"]
    assert first == {"id": first["id"], "item": "desk", "qty": 3, "price": "3.33", "line_total": "9.99"}
    assert second == {"id": second["id"], "item": "pen", "qty": 1, "price": "0.01", "line_total": "0.01"}
    assert first["id"] != second["id"]
    assert client.get(f"{URL}/{record['id']}").json() == record
    tenths = create(client, URL, title="tenths", items=[line("a", 1, "0.10"), line("b", 1, "0.20")])
    assert tenths["amount"] == "0.30"  # never 0.30000000000000004
    empty = create(client, URL, title="nothing yet")
    assert empty["items"] == [] and empty["amount"] == "0.00"
    assert create(client, URL, title="null rows", items=None)["items"] == []
    assert stored_row_count(client) == 4


def test_a_row_left_partly_empty_gets_an_empty_line_total(client):
    publish_app(client, APP, order_form())
    record = create(client, URL, title="a", items=[line("desk", 2, None), line("pen", 2, "5")])
    assert [r["line_total"] for r in record["items"]] == [None, "10.00"]
    assert record["amount"] == "10.00"


def test_rows_must_be_a_list_of_objects(client):
    publish_app(client, APP, order_form())
    for bad in ("desk", {"item": "desk"}, 3, True):
        body = problem(client.post(URL, json={"title": "a", "items": bad}), 422, "items")
        assert "list of rows" in message_at(body, "items")
    body = problem(client.post(URL, json={"title": "a", "items": [line("ok"), "desk", [1], None]}), 422, "items[1]")
    assert [e["path"] for e in body["errors"]] == ["items[1]", "items[2]", "items[3]"]
    assert "object" in message_at(body, "items[1]")
    assert client.get(URL).json()["total"] == 0


def test_every_bad_row_value_is_named_by_its_path(client):
    publish_app(client, APP, order_form())
    sent = [
        {"item": "desk", "qty": 0, "colour": "red"},
        {"qty": 2, "price": "1.005"},
        {"item": "x" * 51, "qty": "many", "line_total": "5.00"},
        {"item": "ok", "parent_id": 1, "position": 0},
    ]
    body = problem(client.post(URL, json={"title": "a", "items": sent}), 422)
    errors = {e["path"]: e["message"] for e in body["errors"]}
    assert set(errors) == {
        "items[0].qty",
        "items[0].colour",
        "items[1].item",
        "items[1].price",
        "items[2].item",
        "items[2].qty",
        "items[2].line_total",
        "items[3].parent_id",
        "items[3].position",
    }, errors
    assert errors["items[0].qty"] == "must be at least 1"
    assert "not a field of items" in errors["items[0].colour"] and "qty" in errors["items[0].colour"]
    assert errors["items[1].item"] == "is required"
    assert "computed" in errors["items[2].line_total"]
    assert client.get(URL).json()["total"] == 0 and stored_row_count(client) == 0


def test_a_new_records_rows_are_all_new(client):
    publish_app(client, APP, order_form())
    other = create(client, URL, title="other", items=[line("desk")])
    sent = [{"id": other["items"][0]["id"], "qty": 2}]  # no item: it would dodge "required"
    body = problem(client.post(URL, json={"title": "copy", "items": sent}), 422, "items[0].id")
    assert "leave out id" in message_at(body, "items[0].id")
    bulk = {"records": [{"title": "fine"}, {"title": "copy", "items": [line("a"), sent[0]]}]}
    problem(client.post(f"{URL}/bulk", json=bulk), 422, "records[1].items[1].id")
    assert client.get(URL).json()["total"] == 1 and stored_row_count(client) == 1
    assert create(client, URL, title="no id", items=[{**line("x"), "id": None}])["items"][0]["id"] > 0


def test_min_rows_max_rows_and_a_required_subform(client):
    publish_app(client, APP, order_form(items(*row_fields(), required=True, min_rows=2, max_rows=3)))
    body = problem(client.post(URL, json={"title": "a", "items": [line("one")]}), 422, "items")
    assert message_at(body, "items") == "needs at least 2 rows"
    body = problem(client.post(URL, json={"title": "a", "items": [line(str(i)) for i in range(4)]}), 422, "items")
    assert message_at(body, "items") == "allows at most 3 rows"
    for missing in ({}, {"items": []}, {"items": None}):
        body = problem(client.post(URL, json={"title": "a", **missing}), 422, "items")
        assert message_at(body, "items") == "needs at least one row"
    record = create(client, URL, title="a", items=[line("one"), line("two")])
    url = f"{URL}/{record['id']}"
    problem(client.patch(url, json={"items": []}), 422, "items")
    problem(client.patch(url, json={"items": [{"id": row_ids(record)[0]}]}), 422, "items")
    problem(client.patch(url, json={"items": [*record_rows_to_send(record), line("3"), line("4")]}), 422, "items")
    assert client.patch(url, json={"title": "renamed"}).status_code == 200  # leaving items out is fine
    assert client.get(url).json()["items"] == record["items"]


def record_rows_to_send(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The stored rows as a client sends them back: by id, without the computed line_total."""
    return [{k: v for k, v in row.items() if k != "line_total"} for row in record["items"]]


def test_at_most_1000_rows(client):
    publish_app(client, APP, order_form())
    body = problem(client.post(URL, json={"title": "a", "items": [line("x")] * 1001}), 422, "items")
    assert "1000" in message_at(body, "items")
    big = create(client, URL, title="big", items=[line(f"n{i}", i + 1, "0.01") for i in range(1000)])
    assert len(big["items"]) == 1000 and big["amount"] == "5005.00"
    assert [r["qty"] for r in client.get(f"{URL}/{big['id']}").json()["items"]] == list(range(1, 1001))


# ----------------------------------------------------------------- update


def test_a_row_id_must_be_one_of_this_records_rows(client):
    publish_app(client, APP, order_form())
    mine = create(client, URL, title="mine", items=[line("a"), line("b")])
    theirs = create(client, URL, title="theirs", items=[line("z")])
    url = f"{URL}/{mine['id']}"
    a, b = row_ids(mine)
    refusals = {
        "items[0].id": [{"id": theirs["items"][0]["id"], "qty": 9}],
        "items[1].id": [{"id": a}, {"id": 999999}],
    }
    for path, sent in refusals.items():
        body = problem(client.patch(url, json={"items": sent}), 422, path)
        assert "not a row of this record" in message_at(body, path)
    body = problem(client.patch(url, json={"items": [{"id": a}, {"id": a, "qty": 2}]}), 422, "items[1].id")
    assert "twice" in message_at(body, "items[1].id")
    for bad_id in ("1", True, 0, -1, 1.5, 2**63):
        problem(client.patch(url, json={"items": [{"id": bad_id}, {"id": b}]}), 422, "items[0].id")
    assert client.get(url).json() == mine  # nothing changed, the version neither
    assert client.get(f"{URL}/{theirs['id']}").json() == theirs


def test_a_row_sent_with_its_id_changes_only_the_fields_it_sends(client):
    publish_app(client, APP, order_form())
    record = create(client, URL, title="a", items=[line("desk", 2, "10.50"), line("pen", 3, "1.00")])
    desk, pen = row_ids(record)
    response = client.patch(f"{URL}/{record['id']}", json={"items": [{"id": desk, "qty": 4}, {"id": pen}]})
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["version"] == 2 and changed["amount"] == "45.00"
    assert changed["items"] == [
        {"id": desk, "item": "desk", "qty": 4, "price": "10.50", "line_total": "42.00"},
        {"id": pen, "item": "pen", "qty": 3, "price": "1.00", "line_total": "3.00"},
    ]
    assert client.get(f"{URL}/{record['id']}").json() == changed
    emptied = client.patch(f"{URL}/{record['id']}", json={"items": [{"id": desk, "price": None}, {"id": pen}]})
    assert emptied.json()["items"][0]["line_total"] is None and emptied.json()["amount"] == "3.00"
    body = problem(client.patch(f"{URL}/{record['id']}", json={"items": [{"id": desk, "item": None}]}), 422)
    assert message_at(body, "items[0].item") == "is required"


def test_rows_are_added_removed_and_reordered_by_the_list_sent(client):
    publish_app(client, APP, order_form())
    record = create(client, URL, title="a", items=[line("a", 1), line("b", 2), line("c", 3)])
    a, b, c = row_ids(record)
    url = f"{URL}/{record['id']}"
    response = client.patch(url, json={"items": [{"id": c}, line("d", 4), {"id": a, "qty": 10}]})
    assert response.status_code == 200, response.text
    after = response.json()
    assert [(r["item"], r["qty"]) for r in after["items"]] == [("c", 3), ("d", 4), ("a", 10)]
    d = after["items"][1]["id"]
    assert row_ids(after)[0] == c and row_ids(after)[2] == a and d not in (a, b, c)
    assert after["amount"] == "17.00"
    assert client.get(url).json()["items"] == after["items"]
    assert client.get(URL).json()["items"][0]["items"] == after["items"]
    assert client.patch(url, json={"items": [{"id": c}, {"id": d}, {"id": a}]}).json() == after  # same order
    reordered = client.patch(url, json={"items": [{"id": a}, {"id": c}, {"id": d}]}).json()
    assert [r["item"] for r in reordered["items"]] == ["a", "c", "d"] and reordered["version"] == 3
    assert [r["item"] for r in client.get(url).json()["items"]] == ["a", "c", "d"]
    assert stored_row_count(client) == 3  # b is gone from the table, not only from the answer
    cleared = client.patch(url, json={"items": []}).json()
    assert cleared["items"] == [] and cleared["amount"] == "0.00"
    assert stored_row_count(client) == 0


def test_row_ids_are_never_handed_out_again(client):
    publish_app(client, APP, order_form())
    record = create(client, URL, title="a", items=[line("a"), line("b")])
    a, b = row_ids(record)
    url = f"{URL}/{record['id']}"
    after = client.patch(url, json={"items": [{"id": a}, {"id": None, "item": "c"}]}).json()
    c = row_ids(after)[1]
    assert c not in (a, b)  # b, the newest row, was deleted: its id stays unused
    problem(client.patch(url, json={"items": [{"id": a}, {"id": b, "qty": 5}]}), 422, "items[1].id")
    assert client.get(url).json()["items"] == after["items"]


def test_a_stale_if_match_changes_no_row(client):
    publish_app(client, APP, order_form())
    record = create(client, URL, title="a", items=[line("a"), line("b")])
    url = f"{URL}/{record['id']}"
    assert client.patch(url, json={"title": "b"}, headers={"If-Match": '"1"'}).status_code == 200
    stale = client.patch(url, json={"items": [line("c")]}, headers={"If-Match": '"1"'})
    assert problem(stale, 412)["current_version"] == 2
    assert client.get(url).json()["items"] == record["items"]


def test_new_rows_get_their_defaults_and_stored_rows_keep_their_values(client):
    fields = row_fields(field("unit", default="pcs"), field("added", "date", default={"formula": "TODAY()"}))
    fields[1]["default"] = 1
    publish_app(client, APP, order_form(items(*fields)))
    record = create(client, URL, title="a", items=[{"item": "desk", "price": "2.00"}, {"item": "pen", "unit": "box"}])
    first, second = record["items"]
    assert (first["qty"], first["unit"], first["line_total"]) == (1, "pcs", "2.00")
    assert (second["qty"], second["unit"]) == (1, "box") and first["added"] == second["added"] is not None
    url = f"{URL}/{record['id']}"
    sent = [{"id": first["id"], "qty": None}, {"id": second["id"]}, {"item": "lamp", "unit": None}]
    rows = client.patch(url, json={"items": sent}).json()["items"]
    assert [(r["qty"], r["unit"]) for r in rows] == [(None, "pcs"), (1, "box"), (1, None)]
    assert rows[2]["added"] == first["added"]


def test_leaving_items_out_of_a_patch_keeps_the_rows(client):
    publish_app(client, APP, order_form())
    record = create(client, URL, title="a", items=[line("a", 2, "2.50"), line("b")])
    changed = client.patch(f"{URL}/{record['id']}", json={"title": "b"}).json()
    assert changed["version"] == 2 and changed["title"] == "b"
    assert changed["items"] == record["items"] and changed["amount"] == "6.00"
    assert client.get(f"{URL}/{record['id']}").json()["items"] == record["items"]


def test_a_patch_that_changes_nothing_keeps_the_version(client):
    publish_app(client, APP, order_form())
    record = create(client, URL, title="a", items=[line("a", 2, "2.50"), line("b")])
    url = f"{URL}/{record['id']}"
    same_rows = [
        {"items": record_rows_to_send(record)},
        {"items": [{"id": i} for i in row_ids(record)]},
        {"items": [{"id": record["items"][0]["id"], "price": "2.5"}, {"id": record["items"][1]["id"]}]},
        {"title": "a", "items": [{"id": i} for i in row_ids(record)]},
    ]
    for body in same_rows:
        response = client.patch(url, json=body, headers={"If-Match": '"1"'})
        assert response.status_code == 200, response.text
        assert response.json() == record, body
    assert [h["action"] for h in client.get(f"{url}/history").json()["items"]] == ["create"]


def test_history_shows_the_rows_before_and_after(client):
    publish_app(client, APP, order_form())
    record = create(client, URL, title="a", items=[line("a", 1, "2.00"), line("b", 1, "3.00")])
    a, b = row_ids(record)
    after = client.patch(f"{URL}/{record['id']}", json={"items": [{"id": b, "qty": 2}]}).json()
    history = client.get(f"{URL}/{record['id']}/history").json()["items"]
    assert [h["action"] for h in history] == ["create", "update"]
    assert history[0]["changes"]["items"] == {"before": None, "after": record["items"]}
    assert history[1]["changes"] == {
        "items": {
            "before": record["items"],
            "after": [{"id": b, "item": "b", "qty": 2, "price": "3.00", "line_total": "6.00"}],
        },
        "amount": {"before": "5.00", "after": "6.00"},
    }
    assert after["items"] == history[1]["changes"]["items"]["after"]
    client.patch(f"{URL}/{record['id']}", json={"title": "renamed"})
    assert client.get(f"{URL}/{record['id']}/history").json()["items"][2]["changes"] == {
        "title": {"before": "a", "after": "renamed"}
    }


def test_a_refused_write_leaves_no_row_behind(client):
    publish_app(client, APP, order_form())
    record = create(client, URL, title="a", items=[line("a", 1), line("b", 2)])
    a, b = row_ids(record)
    url = f"{URL}/{record['id']}"
    problem(client.post(URL, json={"title": "x", "items": [line("fine"), line("bad", 0)]}), 422, "items[1].qty")
    bad_patch = {"title": "changed", "items": [{"id": a, "qty": 5}, line("new"), {"id": b, "qty": -1}]}
    problem(client.patch(url, json=bad_patch), 422, "items[2].qty")
    bad_patch = {"items": [line("new"), {"id": b, "price": "x"}]}
    problem(client.patch(url, json=bad_patch), 422, "items[1].price")
    assert client.get(URL).json()["total"] == 1
    assert client.get(url).json() == record
    assert stored_row_count(client) == 2


def test_a_failure_after_the_rows_are_touched_rolls_everything_back(client, monkeypatch):
    from opsloom.runtime import subforms

    publish_app(client, APP, order_form())
    record = create(client, URL, title="a", items=[line("a", 1), line("b", 2)])
    real_replace, real_insert = subforms.replace_rows, subforms.insert_rows

    async def replace_then_fail(session, child, parent_id, rows, stored):
        await real_replace(session, child, parent_id, rows, stored)
        raise RuntimeError("disk full")

    async def insert_then_fail(session, child, rows_by_parent):
        await real_insert(session, child, rows_by_parent)
        raise RuntimeError("disk full")

    monkeypatch.setattr(subforms, "replace_rows", replace_then_fail)
    monkeypatch.setattr(subforms, "insert_rows", insert_then_fail)
    failed = client.patch(f"{URL}/{record['id']}", json={"title": "b", "items": [line("only one")]})
    assert failed.status_code == 500
    assert client.post(URL, json={"title": "c", "items": [line("c")]}).status_code == 500
    monkeypatch.undo()
    assert client.get(f"{URL}/{record['id']}").json() == record
    assert client.get(URL).json()["total"] == 1 and stored_row_count(client) == 2


# ---------------------------------------------------------- bulk, delete


def test_bulk_create_is_all_or_nothing_with_row_paths(client):
    publish_app(client, APP, order_form())
    batch = [
        {"title": "ok", "items": [line("a", 2, "1.50")]},
        {"title": "bad qty", "items": [line("a", 0)]},
        {"title": "bad item", "items": [line("a"), {"qty": 1}]},
    ]
    body = problem(client.post(f"{URL}/bulk", json={"records": batch}), 422)
    assert {e["path"] for e in body["errors"]} == {"records[1].items[0].qty", "records[2].items[1].item"}
    assert client.get(URL).json()["total"] == 0 and stored_row_count(client) == 0
    batch[1]["items"], batch[2]["items"] = [line("b", 1)], []
    response = client.post(f"{URL}/bulk", json={"records": batch})
    assert response.status_code == 201, response.text
    made = response.json()["items"]
    assert [r["amount"] for r in made] == ["3.00", "1.00", "0.00"]
    assert [[row["item"] for row in r["items"]] for r in made] == [["a"], ["b"], []]
    for record in made:
        assert client.get(f"{URL}/{record['id']}").json()["items"] == record["items"]


def test_delete_and_restore_keep_the_rows(client):
    publish_app(client, APP, order_form())
    record = create(client, URL, title="a", items=[line("a", 1), line("b", 2)])
    other = create(client, URL, title="b", items=[line("z")])
    assert client.delete(f"{URL}/{record['id']}").status_code == 204
    problem(client.get(f"{URL}/{record['id']}"), 404)
    assert [r["title"] for r in client.get(URL).json()["items"]] == ["b"]
    assert titles(client, {"field": "items", "agg": "count", "op": "gte", "value": 1}) == ["b"]
    assert stored_row_count(client) == 3
    restored = client.post(f"{URL}/{record['id']}/restore")
    assert restored.status_code == 200, restored.text
    assert restored.json()["items"] == record["items"]
    again = client.get(f"{URL}/{record['id']}").json()
    assert again["items"] == record["items"] and again["amount"] == "3.00"
    assert client.get(f"{URL}/{other['id']}").json()["items"] == other["items"]


def test_lists_carry_each_records_rows(client):
    publish_app(client, APP, order_form())
    made = [create(client, URL, title=f"r{n}", items=[line(f"{n}-{i}", i + 1) for i in range(n)]) for n in range(4)]
    listed = list_all(client, URL, sort="title", limit="1")
    assert [r["items"] for r in listed] == [r["items"] for r in made]
    page = client.get(URL, params={"sort": "-title"}).json()["items"]
    assert [len(r["items"]) for r in page] == [3, 2, 1, 0]


# ------------------------------------------------------------- row rules


def ruled_rows() -> dict[str, Any]:
    return items(
        field("item", required=True),
        field("kind", "select", options=options("goods", "service"), required=True),
        field("qty", "integer", visible_when={"field": "kind", "op": "eq", "value": "goods"}),
        field("hours", "integer", required_when={"field": "kind", "op": "eq", "value": "service"}),
        field("price", "decimal", scale=2),
        field("note", readonly_when={"field": "kind", "op": "eq", "value": "service"}),
        field("line_total", "formula", formula="price"),
        validations=[
            {
                "condition": {"field": "price", "op": "gt", "value": "0"},
                "message": "a price must be more than 0",
                "fields": ["price"],
            },
            {"condition": {"field": "hours", "op": "lte", "value": 100}, "message": "at most 100 hours"},
        ],
    )


def test_field_rules_and_validations_of_rows_are_enforced_with_row_paths(client):
    publish_app(client, APP, order_form(ruled_rows()))
    goods = {"item": "desk", "kind": "goods", "qty": 2, "price": "5.00"}
    service = {"item": "fit", "kind": "service", "hours": 3, "price": "9.00"}
    sent = [
        goods,
        {**service, "qty": 1},  # qty is hidden for a service
        {**service, "hours": None},  # hours are required for a service
        {**goods, "price": "0"},
        {**service, "hours": 101},
        {**service, "note": "set"},  # note is read-only for a service
    ]
    body = problem(client.post(URL, json={"title": "a", "items": sent}), 422)
    errors = {e["path"]: e["message"] for e in body["errors"]}
    assert errors == {
        "items[1].qty": "is hidden for this record; leave it empty",
        "items[2].hours": "is required for this record",
        "items[3].price": "a price must be more than 0",
        "items[4]": "at most 100 hours",
        "items[5].note": "is read-only for this record",
    }, errors
    bulk = {
        "records": [{"title": "ok", "items": [goods]}, {"title": "b", "items": [goods, {**service, "hours": None}]}]
    }
    problem(client.post(f"{URL}/bulk", json=bulk), 422, "records[1].items[1].hours")
    record = create(client, URL, title="a", items=[goods, service])
    assert record["amount"] == "14.00"
    g, s = row_ids(record)
    url = f"{URL}/{record['id']}"
    body = problem(client.patch(url, json={"items": [{"id": g, "kind": "service"}, {"id": s}]}), 422)
    assert [e["path"] for e in body["errors"]] == ["items[0].hours"]  # (a stored qty is not "sent")
    body = problem(client.patch(url, json={"items": [{"id": g, "kind": "service", "qty": 3, "hours": 1}]}), 422)
    assert [e["path"] for e in body["errors"]] == ["items[0].qty"]
    problem(client.patch(url, json={"items": [{"id": g}, {"id": s, "price": "-1"}]}), 422, "items[1].price")
    problem(client.patch(url, json={"items": [{"id": g}, {"id": s, "note": "x"}]}), 422, "items[1].note")
    fixed = client.patch(url, json={"items": [{"id": g, "kind": "service", "qty": None, "hours": 1}, {"id": s}]})
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["items"][0]["kind"] == "service"


def test_a_row_changed_so_that_a_field_is_hidden_loses_its_value(client):
    publish_app(client, APP, order_form(ruled_rows()))
    goods = {"item": "desk", "kind": "goods", "qty": 2, "price": "5.00"}
    record = create(client, URL, title="a", items=[goods])
    (g,) = row_ids(record)
    url = f"{URL}/{record['id']}"
    changed = client.patch(url, json={"items": [{"id": g, "kind": "service", "hours": 4}]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["items"][0]["qty"] is None
    assert client.get(url).json()["items"][0]["qty"] is None
    # A rule a patch makes true reads the row as it will be stored: hours are needed again.
    back = client.patch(url, json={"items": [{"id": g, "kind": "goods", "qty": 1, "hours": None}]})
    assert back.status_code == 200, back.text
    problem(client.patch(url, json={"items": [{"id": g, "kind": "service"}]}), 422, "items[0].hours")


def test_a_subform_hidden_by_a_rule_takes_no_rows(client):
    shown = {"field": "title", "op": "starts_with", "value": "order"}
    publish_app(client, APP, order_form(items(*row_fields(), visible_when=shown)))
    body = problem(client.post(URL, json={"title": "quote", "items": [line("a")]}), 422, "items")
    assert message_at(body, "items") == "is hidden for this record; leave it empty"
    for empty in ([], None):
        assert create(client, URL, title="quote", items=empty)["items"] == []
    record = create(client, URL, title="order 1", items=[line("a", 2)])
    url = f"{URL}/{record['id']}"
    problem(client.patch(url, json={"title": "quote", "items": [{"id": row_ids(record)[0]}]}), 422, "items")
    assert client.patch(url, json={"title": "quote", "items": []}).json()["amount"] == "0.00"


def test_a_form_validation_can_count_and_total_the_rows(client):
    document = order_form(
        items(*row_fields()),
    )
    document["validations"] = [
        {
            "condition": {"field": "items.qty", "agg": "sum", "op": "lte", "value": 10},
            "message": "at most 10 pieces per order",
            "fields": ["items"],
        }
    ]
    publish_app(client, APP, document)
    body = problem(client.post(URL, json={"title": "a", "items": [line("a", 6), line("b", 5)]}), 422, "items")
    assert message_at(body, "items") == "at most 10 pieces per order"
    record = create(client, URL, title="a", items=[line("a", 6), line("b", 4)])
    first, second = row_ids(record)
    url = f"{URL}/{record['id']}"
    problem(client.patch(url, json={"items": [{"id": first, "qty": 7}, {"id": second}]}), 422, "items")
    assert client.patch(url, json={"items": [{"id": first, "qty": 10}]}).status_code == 200  # the other row goes
    assert client.patch(url, json={"title": "b"}).status_code == 200


# -------------------------------------------------------------- relations


def linked_forms(on_delete: str = "restrict") -> tuple[dict[str, Any], dict[str, Any]]:
    product = form("product", field("name", required=True), title_field="name")
    link = {"id": "fld_product", "key": "product", "type": "relation", "label": "Product", "form": "product"}
    order = order_form(items(*row_fields({**link, "on_delete": on_delete})))
    return product, order


def test_links_in_rows_are_checked(client):
    publish_app(client, APP, *linked_forms())
    desk = create(client, PRODUCTS, name="desk")["id"]
    body = problem(client.post(URL, json={"title": "a", "items": [{"item": "x", "product": 999}]}), 422)
    assert body["errors"] == [{"path": "items[0].product", "message": "there is no product record 999"}]
    record = create(client, URL, title="a", items=[{"item": "x", "product": desk}])
    assert record["items"][0]["product"] == desk
    row = record["items"][0]["id"]
    sent = {"items": [{"id": row}, {"item": "y", "product": 12345}]}
    problem(client.patch(f"{URL}/{record['id']}", json=sent), 422, "items[1].product")
    bulk = {
        "records": [
            {"title": "b", "items": [{"item": "y", "product": desk}]},
            {"title": "c", "items": [{"item": "z", "product": -4}]},
        ]
    }
    problem(client.post(f"{URL}/bulk", json=bulk), 422, "records[1].items[0].product")
    gone = create(client, PRODUCTS, name="gone")["id"]
    assert client.delete(f"{PRODUCTS}/{gone}").status_code == 204
    problem(client.post(URL, json={"title": "d", "items": [{"item": "y", "product": gone}]}), 422, "items[0].product")
    assert client.get(URL).json()["total"] == 1


def test_a_record_linked_from_rows_cannot_be_deleted_and_the_holders_are_named(client):
    publish_app(client, APP, *linked_forms())
    desk = create(client, PRODUCTS, name="desk")["id"]
    chair = create(client, PRODUCTS, name="chair")["id"]
    first = create(client, URL, title="a", items=[{"item": "x", "product": desk}, {"item": "y", "product": desk}])
    second = create(client, URL, title="b", items=[{"item": "x", "product": chair}, {"item": "y", "product": desk}])
    refused = problem(client.delete(f"{PRODUCTS}/{desk}"), 409)
    (error,) = refused["errors"]
    assert error["path"] == "order.items.product"
    assert f"{first['id']}, {second['id']}" in error["message"]
    assert client.get(f"{PRODUCTS}/{desk}").status_code == 200
    # once no live record's rows link to it, it may go
    client.patch(f"{URL}/{second['id']}", json={"items": [{"id": second["items"][0]["id"]}]})
    assert client.delete(f"{URL}/{first['id']}").status_code == 204
    assert client.delete(f"{PRODUCTS}/{desk}").status_code == 204
    problem(client.delete(f"{PRODUCTS}/{chair}"), 409)


def test_links_in_rows_are_emptied_when_set_empty(client):
    publish_app(client, APP, *linked_forms("set_empty"))
    desk = create(client, PRODUCTS, name="desk")["id"]
    chair = create(client, PRODUCTS, name="chair")["id"]
    record = create(client, URL, title="a", items=[{"item": "x", "product": desk}, {"item": "y", "product": chair}])
    assert client.delete(f"{PRODUCTS}/{desk}").status_code == 204
    rows = client.get(f"{URL}/{record['id']}").json()["items"]
    assert [(r["item"], r["product"]) for r in rows] == [("x", None), ("y", chair)]
    assert row_ids(record) == [r["id"] for r in rows]


# ------------------------------------------------------------- aggregates


def aggregate_world(client: TestClient) -> None:
    publish_app(client, APP, order_form())
    create(client, URL, title="a", items=[line("x", 2, "10.50"), line("y", 3, "1.00")])  # qty 5, total 24.00
    create(client, URL, title="b", items=[line("x", 20, "100.00")])  # qty 20, total 2000.00
    create(client, URL, title="c")  # no rows
    create(client, URL, title="d", items=[line("x", None, None)])  # one row, nothing to total


def test_filters_by_row_counts(client):
    aggregate_world(client)
    count = {"field": "items", "agg": "count"}
    assert titles(client, {**count, "op": "gte", "value": 2}) == ["a"]
    assert titles(client, {**count, "op": "eq", "value": 0}) == ["c"]
    assert titles(client, {**count, "op": "eq", "value": 1}) == ["b", "d"]
    assert titles(client, {**count, "op": "between", "value": [1, 2]}) == ["a", "b", "d"]
    assert titles(client, {**count, "op": "in", "value": [0, 2]}) == ["a", "c"]
    assert titles(client, {**count, "op": "not_in", "value": [0, 2]}) == ["b", "d"]
    assert titles(client, {"not": {**count, "op": "eq", "value": 0}}) == ["a", "b", "d"]
    both = {"and": [{**count, "op": "gt", "value": 0}, {"field": "title", "op": "ne", "value": "a"}]}
    assert titles(client, both) == ["b", "d"]


def test_filters_by_sums_of_integers_decimals_and_formulas(client):
    aggregate_world(client)
    assert titles(client, {"field": "items.qty", "agg": "sum", "op": "eq", "value": 5}) == ["a"]
    assert titles(client, {"field": "items.qty", "agg": "sum", "op": "eq", "value": 0}) == ["c", "d"]
    assert titles(client, {"field": "items.qty", "agg": "sum", "op": "lt", "value": 5}) == ["c", "d"]
    assert titles(client, {"field": "items.price", "agg": "sum", "op": "eq", "value": "11.50"}) == ["a"]
    assert titles(client, {"field": "items.price", "agg": "sum", "op": "gt", "value": "11.49"}) == ["a", "b"]
    assert titles(client, {"field": "items.price", "agg": "sum", "op": "gt", "value": "11.5"}) == ["b"]
    assert titles(client, {"field": "items.line_total", "agg": "sum", "op": "eq", "value": "24"}) == ["a"]
    total = {"field": "items.line_total", "agg": "sum", "op": "between", "value": ["0", "2000.00"]}
    assert titles(client, total) == ["a", "b", "c", "d"]
    assert titles(client, {**total, "value": ["0.01", "1999.99"]}) == ["a"]
    # a total over rows agrees with the formula the form keeps of it
    assert titles(client, {"field": "amount", "op": "eq", "value": "24"}) == ["a"]


def test_filters_by_smallest_and_largest_values(client):
    aggregate_world(client)
    assert titles(client, {"field": "items.qty", "agg": "min", "op": "eq", "value": 2}) == ["a"]
    assert titles(client, {"field": "items.qty", "agg": "max", "op": "eq", "value": 3}) == ["a"]
    assert titles(client, {"field": "items.qty", "agg": "max", "op": "lt", "value": 100}) == ["a", "b"]
    assert titles(client, {"field": "items.price", "agg": "min", "op": "lte", "value": "1"}) == ["a"]
    assert titles(client, {"field": "items.price", "agg": "max", "op": "gte", "value": "100.00"}) == ["b"]
    assert titles(client, {"field": "items.line_total", "agg": "min", "op": "lt", "value": "5"}) == ["a"]
    assert titles(client, {"field": "items.line_total", "agg": "max", "op": "gt", "value": "0"}) == ["a", "b"]
    # no rows, or rows without values: no smallest value, so no comparison holds ...
    assert titles(client, {"field": "items.qty", "agg": "min", "op": "gte", "value": -1000}) == ["a", "b"]
    assert titles(client, {"field": "items.qty", "agg": "max", "op": "in", "value": [3, 20]}) == ["a", "b"]
    # ... and, as for an empty field, "is not 20" holds
    assert titles(client, {"field": "items.qty", "agg": "max", "op": "ne", "value": 20}) == ["a", "c", "d"]
    assert titles(client, {"field": "items.qty", "agg": "min", "op": "not_in", "value": [2]}) == ["b", "c", "d"]


def test_bad_aggregate_filters_are_400_with_a_path(client):
    aggregate_world(client)
    ok = {"field": "items", "agg": "count", "op": "gt", "value": 0}
    cases = [
        ({"field": "items", "agg": "avg", "op": "gt", "value": 1}, "filter.agg"),
        ({"field": "items", "agg": 5, "op": "gt", "value": 1}, "filter.agg"),
        ({"field": "items", "agg": ["sum"], "op": "gt", "value": 1}, "filter.agg"),
        ({"field": "title", "agg": "count", "op": "gt", "value": 1}, "filter.field"),
        ({"field": "nope.qty", "agg": "sum", "op": "gt", "value": 1}, "filter.field"),
        ({"field": 3, "agg": "sum", "op": "gt", "value": 1}, "filter.field"),
        ({"field": "items.qty", "agg": "count", "op": "gt", "value": 1}, "filter.field"),
        ({"field": "items.item", "agg": "sum", "op": "gt", "value": 1}, "filter.field"),
        ({"field": "items.nope", "agg": "max", "op": "gt", "value": 1}, "filter.field"),
        ({"field": "items", "agg": "sum", "op": "gt", "value": 1}, "filter.field"),
        ({"field": "items", "agg": "count", "op": "contains", "value": 1}, "filter.op"),
        ({"field": "items", "agg": "count", "op": "is_empty"}, "filter.op"),
        ({"field": "items", "agg": "count", "value": 1}, "filter.op"),
        ({"field": "items", "agg": "count", "op": "gt"}, "filter.value"),
        ({"field": "items", "agg": "count", "op": "gt", "value": "many"}, "filter.value"),
        ({"field": "items", "agg": "count", "op": "gt", "value": 1.5}, "filter.value"),
        ({"field": "items.price", "agg": "sum", "op": "gt", "value": "1.2.3"}, "filter.value"),
        ({"field": "items.price", "agg": "sum", "op": "gt", "value": {"field": "amount"}}, "filter.value"),
        ({"field": "items.qty", "agg": "sum", "op": "between", "value": [1]}, "filter.value"),
        ({"field": "items", "op": "is_empty"}, "filter.field"),
        ({"field": "items", "op": "eq", "value": 1}, "filter.field"),
        ({"field": "items.qty", "op": "eq", "value": 1}, "filter.field"),
        ({"field": "items", "agg": "count", "op": "gt", "value": 0, "having": 1}, "filter"),
        ({"and": [ok, {"field": "items", "agg": "median", "op": "gt", "value": 1}]}, "filter.and[1].agg"),
    ]
    for condition, path in cases:
        response = client.get(URL, params={"filter": json.dumps(condition)})
        problem(response, 400, path)
    problem(client.get(URL, params={"sort": "items"}), 400, "sort")
    problem(client.get(URL, params={"sort": "items.qty"}), 400, "sort")
    problem(client.get(URL, params={"expand": "items"}), 400, "expand")


# ------------------------------------------------------------ permissions


def user_with_role(client: TestClient, name: str, fields: dict[str, str]) -> TestClient:
    grant = {"create": "all", "read": "all", "update": "all", "delete": "all", "fields": fields}
    saved = client.post("/api/roles", json={"app": APP, "key": name, "label": name, "permissions": {"order": grant}})
    assert saved.status_code == 200, saved.text
    user_id = create_user(client, f"{name}@example.com", f"{name}-password")["id"]
    added = client.post(f"/api/roles/{APP}/{name}/members", json={"add": [user_id]})
    assert added.status_code == 200, added.text
    other = another_client(client)
    log_in(other, f"{name}@example.com", f"{name}-password")
    return other


def test_a_role_that_hides_the_subform_neither_sees_nor_writes_its_rows(client):
    publish_app(client, APP, order_form())
    blind = user_with_role(client, "blind", {"items": "hidden"})
    record = create(client, URL, title="a", items=[line("desk", 2, "5.00")])
    url = f"{URL}/{record['id']}"
    seen = blind.get(url).json()
    assert "items" not in seen and seen["amount"] == "10.00"
    assert all("items" not in r for r in blind.get(URL).json()["items"])
    assert all("items" not in h["changes"] for h in blind.get(f"{url}/history").json()["items"])
    problem(blind.post(URL, json={"title": "b", "items": [line("x")]}), 422, "items")
    problem(blind.patch(url, json={"items": []}), 422, "items")
    count = json.dumps({"field": "items", "agg": "count", "op": "gt", "value": 0})
    problem(blind.get(URL, params={"filter": count}), 400, "filter.field")
    changed = blind.patch(url, json={"title": "renamed"})
    assert changed.status_code == 200, changed.text
    assert "items" not in changed.json() and changed.json()["amount"] == "10.00"
    mine = blind.post(URL, json={"title": "mine"})
    assert mine.status_code == 201 and "items" not in mine.json()
    assert client.get(url).json()["items"] == record["items"]  # the rows are still there
    assert client.get(f"{URL}/{mine.json()['id']}").json()["items"] == []


def test_a_role_that_makes_the_subform_read_only_sees_but_cannot_write_rows(client):
    publish_app(client, APP, order_form())
    reader = user_with_role(client, "reader", {"items": "read_only"})
    record = create(client, URL, title="a", items=[line("desk", 2, "5.00")])
    url = f"{URL}/{record['id']}"
    assert reader.get(url).json()["items"] == record["items"]
    problem(reader.patch(url, json={"items": [{"id": row_ids(record)[0], "qty": 9}]}), 403, "items")
    problem(reader.post(URL, json={"title": "b", "items": [line("x")]}), 403, "items")
    assert reader.patch(url, json={"title": "b"}).json()["items"] == record["items"]
    assert client.get(url).json()["items"] == record["items"]
