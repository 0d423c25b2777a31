"""The import routes in the app's OpenAPI document: shown to callers who may import, and true to what they answer."""

from __future__ import annotations

import jsonschema
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from tests.conftest import another_client, create_user, log_in
from tests.runtime.imports.helpers import APP, IMPORTS, csv_bytes, publish_purchases, uploaded

DOC = f"/api/apps/{APP}/openapi.json"


def test_import_routes_appear_for_callers_who_may_import(client: TestClient) -> None:
    publish_purchases(client)
    document = client.get(DOC).json()
    validate(document)
    paths = document["paths"]
    for suffix in ("", "/{import_id}", "/{import_id}/dry-run", "/{import_id}/commit", "/{import_id}/errors"):
        assert f"{IMPORTS}{suffix}" in paths
    assert "multipart/form-data" in paths[IMPORTS]["post"]["requestBody"]["content"]
    created = uploaded(client, "a.csv", csv_bytes([["编号", "标题"], ["P-1", "一"]]))
    schema = {"$ref": "#/components/schemas/Import", "components": document["components"]}
    jsonschema.Draft202012Validator(schema).validate(created)

    user = create_user(client, "reader@example.com", "reader-password-1")
    role = {"app": APP, "key": "reader", "label": "Reader", "permissions": {"purchase": {"read": "all"}}}
    assert client.post("/api/roles", json=role).status_code == 200
    assert client.post(f"/api/roles/{APP}/reader/members", json={"add": [user["id"]]}).status_code == 200
    reader = another_client(client)
    log_in(reader, "reader@example.com", "reader-password-1")
    seen = reader.get(DOC).json()
    assert not any("/imports" in path for path in seen["paths"]) and "Import" not in seen["components"]["schemas"]
    assert f"/api/apps/{APP}/forms/purchase/records" in seen["paths"]
