"""Changing a published form never loses a value: every rule, over HTTP, on both databases."""

from __future__ import annotations

from tests.builders import field, form, options, publish_app, records_url

APP = "evo"
URL = records_url(APP, "item")
DESIGN = f"/api/design/apps/{APP}/forms/item"


def base_form(*extra):
    return form(
        "item",
        field("title", required=True),
        field("qty", "integer"),
        field("note", max_length=100),
        *extra,
        title_field="title",
    )


def save(client, document):
    response = client.put(DESIGN, json=document)
    assert response.status_code == 200, response.text


def publish(client, body=None, dry_run=False):
    suffix = "?dry_run=true" if dry_run else ""
    return client.post(f"{DESIGN}/publish{suffix}", json=body) if body else client.post(f"{DESIGN}/publish{suffix}")


def with_fields(*fields):
    return form("item", *fields, title_field="title")


def test_added_field_is_a_new_empty_column(client):
    publish_app(client, APP, base_form())
    first = client.post(URL, json={"title": "a", "qty": 1}).json()
    save(client, base_form(field("price", "decimal", scale=2)))
    plan = publish(client, dry_run=True).json()["plan"]
    assert [s["action"] for s in plan["steps"]] == ["add_column"]
    assert client.get(f"{URL}/{first['id']}").json().get("price") is None  # dry run changed nothing
    assert publish(client).status_code == 200
    record = client.get(f"{URL}/{first['id']}").json()
    assert record["price"] is None and record["qty"] == 1
    assert client.patch(f"{URL}/{first['id']}", json={"price": "9.99"}).json()["price"] == "9.99"


def test_renamed_key_keeps_values(client):
    publish_app(client, APP, base_form())
    rid = client.post(URL, json={"title": "a", "qty": 7}).json()["id"]
    renamed = base_form()
    renamed["fields"][1] = {**renamed["fields"][1], "key": "quantity"}
    save(client, renamed)
    response = publish(client)
    assert response.status_code == 200, response.text
    assert response.json()["plan"]["steps"][0]["action"] == "rename_column"
    record = client.get(f"{URL}/{rid}").json()
    assert record["quantity"] == 7 and "qty" not in record


def test_swapping_two_keys_keeps_both_values(client):
    publish_app(client, APP, base_form(field("other", "integer")))
    rid = client.post(URL, json={"title": "a", "qty": 1, "other": 2}).json()["id"]
    swapped = base_form(field("other", "integer"))
    swapped["fields"][1] = {**swapped["fields"][1], "key": "other"}
    swapped["fields"][3] = {**swapped["fields"][3], "key": "qty"}
    save(client, swapped)
    assert publish(client).status_code == 200
    record = client.get(f"{URL}/{rid}").json()
    assert (record["other"], record["qty"]) == (1, 2)


def test_removed_field_is_archived_hidden_and_restorable(client):
    publish_app(client, APP, base_form())
    rid = client.post(URL, json={"title": "a", "qty": 5, "note": "keep me"}).json()["id"]
    save(client, with_fields(field("title", required=True), field("qty", "integer")))
    assert publish(client).status_code == 200
    record = client.get(f"{URL}/{rid}").json()
    assert "note" not in record
    refused = client.patch(f"{URL}/{rid}", json={"note": "x"})
    assert refused.status_code == 422
    view = client.get(DESIGN).json()
    assert [f["key"] for f in view["archived_fields"]] == ["note"]
    save(client, base_form())  # the field comes back with the same id
    response = publish(client)
    assert response.json()["plan"]["steps"][0]["action"] == "restore_column"
    assert client.get(f"{URL}/{rid}").json()["note"] == "keep me"


def test_type_change_lists_values_that_do_not_convert_and_refuses(client):
    publish_app(client, APP, base_form())
    ok = client.post(URL, json={"title": "a", "note": "42"}).json()["id"]
    bad = client.post(URL, json={"title": "b", "note": "forty-two"}).json()["id"]
    retyped = base_form()
    retyped["fields"][2] = {"id": "fld_note", "key": "note", "type": "integer", "label": "Note"}
    save(client, retyped)
    dry = publish(client, dry_run=True).json()["plan"]
    assert dry["can_apply"] is False
    (blocker,) = dry["blockers"]
    assert blocker["field"] == "note" and [r["id"] for r in blocker["records"]] == [bad]
    assert blocker["records"][0]["value"] == "forty-two"
    refused = publish(client)
    assert refused.status_code == 409
    assert client.get(f"{URL}/{bad}").json()["note"] == "forty-two"  # nothing changed
    done = publish(client, {"resolutions": {"note": {"on_invalid": "set_empty"}}})
    assert done.status_code == 200, done.text
    assert client.get(f"{URL}/{ok}").json()["note"] == 42
    assert client.get(f"{URL}/{bad}").json()["note"] is None


def test_type_change_can_keep_every_old_value_in_an_archived_field(client):
    """`archive`: the values that do not fit become empty, and every value as it was stays in an archived
    copy of the old field (its own id, key and type), which can be brought back beside the changed one."""
    publish_app(client, APP, base_form())
    ok = client.post(URL, json={"title": "a", "note": "42"}).json()["id"]
    bad = client.post(URL, json={"title": "b", "note": "forty-two"}).json()["id"]
    retyped = base_form()
    retyped["fields"][2] = {"id": "fld_note", "key": "note", "type": "integer", "label": "Note"}
    save(client, retyped)
    body = {"resolutions": {"note": {"on_invalid": "archive"}}}
    (step,) = [
        s for s in publish(client, body, dry_run=True).json()["plan"]["steps"] if s["action"] == "convert_column"
    ]
    assert step["keep"] and "archived field" in step["description"]
    done = publish(client, body)
    assert done.status_code == 200, done.text
    assert client.get(f"{URL}/{ok}").json()["note"] == 42
    assert client.get(f"{URL}/{bad}").json()["note"] is None
    (kept,) = client.get(DESIGN).json()["archived_fields"]
    assert (kept["key"], kept["type"], kept["label"]) == ("note_before_1", "text", "Note (before the change)")
    save(client, with_fields(*retyped["fields"], kept))  # brought back beside the changed field
    back = publish(client)
    assert back.status_code == 200, back.text
    assert [s["action"] for s in back.json()["plan"]["steps"]] == ["restore_column"]
    assert [client.get(f"{URL}/{rid}").json()["note_before_1"] for rid in (ok, bad)] == ["42", "forty-two"]


def test_an_unknown_resolution_is_refused_by_path(client):
    publish_app(client, APP, base_form())
    answer = publish(client, {"resolutions": {"note": {"on_invalid": "shred"}}})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["path"] == "resolutions.note.on_invalid"


def test_type_change_with_a_default_for_bad_values(client):
    publish_app(client, APP, base_form())
    bad = client.post(URL, json={"title": "b", "note": "n/a"}).json()["id"]
    retyped = base_form()
    retyped["fields"][2] = {"id": "fld_note", "key": "note", "type": "decimal", "scale": 2, "label": "Note"}
    save(client, retyped)
    done = publish(client, {"resolutions": {"note": {"on_invalid": "set_value", "value": "0"}}})
    assert done.status_code == 200, done.text
    assert client.get(f"{URL}/{bad}").json()["note"] == "0.00"


def test_becoming_required_is_refused_while_rows_are_empty_unless_backfilled(client):
    publish_app(client, APP, base_form())
    empty = client.post(URL, json={"title": "a"}).json()["id"]
    client.post(URL, json={"title": "b", "qty": 3})
    required = base_form()
    required["fields"][1] = {**required["fields"][1], "required": True}
    save(client, required)
    refused = publish(client)
    assert refused.status_code == 409
    assert refused.json()["plan"]["blockers"][0]["records"] == [empty]
    done = publish(client, {"resolutions": {"qty": {"fill_empty": 1}}})
    assert done.status_code == 200, done.text
    assert client.get(f"{URL}/{empty}").json()["qty"] == 1


def test_becoming_unique_is_refused_while_duplicates_exist(client):
    publish_app(client, APP, base_form())
    a = client.post(URL, json={"title": "same"}).json()["id"]
    b = client.post(URL, json={"title": "same"}).json()["id"]
    unique = base_form()
    unique["fields"][0] = {**unique["fields"][0], "unique": True}
    save(client, unique)
    refused = publish(client)
    assert refused.status_code == 409
    assert sorted(refused.json()["plan"]["blockers"][0]["records"]) == [a, b]
    client.patch(f"{URL}/{b}", json={"title": "different"})
    assert publish(client).status_code == 200
    assert client.post(URL, json={"title": "same"}).status_code == 409


def test_removed_option_lists_rows_that_hold_it(client):
    publish_app(client, APP, base_form(field("kind", "select", options=options("a", "b", "c"))))
    holder = client.post(URL, json={"title": "x", "kind": "c"}).json()["id"]
    client.post(URL, json={"title": "y", "kind": "a"})
    save(client, base_form(field("kind", "select", options=options("a", "b"))))
    refused = publish(client)
    assert refused.status_code == 409
    assert [r["id"] for r in refused.json()["plan"]["blockers"][0]["records"]] == [holder]
    done = publish(client, {"resolutions": {"kind": {"on_invalid": "set_value", "value": "b"}}})
    assert done.status_code == 200, done.text
    assert client.get(f"{URL}/{holder}").json()["kind"] == "b"


def test_shrinking_a_length_that_would_truncate_is_refused_with_ids(client):
    publish_app(client, APP, base_form())
    long_one = client.post(URL, json={"title": "a", "note": "x" * 50}).json()["id"]
    client.post(URL, json={"title": "b", "note": "short"})
    shorter = base_form()
    shorter["fields"][2] = {**shorter["fields"][2], "max_length": 10}
    save(client, shorter)
    refused = publish(client)
    assert refused.status_code == 409
    assert [r["id"] for r in refused.json()["plan"]["blockers"][0]["records"]] == [long_one]
    assert client.get(f"{URL}/{long_one}").json()["note"] == "x" * 50


def test_versions_diff_and_rollback(client):
    publish_app(client, APP, base_form())
    rid = client.post(URL, json={"title": "a", "note": "hello"}).json()["id"]
    save(client, with_fields(field("title", required=True), field("qty", "integer")))
    publish(client)
    versions = client.get(f"{DESIGN}/versions").json()["items"]
    assert [v["version"] for v in versions] == [2, 1]
    changes = client.get(f"{DESIGN}/diff?from=1&to=2").json()["changes"]
    assert {"change": "removed", "key": "note"}.items() <= changes[0].items()
    rolled = client.post(f"{DESIGN}/rollback", json={"version": 1})
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["version"] == 3
    assert client.get(f"{URL}/{rid}").json()["note"] == "hello"


def test_failed_apply_leaves_schema_and_definition_as_before(client, monkeypatch):
    from opsloom.designer import migration_apply

    publish_app(client, APP, base_form())
    rid = client.post(URL, json={"title": "a", "qty": 1, "note": "n"}).json()["id"]
    changed = with_fields(field("title", required=True), field("quantity", "integer"), field("extra"))
    changed["fields"][1]["id"] = "fld_qty"

    async def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setitem(migration_apply._HANDLERS, "add_column", explode)
    save(client, changed)
    failed = publish(client)
    assert failed.status_code == 500
    monkeypatch.undo()
    assert [v["version"] for v in client.get(f"{DESIGN}/versions").json()["items"]] == [1]
    record = client.get(f"{URL}/{rid}").json()
    assert (record["qty"], record["note"]) == (1, "n")
    assert publish(client).status_code == 200  # the same change applies cleanly afterwards
    assert client.get(f"{URL}/{rid}").json()["quantity"] == 1


def test_a_removed_field_can_come_back_under_a_new_key(client):
    publish_app(client, APP, base_form())
    rid = client.post(URL, json={"title": "a", "note": "kept"}).json()["id"]
    save(client, with_fields(field("title", required=True), field("qty", "integer")))
    assert publish(client).status_code == 200
    back = base_form()
    back["fields"][2] = {**back["fields"][2], "key": "remark"}
    save(client, back)
    response = publish(client)
    assert response.status_code == 200, response.text
    assert client.get(f"{URL}/{rid}").json()["remark"] == "kept"


def test_text_that_an_integer_field_would_refuse_blocks_the_type_change(client):
    publish_app(client, APP, base_form())
    odd = client.post(URL, json={"title": "a", "note": "1e3"}).json()["id"]
    client.post(URL, json={"title": "b", "note": "12"})
    retyped = base_form()
    retyped["fields"][2] = {"id": "fld_note", "key": "note", "type": "integer", "label": "Note"}
    save(client, retyped)
    refused = publish(client)
    assert refused.status_code == 409
    assert [r["id"] for r in refused.json()["plan"]["blockers"][0]["records"]] == [odd]
