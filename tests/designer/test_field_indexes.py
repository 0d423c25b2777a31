"""Indexes follow the form's definition: single links and fields marked `"index": true` get one,
created with the table or by the publish that asks for it (named in its plan), dropped when no longer asked;
and the fields the users' saved views sort and filter by get one with the next publish."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text

from opsloom.platform import tables
from tests.builders import create, field, form, options, publish_app, records_url
from tests.conftest import query, sent_statements

APP = "ix"
DESIGN = f"/api/design/apps/{APP}/forms/order"
TABLE = "ix__order"


def supplier() -> dict[str, Any]:
    return form("supplier", field("name", required=True), title_field="name")


def order(*fields: dict[str, Any]) -> dict[str, Any]:
    return form("order", field("title", required=True), *fields, title_field="title")


def indexed_columns(client: TestClient, table: str = TABLE) -> dict[str, bool]:
    """The table's single-column indexes as the database has them: column -> unique."""

    async def run() -> dict[str, bool]:
        async with client.app.state.db.session() as session:  # type: ignore[attr-defined]
            connection = await session.connection()
            found = await connection.run_sync(lambda sync: inspect(sync).get_indexes(table))
            return {indexed_column(i): bool(i["unique"]) for i in found if indexed_column(i)}

    return client.portal.call(run)


def indexed_column(index: Any) -> str | None:
    """The one column an index is for (SQLite's live-record indexes end with `deleted_at`)."""
    columns = [c for c in index["column_names"] if c != "deleted_at"]
    return columns[0] if len(columns) == 1 else None


def index_definitions(client: TestClient, table: str = TABLE) -> list[tuple[tuple[str, ...], bool, bool]]:
    """The table's indexes as the database defines them: (columns, SQLite's trailing `deleted_at` aside;
    unique; holds live records only, `WHERE deleted_at IS NULL`)."""

    async def run() -> list[tuple[tuple[str, ...], bool, bool]]:
        async with client.app.state.db.session() as session:  # type: ignore[attr-defined]
            connection = await session.connection()
            found = await connection.run_sync(lambda sync: inspect(sync).get_indexes(table))
            if connection.dialect.name == "sqlite":
                listing = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t"
            else:
                listing = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t"
            sql = {name: definition for name, definition in await connection.execute(text(listing), {"t": table})}
            return [
                (
                    tuple(c for c in i["column_names"] if c != "deleted_at"),
                    bool(i["unique"]),
                    "deleted_at IS NULL" in sql[i["name"]].replace('"', ""),
                )
                for i in found
            ]

    return client.portal.call(run)


def live_only(client: TestClient, table: str = TABLE) -> dict[str, bool]:
    """The table's non-unique single-column indexes: column -> does it hold live records only."""
    return {c[0]: live for c, unique, live in index_definitions(client, table) if len(c) == 1 and not unique}


def count_plan(client: TestClient, where: str) -> str:
    """How the database would count the live orders matching `where` (PostgreSQL told to avoid the
    table scan a table this small would get)."""

    async def run() -> str:
        async with client.app.state.db.session() as session:  # type: ignore[attr-defined]
            connection = await session.connection()
            count = f"SELECT count(*) FROM {TABLE} WHERE deleted_at IS NULL AND {where}"
            if connection.dialect.name == "sqlite":
                rows = await connection.execute(text(f"EXPLAIN QUERY PLAN {count}"))
                return " ".join(str(r[-1]) for r in rows)
            await connection.execute(text(f"ANALYZE {TABLE}"))
            await connection.execute(text("SET LOCAL enable_seqscan = off"))
            await connection.execute(text("SET LOCAL enable_bitmapscan = off"))
            return " ".join(r[0] for r in await connection.execute(text(f"EXPLAIN {count}")))

    return client.portal.call(run)


def publish(client: TestClient, document: dict[str, Any]) -> list[dict[str, Any]]:
    saved = client.put(DESIGN, json=document)
    assert saved.status_code == 200, saved.text
    published = client.post(f"{DESIGN}/publish")
    assert published.status_code == 200, published.text
    return published.json()["plan"]["steps"]


def test_a_new_table_indexes_its_links_and_the_fields_asked_for(client):
    publish_app(
        client,
        APP,
        supplier(),
        order(
            field("supplier", "relation", form="supplier"),
            field("amount", "decimal", precision=14, scale=2, index=True),
            field("code", unique=True),
            field("note"),
        ),
    )
    found = indexed_columns(client)
    assert found["supplier"] is False and found["amount"] is False and found["code"] is True
    assert "note" not in found and "title" not in found
    assert {"created_at", "updated_at", "owner_id", "department_id", "status"} <= set(found)
    # The non-unique indexes hold live records only, so a count by one of them reads the index alone.
    live = live_only(client)
    assert set(live) >= {"supplier", "amount", "created_at", "owner_id", "department_id", "status"}
    assert all(live.values()), live
    orders = [{"title": f"order {i}", "amount": "1.00" if i % 50 else "100.00"} for i in range(500)]
    assert client.post(f"{records_url(APP, 'order')}/bulk", json={"records": orders}).status_code in (200, 201)
    plan = count_plan(client, "amount > 5")
    assert ("COVERING INDEX" in plan or "Index Only Scan" in plan) and "ix_ix__order_" in plan, plan


def test_a_page_by_id_walks_the_primary_key_on_sqlite_without_statistics(client, db_kind):
    """The records API's next page by id (`id < X`, newest first) over a table never analyzed: SQLite's
    planner walks the primary key and stops after the page, where a live-record index that led with
    `deleted_at` made it read and sort every live record."""
    publish_app(client, APP, supplier(), order(field("supplier", "relation", form="supplier"), field("note")))
    orders = [{"title": f"order {i}", "note": f"n{i % 7}"} for i in range(300)]
    assert client.post(f"{records_url(APP, 'order')}/bulk", json={"records": orders}).status_code == 201
    last = 300 - 1
    with sent_statements(client) as sent:
        page = client.get(
            records_url(APP, "order"),
            params={"filter": json.dumps({"field": "id", "op": "lt", "value": last}), "limit": "20", "count": "none"},
        )
    assert page.status_code == 200, page.text
    ids = [r["id"] for r in page.json()["items"]]
    assert len(ids) == 20 and ids == sorted(ids, reverse=True) and ids[0] < last
    if db_kind != "sqlite":
        return

    async def plan() -> str:
        async with client.app.state.db.session() as session:  # type: ignore[attr-defined]
            connection = await session.connection()
            listing = next(s for s in sent if f"FROM {TABLE} " in s)
            given = (last, 21, 0)  # id < X, the page and one more, no offset; a cached form's probe first
            probe = (1,) * (listing.count("?") - len(given))
            found = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {listing}", probe + given)
            return " | ".join(str(r[-1]) for r in found)

    planned = client.portal.call(plan)
    assert "INTEGER PRIMARY KEY" in planned and "TEMP B-TREE" not in planned, planned


def test_a_link_added_later_and_an_index_asked_for_later_are_created_by_the_publish(client):
    publish_app(client, APP, supplier(), order(field("note")))
    create(client, records_url(APP, "order"), title="kept", note="old")
    steps = publish(
        client,
        order(field("note", index=True), field("supplier", "relation", form="supplier")),
    )
    assert any(s["action"] == "add_index" and "note" in s["description"] for s in steps), steps
    found = indexed_columns(client)
    assert found["note"] is False and found["supplier"] is False
    assert live_only(client)["note"] is True

    steps = publish(client, order(field("note"), field("supplier", "relation", form="supplier")))
    assert any(s["action"] == "drop_index" for s in steps), steps
    found = indexed_columns(client)
    assert "note" not in found and found["supplier"] is False
    assert [r["title"] for r in client.get(records_url(APP, "order")).json()["items"]] == ["kept"]


def storage_indexes(client: TestClient) -> list[str]:
    """The automatic indexes the form's storage remembers (field ids)."""
    d = tables.definitions
    [(storage,)] = query(client, select(d.c.storage).where(d.c.app_key == APP, d.c.kind == "form", d.c.key == "order"))
    return list((storage or {}).get("indexes", []))


def test_the_indexes_saved_views_need_come_with_the_next_publish(client):
    fields = [
        field("amount", "decimal", precision=14, scale=2),
        field("due", "date"),
        field("note"),
        field("tags", "multiselect", options=options("a", "b")),
        field("supplier", "relation", form="supplier"),
    ]
    publish_app(client, APP, supplier(), order(*fields))
    create(client, records_url(APP, "order"), title="kept", amount="120.00", due="2025-03-01", note="x")
    views = f"/api/apps/{APP}/forms/order/views"
    saved = [
        {"name": "Largest", "sort": "-amount"},
        {"name": "Due soon", "sort": "due", "filter": {"and": [{"field": "amount", "op": "gt", "value": 100}]}},
        # an `or` narrows by no single field; a text search is not answered by an index; a link has its own
        {
            "name": "Either",
            "filter": {"or": [{"field": "note", "op": "eq", "value": "x"}, {"field": "due", "op": "today"}]},
        },
        {"name": "Search", "filter": {"field": "note", "op": "contains", "value": "x"}, "sort": "supplier"},
        {"name": "Tagged", "filter": {"field": "tags", "op": "in", "value": ["a"]}},
    ]
    for view in saved:
        answer = client.post(views, json=view)
        assert answer.status_code == 201, answer.text
    assert "amount" not in indexed_columns(client)  # nothing changes before a publish

    steps = publish(client, order(*fields, field("remark")))
    automatic = {s["field_id"]: s for s in steps if s.get("automatic")}
    assert set(automatic) == {"fld_amount", "fld_due"}, steps
    assert automatic["fld_amount"]["views"] == 2 and automatic["fld_due"]["views"] == 1
    assert "Index amount: 2 saved views sort or filter by it" in [s["description"] for s in steps]
    found = indexed_columns(client)
    assert found["amount"] is False and found["due"] is False
    assert "note" not in found and "tags" not in found and "remark" not in found
    assert live_only(client)["amount"] is True
    assert sorted(storage_indexes(client)) == ["fld_amount", "fld_due"]

    # Asked once: the next publish adds nothing; a renamed key keeps its index; a removed field leaves the list.
    steps = publish(client, order(field("total", "decimal", id="fld_amount", precision=14, scale=2), *fields[2:]))
    assert not any(s.get("automatic") for s in steps), steps
    assert indexed_columns(client)["total"] is False
    assert storage_indexes(client) == ["fld_amount"]
    rows = client.get(
        records_url(APP, "order"), params={"sort": "-total", "filter": '{"field": "total", "op": "gt", "value": 1}'}
    )
    assert [r["title"] for r in rows.json()["items"]] == ["kept"]


def joint_indexes_of(client: TestClient, table: str = TABLE) -> dict[tuple[str, ...], bool]:
    """The table's indexes of several fields: columns -> does it hold live records only."""
    return {c: live for c, _, live in index_definitions(client, table) if len(c) > 1}


def test_views_that_pick_one_value_and_sort_by_another_field_get_an_index_of_both(client, db_kind):
    """`region = north`, newest amounts first: an index of region and amount together finds the page in
    its order and counts the rows without the table; it survives a rebuilt column and leaves with a field."""
    regions = options("north", "south")
    fields = [field("region", "select", options=regions), field("amount", "decimal", precision=14, scale=2)]
    publish_app(client, APP, order(*fields))
    orders = [
        {"title": f"order {i}", "region": "south" if i % 10 else "north", "amount": f"{i % 97}.50"} for i in range(400)
    ]
    assert client.post(f"{records_url(APP, 'order')}/bulk", json={"records": orders}).status_code == 201
    views = f"/api/apps/{APP}/forms/order/views"
    north = {"field": "region", "op": "eq", "value": "north"}
    for view in (
        {"name": "North, largest", "filter": north, "sort": "-amount"},
        {
            "name": "South over 50",
            "filter": {
                "and": [{"field": "region", "op": "eq", "value": "south"}, {"field": "amount", "op": "gt", "value": 50}]
            },
        },
    ):
        assert client.post(views, json=view).status_code == 201

    steps = publish(client, order(*fields, field("remark")))
    automatic = [s for s in steps if s.get("automatic")]
    # region alone gets none: the index of both, which starts with it, finds what its own would
    assert [(s.get("field_ids") or [s["field_id"]], s["views"]) for s in automatic] == [
        (["fld_region", "fld_amount"], 2),
        (["fld_amount"], 2),
    ], automatic
    assert "Index region, amount together: 2 saved views pick one region and sort or filter by amount" in [
        s["description"] for s in steps
    ]
    assert joint_indexes_of(client) == {("region", "amount"): True}
    assert "region" not in indexed_columns(client)
    assert storage_indexes(client) == [["fld_region", "fld_amount"], "fld_amount"]
    plan = count_plan(client, "region = 'north' AND amount > 5")
    assert ("COVERING INDEX" in plan or "Index Only Scan" in plan) and "region+fld_amount" in plan, plan
    expected = sorted((o for o in orders if o["region"] == "north"), key=lambda o: -float(o["amount"]))
    page = client.get(records_url(APP, "order"), params={"filter": json.dumps(north), "sort": "-amount", "limit": 30})
    assert [r["amount"] for r in page.json()["items"]] == [o["amount"] for o in expected[:30]]

    # amount's column is rebuilt (a larger size): the index of both is rebuilt with it
    wider = [fields[0], field("amount", "decimal", precision=16, scale=2)]
    steps = publish(client, order(*wider, field("remark")))
    assert any(s["action"] == "convert_column" and s.get("rewrite") for s in steps), steps
    assert joint_indexes_of(client) == {("region", "amount"): True}
    assert indexed_columns(client)["amount"] is False
    assert client.get(records_url(APP, "order"), params={"limit": 0}).json()["total"] == 400

    # region removed: the index of both leaves the form's list; amount keeps its own
    publish(client, order(wider[1], field("remark")))
    assert storage_indexes(client) == ["fld_amount"]
    assert client.get(records_url(APP, "order"), params={"limit": 0, "sort": "-amount"}).json()["total"] == 400


def test_a_views_status_or_newest_first_order_joins_the_index_it_earns(client):
    """ "Drafts, largest first" and "North, newest first": the record's status and creation time are
    columns of the index of two like any field's."""
    regions = options("north", "south")
    fields = [field("region", "select", options=regions), field("amount", "decimal", precision=14, scale=2)]
    publish_app(client, APP, order(*fields))
    url = records_url(APP, "order")
    for i in range(30):
        create(client, url, title=f"order {i}", region="north" if i % 3 else "south", amount=f"{(i * 7) % 30}.00")
    views = f"/api/apps/{APP}/forms/order/views"
    north = {"field": "region", "op": "eq", "value": "north"}
    drafts = {"field": "status", "op": "eq", "value": "draft"}
    for view in (
        {"name": "North, newest", "filter": north, "sort": "-created_at"},
        {"name": "Drafts, largest", "filter": drafts, "sort": "-amount"},
    ):
        assert client.post(views, json=view).status_code == 201, view

    steps = publish(client, order(*fields, field("remark")))
    joint = sorted(s["field_ids"] for s in steps if "field_ids" in s)
    assert joint == [["@status", "fld_amount"], ["fld_region", "@created_at"]], steps
    assert joint_indexes_of(client) == {("region", "created_at"): True, ("status", "amount"): True}
    assert sorted(map(str, storage_indexes(client))) == sorted(
        ["fld_amount", str(["@status", "fld_amount"]), str(["fld_region", "@created_at"])]
    )
    newest = client.get(url, params={"filter": json.dumps(north), "sort": "-created_at", "limit": 5}).json()["items"]
    assert [r["title"] for r in newest] == ["order 29", "order 28", "order 26", "order 25", "order 23"]
    largest = client.get(url, params={"filter": json.dumps(drafts), "sort": "-amount", "limit": 3}).json()["items"]
    assert [r["amount"] for r in largest] == ["29.00", "28.00", "27.00"]
