from __future__ import annotations

from tests.builders import field, form, options, publish_app, records_url

ORDER = form(
    "order",
    field("title", required=True, max_length=50),
    field("amount", "decimal", precision=12, scale=2, min=0),
    field("qty", "integer"),
    field("kind", "select", options=options("a", "b")),
    title_field="title",
)


def test_create_read_update_delete_restore(client):
    publish_app(client, "shop", ORDER)
    url = records_url("shop", "order")
    created = client.post(url, json={"title": "Desk", "amount": "1200.50", "qty": 2, "kind": "a"})
    assert created.status_code == 201, created.text
    record = created.json()
    assert record["amount"] == "1200.50" and record["version"] == 1
    got = client.get(f"{url}/{record['id']}")
    assert got.json()["title"] == "Desk" and got.headers["etag"] == '"1"'
    patched = client.patch(f"{url}/{record['id']}", json={"qty": 3}, headers={"If-Match": '"1"'})
    assert patched.status_code == 200 and patched.json()["version"] == 2
    stale = client.patch(f"{url}/{record['id']}", json={"qty": 4}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert client.delete(f"{url}/{record['id']}").status_code == 204
    assert client.get(f"{url}/{record['id']}").status_code == 404
    restored = client.post(f"{url}/{record['id']}/restore")
    assert restored.status_code == 200 and restored.json()["qty"] == 3
    history = client.get(f"{url}/{record['id']}/history").json()["items"]
    assert [h["action"] for h in history] == ["create", "update", "delete", "restore"]
    assert history[1]["changes"] == {"qty": {"before": 2, "after": 3}}
