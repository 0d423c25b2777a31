"""Value mapping: a value no option has is added as a new option, by someone who may design the app."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.builders import problem
from tests.conftest import another_client, create_user, log_in
from tests.runtime.imports.helpers import APP, HEADERS, IMPORTS, RECORDS, commit, csv_bytes, publish_purchases, uploaded

OPTIONS = f"/api/design/apps/{APP}/forms/purchase/options"
ROWS = [HEADERS, ["P-1", "显示器", "800", "硬件", "2024-01-05", "是", "1", "华为"]]


def test_an_unknown_value_becomes_a_new_option_and_imports(client: TestClient) -> None:
    publish_purchases(client)
    created = uploaded(client, "new.csv", csv_bytes(ROWS))
    url = f"{IMPORTS}/{created['id']}"
    assert created["unmatched"] == {"category": [{"value": "硬件", "count": 1, "rows": [2]}]}
    added = client.post(OPTIONS, json={"field": "category", "options": [{"label": "硬件"}]})
    assert added.status_code == 200, added.text
    assert added.json()["added"] == [{"value": "option_3", "label": "硬件"}] and added.json()["version"] == 2
    again = client.post(OPTIONS, json={"field": "category", "options": [{"label": "硬件"}]}).json()
    assert again["added"] == [] and again["version"] == 2  # already there: nothing published
    rescanned = client.patch(url, json={"values": {}})
    assert rescanned.status_code == 200 and rescanned.json()["unmatched"] == {}, rescanned.text
    done = commit(client, url)
    assert done["counts"]["inserted"] == 1, done
    (record,) = client.get(RECORDS).json()["items"]
    assert record["category"] == "option_3"  # the new option, by its label
    draft = client.get(f"/api/design/apps/{APP}/forms/purchase").json()
    assert "硬件" in str(draft)


def test_adding_an_option_is_refused_with_a_reason(client: TestClient) -> None:
    publish_purchases(client)
    user = create_user(client, "imp@example.com", "right-password-1", locale="en")
    role = {"app": APP, "key": "clerk", "label": "Clerk", "permissions": {"purchase": {"import": "all", "read": "all"}}}
    assert client.post("/api/roles", json=role).status_code == 200
    assert client.post(f"/api/roles/{APP}/clerk/members", json={"add": [user["id"]]}).status_code == 200
    clerk = another_client(client)
    log_in(clerk, "imp@example.com", "right-password-1")
    body = problem(clerk.post(OPTIONS, json={"field": "category", "options": [{"label": "硬件"}]}), 403)
    assert "only those who design the app" in body["detail"]
    problem(client.post(OPTIONS, json={"field": "title", "options": [{"label": "x"}]}), 400, "field")
    problem(client.post(OPTIONS, json={"field": "category", "options": [{"value": "硬 件"}]}), 400, "options[0].value")
    problem(client.post(OPTIONS, json={"field": "category", "options": [{"label": ""}]}), 400, "options[0].label")
    draft = client.get(f"/api/design/apps/{APP}/forms/purchase").json()
    document = draft.get("draft") or draft.get("document") or draft
    changed = {**document, "label": "Changed"}
    assert client.put(f"/api/design/apps/{APP}/forms/purchase", json=changed).status_code == 200
    body = problem(client.post(OPTIONS, json={"field": "category", "options": [{"label": "硬件"}]}), 409)
    assert "unpublished changes" in body["detail"]
