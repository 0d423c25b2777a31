"""GET /api/openapi.json tells the whole truth about errors, bodies and ids; a 405 says what is allowed."""

from __future__ import annotations

from typing import Any

from openapi_spec_validator import validate

from tests.builders import problem

MAX_ID = 2**63 - 1
OPERATIONS = ("get", "put", "post", "patch", "delete")


def _document(client: Any) -> dict[str, Any]:
    answer = client.get("/api/openapi.json")
    assert answer.status_code == 200
    document = answer.json()
    validate(document)
    return document


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, item in document["paths"].items() for m, op in item.items() if m in OPERATIONS]


def test_every_operation_declares_its_problems_as_problem_json(anonymous):
    document = _document(anonymous)
    responses = document["components"]["responses"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for method, path, operation in _operations(document):
        codes = set(operation["responses"])
        assert {"400", "422"} <= codes, (method, path)
        for code in {c for c in codes if not c.startswith("2")}:
            name = operation["responses"][code]["$ref"].rsplit("/", 1)[1]
            schema = responses[name]["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}, (method, path, code)


def test_logged_in_routes_declare_401_403_404_and_writes_409(anonymous):
    operations = {(m, p): op["responses"] for m, p, op in _operations(_document(anonymous))}
    assert {"401", "403", "404"} <= set(operations["get", "/api/users"])
    assert "409" in operations["post", "/api/departments"]
    assert "413" in operations["put", "/api/design/apps/{app}"]
    assert "412" in operations["patch", "/api/apps/{app}/forms/{form}/records/{record_id}"]
    assert "415" in operations["post", "/api/apps/{app}/forms/{form}/files"]
    assert {"401", "429"} <= set(operations["post", "/api/auth/login"])
    assert "401" not in operations["get", "/api/health"]


def test_routes_that_read_json_themselves_declare_their_body(anonymous):
    operations = {(m, p): op for m, p, op in _operations(_document(anonymous))}
    for key in [
        ("post", "/api/users"),
        ("patch", "/api/departments/{department_id}"),
        ("post", "/api/roles"),
        ("put", "/api/design/apps/{app}/forms/{form}"),
        ("put", "/api/design/apps/{app}/flows/{flow}"),
        ("post", "/api/apps/{app}/forms/{form}/records"),
        ("post", "/api/apps/{app}/forms/{form}/views"),
        ("post", "/api/tasks/{task}/{action}"),
        ("put", "/api/me/delegation"),
    ]:
        assert "application/json" in operations[key]["requestBody"]["content"], key


def test_required_text_is_not_empty_and_ids_have_a_maximum(anonymous):
    document = _document(anonymous)
    login = document["components"]["schemas"]["Login"]["properties"]
    assert login["email"]["minLength"] == 1 and login["password"]["minLength"] == 1
    for method, path, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["name"].endswith("_id"):
                assert parameter["schema"]["maximum"] == MAX_ID, (method, path, parameter["name"])


def test_an_empty_login_is_refused_as_the_document_says(anonymous):
    problem(anonymous.post("/api/auth/login", json={"email": "", "password": ""}), 400)


def test_a_405_names_every_method_of_the_path_in_allow(client):
    answer = client.options("/api/users")
    problem(answer, 405)
    assert answer.headers["allow"] == "GET, POST"
    assert client.delete("/api/apps/a/forms/b/records").headers["allow"] == "GET, POST"


def test_changing_a_department_with_nothing_changes_nothing(client):
    created = client.post("/api/departments", json={"name": "Sales"})
    assert created.status_code == 201
    url = f"/api/departments/{created.json()['id']}"
    unchanged = client.patch(url, json={})
    assert unchanged.status_code == 200 and unchanged.json() == created.json()
    problem(client.patch(url, json={"name": 5}), 422, "name")
    problem(client.patch(url, json={"name": "  "}), 422, "name")
    problem(client.post("/api/departments", json={"name": ["x"]}), 422, "name")
