"""The records API: create, read, change, delete, restore, history, bulk, locking, uniqueness."""

from __future__ import annotations

import pytest

from tests.builders import admin_client, create, field, form, message_at, options, problem, publish_fresh
from tests.conftest import DATABASES

CUSTOMER = form(
    "customer",
    field("name", required=True, max_length=100),
    field("code", unique=True, max_length=20),
    field("email", "email", unique=True),
    field("credit", "decimal", precision=12, scale=2),
    field("seats", "integer"),
    field("tier", "select", options=options("gold", "silver")),
    field("notes", "textarea"),
    title_field="name",
)
SYSTEM_KEYS = {"id", "version", "status", "created_at", "created_by", "updated_at", "updated_by"}


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("records")) as client:
        yield client


@pytest.fixture
def url(api):
    """A customer form of this test's own, so every test starts with no records."""
    return publish_fresh(api, "crm", CUSTOMER)


# ------------------------------------------------------------------ create


def test_created_record_is_returned_with_location_etag_and_system_fields(api, url):
    response = api.post(url, json={"name": "Acme", "code": "AC", "credit": "10.5", "seats": 3})
    assert response.status_code == 201
    record = response.json()
    assert response.headers["location"].endswith(f"{url}/{record['id']}")
    assert response.headers["etag"] == '"1"'
    assert SYSTEM_KEYS | {"owner_id", "department_id"} <= set(record)
    assert record["version"] == 1 and record["status"] == "draft"
    assert record["created_at"].endswith("Z") and record["created_at"] == record["updated_at"]
    assert record["name"] == "Acme" and record["credit"] == "10.50" and record["seats"] == 3
    assert record["tier"] is None and record["notes"] is None


def test_created_record_reads_back_identically(api, url):
    record = create(api, url, name="Acme", code="AC", tier="gold", notes="line 1\nline 2")
    got = api.get(f"{url}/{record['id']}")
    assert got.status_code == 200
    assert got.json() == record
    assert got.headers["etag"] == '"1"'


def test_record_ids_are_distinct_and_increasing(api, url):
    ids = [create(api, url, name=f"c{i}")["id"] for i in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3


def test_system_fields_cannot_be_set_by_the_client(api, url):
    response = api.post(url, json={"name": "Acme", "version": 7, "status": "approved", "id": 99})
    body = problem(response, 422, "version")
    assert {e["path"] for e in body["errors"]} == {"version", "status", "id"}
    assert "system" in message_at(body, "status")
    assert api.get(url).json()["items"] == []


def test_every_problem_of_a_create_is_reported_at_once(api, url):
    response = api.post(url, json={"code": "x" * 21, "seats": "many", "tier": "bronze"})
    body = problem(response, 422)
    assert {e["path"] for e in body["errors"]} == {"name", "code", "seats", "tier"}


def test_invalid_create_writes_nothing(api, url):
    problem(api.post(url, json={"name": "Acme", "seats": "x"}), 422, "seats")
    assert api.get(url).json()["total"] == 0


# ------------------------------------------------------------------- read


def test_reading_a_missing_record_is_404(api, url):
    body = problem(api.get(f"{url}/12345"), 404)
    assert "12345" in body["detail"]


# ------------------------------------------------------------------ patch


def test_patch_changes_only_the_fields_sent_and_bumps_the_version(api, url):
    record = create(api, url, name="Acme", code="AC", seats=3)
    response = api.patch(f"{url}/{record['id']}", json={"seats": 4})
    assert response.status_code == 200
    patched = response.json()
    assert patched["seats"] == 4 and patched["name"] == "Acme" and patched["code"] == "AC"
    assert patched["version"] == 2 and response.headers["etag"] == '"2"'
    assert patched["created_at"] == record["created_at"]
    assert patched["updated_at"] >= record["updated_at"]
    assert api.get(f"{url}/{record['id']}").json() == patched


def test_patch_with_null_clears_an_optional_field(api, url):
    record = create(api, url, name="Acme", seats=3)
    patched = api.patch(f"{url}/{record['id']}", json={"seats": None}).json()
    assert patched["seats"] is None


def test_patch_cannot_clear_a_required_field(api, url):
    record = create(api, url, name="Acme")
    problem(api.patch(f"{url}/{record['id']}", json={"name": None}), 422, "name")
    problem(api.patch(f"{url}/{record['id']}", json={"name": "   "}), 422, "name")
    assert api.get(f"{url}/{record['id']}").json()["name"] == "Acme"


def test_patch_without_changes_keeps_the_version(api, url):
    record = create(api, url, name="Acme", seats=3)
    same = api.patch(f"{url}/{record['id']}", json={"seats": 3, "name": "Acme"})
    assert same.status_code == 200 and same.json()["version"] == 1
    assert len(api.get(f"{url}/{record['id']}/history").json()["items"]) == 1


def test_invalid_patch_changes_nothing(api, url):
    record = create(api, url, name="Acme", seats=3)
    problem(api.patch(f"{url}/{record['id']}", json={"seats": 4, "tier": "bronze"}), 422, "tier")
    assert api.get(f"{url}/{record['id']}").json() == record


def test_patch_of_system_fields_is_refused(api, url):
    record = create(api, url, name="Acme")
    problem(api.patch(f"{url}/{record['id']}", json={"version": 5}), 422, "version")
    problem(api.patch(f"{url}/{record['id']}", json={"created_by": 1}), 422, "created_by")


def test_patching_a_missing_record_is_404(api, url):
    problem(api.patch(f"{url}/999", json={"seats": 1}), 404)


# ------------------------------------------------------- optimistic locking


def test_matching_if_match_is_accepted(api, url):
    record = create(api, url, name="Acme")
    for header in ('"1"', "1", 'W/"1"'):
        version = api.get(f"{url}/{record['id']}").json()["version"]
        header = header.replace("1", str(version))
        response = api.patch(f"{url}/{record['id']}", json={"seats": version}, headers={"If-Match": header})
        assert response.status_code == 200, (header, response.text)
        assert response.json()["version"] == version + 1


def test_stale_if_match_is_refused_with_412(api, url):
    record = create(api, url, name="Acme", seats=1)
    first = api.patch(f"{url}/{record['id']}", json={"seats": 2}, headers={"If-Match": '"1"'})
    assert first.status_code == 200
    stale = api.patch(f"{url}/{record['id']}", json={"seats": 3}, headers={"If-Match": '"1"'})
    body = problem(stale, 412)
    assert body["current_version"] == 2
    assert api.get(f"{url}/{record['id']}").json()["seats"] == 2


def test_future_if_match_is_refused_with_412(api, url):
    record = create(api, url, name="Acme")
    problem(api.patch(f"{url}/{record['id']}", json={"seats": 3}, headers={"If-Match": '"99"'}), 412)


def test_malformed_if_match_is_a_400(api, url):
    record = create(api, url, name="Acme")
    for header in ('"abc"', '"-1"', '"1.5"', '"\xb2"'.encode("latin-1"), ""):
        response = api.patch(f"{url}/{record['id']}", json={"seats": 3}, headers={"If-Match": header})
        problem(response, 400, "If-Match")
    assert api.get(f"{url}/{record['id']}").json()["version"] == 1


def test_delete_with_stale_if_match_is_refused_with_412(api, url):
    record = create(api, url, name="Acme")
    api.patch(f"{url}/{record['id']}", json={"seats": 2})
    problem(api.delete(f"{url}/{record['id']}", headers={"If-Match": '"1"'}), 412)
    assert api.get(f"{url}/{record['id']}").status_code == 200
    assert api.delete(f"{url}/{record['id']}", headers={"If-Match": '"2"'}).status_code == 204


# ------------------------------------------------------ delete and restore


def test_deleted_record_disappears_from_reads_and_lists(api, url):
    kept = create(api, url, name="Kept")
    gone = create(api, url, name="Gone")
    response = api.delete(f"{url}/{gone['id']}")
    assert response.status_code == 204 and response.content == b""
    problem(api.get(f"{url}/{gone['id']}"), 404)
    listed = api.get(url).json()
    assert [r["id"] for r in listed["items"]] == [kept["id"]] and listed["total"] == 1


def test_deleting_twice_is_404(api, url):
    record = create(api, url, name="Acme")
    assert api.delete(f"{url}/{record['id']}").status_code == 204
    problem(api.delete(f"{url}/{record['id']}"), 404)


def test_deleted_record_cannot_be_patched(api, url):
    record = create(api, url, name="Acme")
    api.delete(f"{url}/{record['id']}")
    problem(api.patch(f"{url}/{record['id']}", json={"seats": 1}), 404)


def test_restore_brings_the_record_back_with_its_values(api, url):
    record = create(api, url, name="Acme", code="AC", credit="5.00")
    api.delete(f"{url}/{record['id']}")
    response = api.post(f"{url}/{record['id']}/restore")
    assert response.status_code == 200
    restored = response.json()
    assert restored["version"] == 3 and response.headers["etag"] == '"3"'
    assert {k: restored[k] for k in ("name", "code", "credit")} == {"name": "Acme", "code": "AC", "credit": "5.00"}
    assert api.get(f"{url}/{record['id']}").json() == restored
    assert api.get(url).json()["total"] == 1


def test_restoring_a_live_or_missing_record_is_404(api, url):
    record = create(api, url, name="Acme")
    problem(api.post(f"{url}/{record['id']}/restore"), 404)
    problem(api.post(f"{url}/4242/restore"), 404)


# -------------------------------------------------------------- uniqueness


def test_duplicate_unique_value_is_a_409_naming_the_field_and_the_holder(api, url):
    holder = create(api, url, name="Acme", code="AC")
    body = problem(api.post(url, json={"name": "Other", "code": "AC"}), 409, "code")
    message = message_at(body, "code")
    assert "unique" in message and str(holder["id"]) in message and "AC" in message
    assert api.get(url).json()["total"] == 1


def test_duplicate_unique_value_on_patch_is_a_409(api, url):
    holder = create(api, url, name="Acme", email="a@example.com")
    other = create(api, url, name="Other", email="b@example.com")
    body = problem(api.patch(f"{url}/{other['id']}", json={"email": "a@EXAMPLE.com"}), 409, "email")
    assert str(holder["id"]) in message_at(body, "email")
    assert api.get(f"{url}/{other['id']}").json()["email"] == "b@example.com"


def test_a_record_may_keep_its_own_unique_value(api, url):
    record = create(api, url, name="Acme", code="AC")
    response = api.patch(f"{url}/{record['id']}", json={"code": "AC", "name": "Acme Ltd"})
    assert response.status_code == 200 and response.json()["code"] == "AC"


def test_empty_values_never_conflict(api, url):
    create(api, url, name="One")
    create(api, url, name="Two", code=None)
    create(api, url, name="Three", code="")
    assert api.get(url).json()["total"] == 3


def test_soft_deleted_rows_do_not_block_unique_values(api, url):
    old = create(api, url, name="Old", code="AC")
    assert api.delete(f"{url}/{old['id']}").status_code == 204
    new = create(api, url, name="New", code="AC")
    assert new["code"] == "AC"
    body = problem(api.post(f"{url}/{old['id']}/restore"), 409, "code")
    assert str(new["id"]) in message_at(body, "code")
    problem(api.get(f"{url}/{old['id']}"), 404)


def test_restore_succeeds_when_the_unique_value_is_free_again(api, url):
    old = create(api, url, name="Old", code="AC")
    api.delete(f"{url}/{old['id']}")
    new = create(api, url, name="New", code="AC")
    api.delete(f"{url}/{new['id']}")
    assert api.post(f"{url}/{old['id']}/restore").status_code == 200


# ----------------------------------------------------------------- history


def test_history_records_field_level_diffs_in_order(api, url):
    record = create(api, url, name="Acme", credit="1.00", tier="gold")
    rid = record["id"]
    api.patch(f"{url}/{rid}", json={"credit": "2.50", "tier": None, "name": "Acme"})
    api.patch(f"{url}/{rid}", json={"seats": 10})
    api.delete(f"{url}/{rid}")
    api.post(f"{url}/{rid}/restore")
    response = api.get(f"{url}/{rid}/history")
    assert response.status_code == 200
    items = response.json()["items"]
    assert [(h["action"], h["version"]) for h in items] == [
        ("create", 1),
        ("update", 2),
        ("update", 3),
        ("delete", 4),
        ("restore", 5),
    ]
    assert items[0]["changes"] == {
        "name": {"before": None, "after": "Acme"},
        "credit": {"before": None, "after": "1.00"},
        "tier": {"before": None, "after": "gold"},
    }
    assert items[1]["changes"] == {
        "credit": {"before": "1.00", "after": "2.50"},
        "tier": {"before": "gold", "after": None},
    }
    assert items[2]["changes"] == {"seats": {"before": None, "after": 10}}
    assert all(h["at"].endswith("Z") for h in items)


def test_history_of_a_deleted_record_is_still_readable(api, url):
    record = create(api, url, name="Acme")
    api.delete(f"{url}/{record['id']}")
    items = api.get(f"{url}/{record['id']}/history").json()["items"]
    assert [h["action"] for h in items] == ["create", "delete"]


def test_history_of_a_missing_record_is_404(api, url):
    problem(api.get(f"{url}/777/history"), 404)


def test_refused_changes_leave_no_history(api, url):
    record = create(api, url, name="Acme", code="AC")
    other = create(api, url, name="Other")
    api.patch(f"{url}/{other['id']}", json={"code": "AC"})
    api.patch(f"{url}/{record['id']}", json={"seats": 1}, headers={"If-Match": '"9"'})
    api.patch(f"{url}/{record['id']}", json={"seats": "x"})
    for rid in (record["id"], other["id"]):
        assert [h["action"] for h in api.get(f"{url}/{rid}/history").json()["items"]] == ["create"]


# -------------------------------------------------------------------- bulk


def test_bulk_create_returns_every_record_in_order(api, url):
    payload = {"records": [{"name": f"c{i}", "code": f"C{i}", "seats": i} for i in range(5)]}
    response = api.post(f"{url}/bulk", json=payload)
    assert response.status_code == 201
    items = response.json()["items"]
    assert [r["name"] for r in items] == [f"c{i}" for i in range(5)]
    assert [r["seats"] for r in items] == list(range(5))
    assert len({r["id"] for r in items}) == 5
    assert api.get(url).json()["total"] == 5
    history = api.get(f"{url}/{items[2]['id']}/history").json()["items"]
    assert history[0]["changes"]["code"] == {"before": None, "after": "C2"}


def test_bulk_create_is_all_or_nothing_and_names_the_bad_row(api, url):
    payload = {"records": [{"name": "ok"}, {"name": "bad", "seats": "x"}, {"seats": 1}]}
    body = problem(api.post(f"{url}/bulk", json=payload), 422, "records[1].seats")
    assert "records[2].name" in {e["path"] for e in body["errors"]}
    assert api.get(url).json()["total"] == 0


def test_bulk_create_refuses_repeated_unique_values_within_the_batch(api, url):
    payload = {"records": [{"name": "a", "code": "X"}, {"name": "b", "code": "X"}]}
    problem(api.post(f"{url}/bulk", json=payload), 409, "records[1].code")
    assert api.get(url).json()["total"] == 0


def test_bulk_create_refuses_values_held_by_existing_records(api, url):
    holder = create(api, url, name="Acme", code="X")
    payload = {"records": [{"name": "a", "code": "Y"}, {"name": "b", "code": "X"}]}
    body = problem(api.post(f"{url}/bulk", json=payload), 409, "records[1].code")
    assert str(holder["id"]) in message_at(body, "records[1].code")
    assert api.get(url).json()["total"] == 1


@pytest.mark.parametrize("payload", [{}, {"records": []}, {"records": {"name": "a"}}, [{"name": "a"}]])
def test_bulk_create_needs_a_non_empty_list_of_records(api, url, payload):
    problem(api.post(f"{url}/bulk", json=payload), 400, "records")


def test_bulk_create_refuses_non_object_rows(api, url):
    problem(api.post(f"{url}/bulk", json={"records": [{"name": "a"}, "b"]}), 422, "records[1]")
    assert api.get(url).json()["total"] == 0


def test_bulk_create_refuses_more_than_the_limit(api, url):
    payload = {"records": [{"name": "a"}] * 1001}
    problem(api.post(f"{url}/bulk", json=payload), 400, "records")
    assert api.get(url).json()["total"] == 0
