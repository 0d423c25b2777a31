"""GET /api/apps/{app}/openapi.json: an app's OpenAPI 3.1 document, from its forms as the caller sees them."""

from __future__ import annotations

from typing import Any

import jsonschema
from openapi_spec_validator import validate

from tests.builders import create, field, form, options, problem, publish_app, records_url
from tests.conftest import another_client, create_user, log_in

APP = "shop"
DOC = f"/api/apps/{APP}/openapi.json"

SUPPLIER = form("supplier", field("name", required=True), title_field="name")
ORDER = form(
    "order",
    field("title", required=True, max_length=120),
    field("notes", "textarea"),
    field("contact", "email"),
    field("phone", "phone"),
    field("site", "url"),
    field("qty", "integer", min=1, max=99),
    field("amount", "decimal", precision=12, scale=2, required=True, default="0"),
    field("urgent", "boolean"),
    field("due", "date"),
    field("at", "datetime"),
    field("stage", "select", options=options("new", "done")),
    field("tags", "multiselect", options=options("red", "blue")),
    field("buyer", "user"),
    field("watchers", "users"),
    field("dept", "department"),
    field("supplier", "relation", form="supplier"),
    {
        **field("items", "subform"),
        "fields": [field("item", required=True), field("price", "decimal", scale=2)],
    },
    field("docs", "attachment"),
    field("total", "formula", formula="amount * 2", scale=2),
    {
        "id": "fld_no",
        "key": "number",
        "type": "autonumber",
        "label": {"zh-CN": "编号", "en": "No."},
        "pattern": "O-{seq:3}",
    },
    field("secret"),
    title_field="title",
)


def _document(client: Any) -> dict[str, Any]:
    response = client.get(DOC)
    assert response.status_code == 200, response.text
    document = response.json()
    validate(document)  # a valid OpenAPI 3.1 document
    return document


def _validator(document: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def _type(schema: dict[str, Any]) -> Any:
    return schema.get("type")


def test_every_form_and_field_appears_with_its_type(client):
    publish_app(client, APP, SUPPLIER, ORDER)
    document = _document(client)
    schemas = document["components"]["schemas"]
    assert document["openapi"].startswith("3.1")
    assert {"Supplier", "SupplierCreate", "SupplierUpdate", "Order", "OrderCreate", "OrderUpdate"} <= set(schemas)
    order = schemas["Order"]["properties"]
    assert set(order) >= {s["key"] for s in ORDER["fields"]} | {"id", "version", "status", "created_at"}
    assert _type(order["title"]) == ["string", "null"] and order["title"]["maxLength"] == 120
    assert order["contact"]["format"] == "email" and order["site"]["format"] == "uri"
    assert "pattern" in order["phone"]
    assert order["qty"]["minimum"] == 1 and order["qty"]["maximum"] == 99
    assert _type(order["amount"]) == ["string", "null"] and order["amount"]["example"] == "1200.50"
    assert _type(order["urgent"]) == ["boolean", "null"]
    assert order["due"]["format"] == "date" and order["at"]["format"] == "date-time"
    assert order["stage"]["enum"] == ["new", "done", None]
    assert order["tags"]["items"]["enum"] == ["red", "blue"]
    assert order["watchers"]["items"]["anyOf"][0]["type"] == "integer"
    assert {"$ref": "#/components/schemas/RecordLink"} in order["supplier"]["anyOf"]
    assert order["items"]["items"] == {"$ref": "#/components/schemas/Order_ItemsRow"}
    assert "id" in schemas["Order_ItemsRow"]["properties"]
    assert order["docs"]["items"] == {"$ref": "#/components/schemas/File"}
    assert order["total"]["readOnly"] and _type(order["total"]) == ["string", "null"]
    assert order["number"]["readOnly"] and order["number"]["title"] == "No."
    created = schemas["OrderCreate"]
    assert "total" not in created["properties"] and "number" not in created["properties"]
    assert "id" not in created["properties"] and created["required"] == ["title"]  # amount has a default
    assert "required" not in schemas["OrderUpdate"]
    assert schemas["Order_ItemsRowCreate"]["required"] == ["item"]
    paths = document["paths"]
    base = "/api/apps/shop/forms/order"
    assert {f"{base}/records", f"{base}/records/bulk", f"{base}/records/{{record_id}}"} <= set(paths)
    assert {p["name"] for p in paths[f"{base}/records"]["get"]["parameters"]} >= {"filter", "sort", "cursor", "q"}
    assert any(p["name"] == "If-Match" for p in paths[f"{base}/records/{{record_id}}"]["patch"]["parameters"])
    assert "412" in paths[f"{base}/records/{{record_id}}"]["patch"]["responses"]
    assert f"{base}/files" in paths and "/api/apps/shop/forms/supplier/files" not in paths
    assert not any(p.endswith("/submit") for p in paths)  # no flow published
    assert set(document["components"]["securitySchemes"]) == {"bearer", "session"}


def test_a_record_read_from_the_api_matches_its_schema(client):
    publish_app(client, APP, SUPPLIER, ORDER)
    supplier = create(client, records_url(APP, "supplier"), name="Acme")
    me = client.get("/api/me").json()
    file = client.post(
        f"/api/apps/{APP}/forms/order/files", params={"field": "docs"}, files={"file": ("q.txt", b"hi", "text/plain")}
    ).json()
    record = create(
        client,
        records_url(APP, "order"),
        title="Laptops",
        notes="two",
        contact="a@example.com",
        phone="+1 555 0100",
        site="https://example.com",
        qty=2,
        amount="1200.5",
        urgent=True,
        due="2026-01-31",
        at="2026-01-31T09:30:00Z",
        stage="new",
        tags=["blue"],
        buyer=me["id"],
        watchers=[me["id"]],
        supplier=supplier["id"],
        items=[{"item": "pen", "price": "1.5"}],
        docs=[file["id"]],
        secret="s",
    )
    document = _document(client)
    _validator(document, "Order").validate(record)
    expanded = client.get(f"{records_url(APP, 'order')}/{record['id']}", params={"expand": "supplier,watchers"})
    _validator(document, "Order").validate(expanded.json())
    empty = create(client, records_url(APP, "order"), title="Empty")
    _validator(document, "Order").validate(empty)
    page = client.get(records_url(APP, "order")).json()
    _validator(document, "OrderList").validate(page)
    _validator(document, "OrderCreate").validate({"title": "x", "amount": "3.10", "items": [{"item": "a"}]})
    errors = list(_validator(document, "OrderCreate").iter_errors({"total": "1.00", "id": 3}))
    assert errors  # computed and system fields are not sent


def test_hidden_fields_and_unreadable_forms_are_left_out_for_a_restricted_user(client):
    publish_app(client, APP, SUPPLIER, ORDER)
    role = {
        "app": APP,
        "key": "clerk",
        "label": "Clerk",
        "permissions": {
            "order": {"read": "all", "create": "all", "fields": {"secret": "hidden", "notes": "read_only"}}
        },
    }
    assert client.post("/api/roles", json=role).status_code in (200, 201)
    clerk = create_user(client, "clerk@example.com", "clerk-password")
    added = client.post(f"/api/roles/{APP}/clerk/members", json={"add": [clerk["id"]]})
    assert added.status_code == 200, added.text
    other = another_client(client)
    log_in(other, "clerk@example.com", "clerk-password")
    document = _document(other)
    schemas = document["components"]["schemas"]
    assert "secret" not in schemas["Order"]["properties"] and "secret" not in schemas["OrderCreate"]["properties"]
    assert "notes" in schemas["Order"]["properties"] and "notes" not in schemas["OrderCreate"]["properties"]
    assert "Supplier" not in schemas and not any("/forms/supplier/" in p for p in document["paths"])
    record = create(client, records_url(APP, "order"), title="Seen", secret="s")
    seen = other.get(f"{records_url(APP, 'order')}/{record['id']}").json()
    _validator(document, "Order").validate(seen)


def test_flow_paths_appear_only_when_the_form_has_a_flow(client):
    publish_app(client, APP, form("leave", field("title", required=True)), form("note", field("text")))
    flow = {
        "key": "leave_approval",
        "label": "Leave approval",
        "form": "leave",
        "nodes": [
            {"id": "start", "type": "start", "next": "boss"},
            {"id": "boss", "type": "approval", "approvers": [{"kind": "role", "role": "boss"}], "next": "end"},
            {"id": "end", "type": "end"},
        ],
    }
    boss = client.post("/api/roles", json={"app": APP, "key": "boss", "label": "Boss", "permissions": {}})
    assert boss.status_code in (200, 201), boss.text
    assert client.put(f"/api/design/apps/{APP}/flows/leave_approval", json=flow).status_code == 200
    published = client.post(f"/api/design/apps/{APP}/flows/leave_approval/publish")
    assert published.status_code == 200, published.text
    paths = _document(client)["paths"]
    leave, note = "/api/apps/shop/forms/leave/records/{record_id}", "/api/apps/shop/forms/note/records/{record_id}"
    for action in ("submit", "withdraw", "urge", "comments", "timeline"):
        assert f"{leave}/{action}" in paths
        assert f"{note}/{action}" not in paths


def test_an_unknown_or_unseen_app_answers_404(client):
    problem(client.get("/api/apps/nowhere/openapi.json"), 404)
    publish_app(client, APP, SUPPLIER)
    create_user(client, "stranger@example.com", "stranger-password")
    stranger = another_client(client)
    log_in(stranger, "stranger@example.com", "stranger-password")
    problem(stranger.get(DOC), 404)
