"""Attachment fields: upload, attach, read back, download, detach, permissions, limits, purge."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from opsloom.cli import main
from opsloom.platform import tables
from opsloom.platform.context import Principal, RequestContext
from opsloom.platform.errors import Conflict, ValidationFailed
from opsloom.platform.files import FileStore
from opsloom.platform.permissions import full_access
from opsloom.runtime import attachments, records
from tests.builders import create, field, form, message_at, problem, publish_app, records_url
from tests.conftest import another_client, create_user, log_in, query

APP = "office"
URL = records_url(APP, "claim")
FILES = f"/api/apps/{APP}/forms/claim/files"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 4
QUOTE = "报价单 Q1.pdf"


def publish(client: TestClient, **docs: Any) -> None:
    claim = form(
        "claim",
        field("title", required=True),
        field("docs", "attachment", **docs),
        field("photos", "attachment", accept=["image/*"]),
        title_field="title",
    )
    publish_app(client, APP, claim)


def upload(
    client: TestClient, name: str = QUOTE, content: bytes = PDF, key: str = "docs", declared: str = "application/pdf"
) -> Any:
    return client.post(FILES, params={"field": key}, files={"file": (name, content, declared)})


def uploaded(client: TestClient, name: str = QUOTE, content: bytes = PDF, key: str = "docs") -> dict[str, Any]:
    response = upload(client, name, content, key)
    assert response.status_code == 201, response.text
    return response.json()


def stored_files(client: TestClient) -> list[Any]:
    """Every file on disk under the data dir's files folder (finished or not)."""
    root = client.app.state.settings.files_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def file_row(client: TestClient, file_id: int) -> Any:
    rows = query(client, select(tables.files).where(tables.files.c.id == file_id))
    return rows[0] if rows else None


def user_client(client: TestClient, name: str, *roles: str) -> tuple[TestClient, int]:
    """A second user, logged in on their own client, holding `roles` of the app."""
    email, password = f"{name}@example.com", f"{name}-password"
    user_id = create_user(client, email, password)["id"]
    for role in roles:
        added = client.post(f"/api/roles/{APP}/{role}/members", json={"add": [user_id]})
        assert added.status_code == 200, added.text
    other = another_client(client)
    log_in(other, email, password)
    return other, user_id


def role(client: TestClient, key: str, **grant: Any) -> None:
    saved = client.post("/api/roles", json={"app": APP, "key": key, "label": key, "permissions": {"claim": grant}})
    assert saved.status_code == 200, saved.text


# ------------------------------------------------------------ the happy path


def test_a_file_is_uploaded_attached_read_back_and_downloaded_under_its_own_name(client):
    publish(client, accept=[".pdf", "image/*"])
    sent = upload(client, declared="application/octet-stream")
    assert sent.status_code == 201, sent.text
    file = sent.json()
    assert file == {
        "id": file["id"],
        "name": QUOTE,
        "size": len(PDF),
        "content_type": "application/pdf",  # guessed from the name, not the declared type
        "sha256": hashlib.sha256(PDF).hexdigest(),
    }
    record = create(client, URL, title="Quote", docs=[file["id"]])
    value = [{"id": file["id"], "name": QUOTE, "size": len(PDF), "content_type": "application/pdf"}]
    assert record["docs"] == value
    assert client.get(f"{URL}/{record['id']}").json()["docs"] == value
    assert client.get(URL).json()["items"][0]["docs"] == value

    download = client.get(f"{FILES}/{file['id']}")
    assert download.status_code == 200 and download.content == PDF
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["x-content-type-options"] == "nosniff"
    disposition = download.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%E6%8A%A5%E4%BB%B7%E5%8D%95%20Q1.pdf" in disposition
    assert 'filename="Q1.pdf"' in disposition  # the plain-ASCII fallback

    (on_disk,) = stored_files(client)
    assert re.fullmatch(r"[0-9a-f]{32}", on_disk.name)  # never the user's name on disk
    assert on_disk.read_bytes() == PDF


def test_the_value_read_back_can_be_sent_back_unchanged(client):
    publish(client)
    file = uploaded(client)
    record = create(client, URL, title="Quote", docs=[file["id"]])
    same = client.patch(f"{URL}/{record['id']}", json={"docs": record["docs"]})
    assert same.status_code == 200, same.text
    assert same.json()["version"] == record["version"]  # nothing changed, nothing written
    assert same.json()["docs"] == record["docs"]


def test_an_attachment_field_is_not_sortable_and_filters_only_on_emptiness(client):
    publish(client)
    create(client, URL, title="with", docs=[uploaded(client)["id"]])
    create(client, URL, title="without")
    for op, titles in (("not_empty", ["with"]), ("is_empty", ["without"])):
        flt = json.dumps({"field": "docs", "op": op})
        assert [r["title"] for r in client.get(URL, params={"filter": flt}).json()["items"]] == titles
    problem(client.get(URL, params={"filter": json.dumps({"field": "docs", "op": "eq", "value": 1})}), 400)
    problem(client.get(URL, params={"sort": "docs"}), 400)


def test_the_field_options_are_checked_when_the_form_is_saved(client):
    client.put(f"/api/design/apps/{APP}", json={"key": APP, "label": "Office"})
    draft = form(
        "claim",
        field("title"),
        field("docs", "attachment", accept=["pdf", ".pdf"], max_files=101, max_size=0, default=[1]),
    )
    saved = client.put(f"/api/design/apps/{APP}/forms/claim", json=draft)
    assert saved.status_code == 200, saved.text
    paths = {p["path"] for p in saved.json()["problems"]}
    for path in ("accept[0]", "max_files", "max_size", "default"):
        assert f"fields[1].{path}" in paths, (path, paths)
    assert "fields[1].accept[1]" not in paths


# ----------------------------------------------------------- upload limits


def test_a_file_over_the_fields_size_limit_is_refused_and_nothing_is_kept(client):
    publish(client, max_size=1000)
    body = problem(upload(client, content=b"x" * 1001), 413, "docs")
    assert "1000" in message_at(body, "docs")
    assert stored_files(client) == []  # the part written before the limit was hit is gone
    assert query(client, select(tables.files)) == []
    assert uploaded(client, content=b"x" * 1000)["size"] == 1000


def test_uploads_may_be_larger_than_the_json_body_limit_which_still_holds_elsewhere(client):
    publish(client)
    big = b"y" * (3 * 1024 * 1024)  # OPSLOOM_MAX_BODY_BYTES is 2 MiB
    assert uploaded(client, content=big)["size"] == len(big)
    problem(client.post(URL, json={"title": "z" * len(big)}), 413)


def test_types_are_judged_by_the_name_never_by_the_declared_type(client):
    publish(client, accept=[".pdf", "application/msword"])
    body = problem(upload(client, "setup.exe", declared="application/pdf"), 415, "docs")
    assert ".pdf" in message_at(body, "docs")
    problem(upload(client, "photo.png", key="docs", declared="application/pdf"), 415, "docs")
    assert uploaded(client, "Memo.DOC")["content_type"] == "application/msword"
    assert uploaded(client, "scan.PDF")["content_type"] == "application/pdf"
    assert uploaded(client, "photo.jpg", key="photos")["content_type"] == "image/jpeg"
    problem(upload(client, "notes.txt", key="photos", declared="image/png"), 415, "photos")
    assert len(stored_files(client)) == 3


def test_bad_uploads_get_clear_errors(client):
    publish(client)
    problem(upload(client, content=b""), 422, "file")
    no_file = client.post(FILES, params={"field": "docs"}, files={"other": ("a.pdf", PDF, "application/pdf")})
    problem(no_file, 422, "file")
    text_part = client.post(FILES, params={"field": "docs"}, files={"file": (None, b"not a file")})
    problem(text_part, 422, "file")
    problem(client.post(FILES, params={"field": "docs"}, json={"file": "x"}), 415, "file")
    problem(client.post(FILES, files={"file": ("a.pdf", PDF)}), 400, "field")
    problem(upload(client, key="title"), 422, "field")
    problem(upload(client, key="nothing"), 422, "field")
    truncated = client.post(
        FILES,
        params={"field": "docs"},
        content=b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\nhalf a file',
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    problem(truncated, 400)
    assert stored_files(client) == []
    assert client.get(f"/api/apps/{APP}/forms/nowhere/files/1").status_code == 404


def test_a_file_name_keeps_no_path_and_no_control_characters(client):
    publish(client)
    file = uploaded(client, "../../etc/\u202eevil.pdf")  # U+202E would show it as "fdp.live"
    assert file["name"] == "evil.pdf"
    assert attachments.clean_name("C:\\Users\\li\\a\x00\x1fb.pdf ") == "ab.pdf"
    long = uploaded(client, "a" * 300 + ".pdf")["name"]
    assert len(long) == 255 and long.endswith(".pdf")


# ----------------------------------------------------------------- records


def test_a_record_holds_at_most_max_files(client):
    publish(client, max_files=2)
    ids = [uploaded(client, f"{n}.pdf")["id"] for n in range(3)]
    body = problem(client.post(URL, json={"title": "too many", "docs": ids}), 422, "docs")
    assert "at most 2" in message_at(body, "docs")
    assert len(create(client, URL, title="two", docs=ids[:2])["docs"]) == 2


def test_only_your_own_unattached_uploads_can_be_attached(client):
    publish(client)
    role(client, "clerk", create="all", read="all", update="own")
    bob, _ = user_client(client, "bob", "clerk")
    his = uploaded(bob)
    body = problem(client.post(URL, json={"title": "taken", "docs": [his["id"]]}), 422, "docs")
    assert "upload it" in message_at(body, "docs")
    # nor a file that does not exist, or that was uploaded for another field
    problem(client.post(URL, json={"title": "x", "docs": [999999]}), 422, "docs")
    photo = uploaded(client, "p.png", key="photos")
    problem(client.post(URL, json={"title": "x", "docs": [photo["id"]]}), 422, "docs")
    # his own upload he may attach
    assert create(bob, URL, title="his", docs=[his["id"]])["docs"][0]["id"] == his["id"]


def test_a_file_belongs_to_one_record(client):
    publish(client)
    file = uploaded(client)
    first = create(client, URL, title="first", docs=[file["id"]])
    problem(client.post(URL, json={"title": "second", "docs": [file["id"]]}), 422, "docs")
    other = create(client, URL, title="other")
    problem(client.patch(f"{URL}/{other['id']}", json={"docs": [file["id"]]}), 422, "docs")
    twice = {"records": [{"title": "a"}, {"title": "b", "docs": [uploaded(client)["id"]]}]}
    twice["records"][0]["docs"] = twice["records"][1]["docs"]
    problem(client.post(f"{URL}/bulk", json=twice), 422, "records[1].docs")
    assert client.get(f"{URL}/{first['id']}").json()["docs"][0]["id"] == file["id"]


def test_two_records_created_at_once_cannot_both_take_one_upload(client):
    publish(client)
    file_id = uploaded(client)["id"]
    uploader = file_row(client, file_id).created_by
    ctx = RequestContext.for_now(Principal(user_id=uploader, is_admin=True, via="session"))
    app = client.app

    async def attempt(title: str) -> str:
        try:
            async with app.state.db.session(write=True) as session:
                claim = await app.state.forms.get(session, APP, "claim")
                payload = {"title": title, "docs": [file_id]}
                await records.create_record(session, claim, ctx, payload, full_access(APP, "claim"))
        except (ValidationFailed, Conflict) as refused:  # refused up front, or by the attach itself
            return type(refused).__name__
        return "created"

    async def both() -> list[str]:
        return list(await asyncio.gather(attempt("a"), attempt("b")))

    outcomes = client.portal.call(both)
    assert outcomes.count("created") == 1, outcomes
    holders = [r for r in client.get(URL).json()["items"] if r["docs"]]
    assert len(holders) == 1 and file_row(client, file_id).record_id == holders[0]["id"]


def test_the_attach_step_refuses_a_file_another_record_took_after_the_check(client):
    publish(client)
    file_id = uploaded(client)["id"]
    ctx = RequestContext.for_now(Principal(user_id=file_row(client, file_id).created_by, via="session"))
    app = client.app

    async def race() -> None:
        async with app.state.db.session(write=True) as session:
            claim = await app.state.forms.get(session, APP, "claim")
            values = {"title": "late", "docs": [file_id]}
            await attachments.resolve_attachments(session, claim, ctx, [values], [""])  # still free here
            taken = update(tables.files).where(tables.files.c.id == file_id).values(record_id=424242)
            await session.execute(taken)  # as a concurrent request would, between check and write
            await attachments.link_attachments(session, claim, ctx, 1, None, values)

    with pytest.raises(Conflict):
        client.portal.call(race)
    assert file_row(client, file_id).record_id is None  # rolled back whole


def test_a_removed_file_stays_downloadable_and_in_the_history(client):
    publish(client)
    kept, removed = uploaded(client, "kept.pdf"), uploaded(client, "removed.pdf", b"old content")
    record = create(client, URL, title="Quote", docs=[kept["id"], removed["id"]])
    both = record["docs"]
    changed = client.patch(f"{URL}/{record['id']}", json={"docs": [kept["id"]]})
    assert changed.status_code == 200, changed.text
    assert [f["id"] for f in changed.json()["docs"]] == [kept["id"]]
    history = client.get(f"{URL}/{record['id']}/history").json()["items"]
    assert history[-1]["changes"] == {"docs": {"before": both, "after": [both[0]]}}
    download = client.get(f"{FILES}/{removed['id']}")
    assert download.status_code == 200 and download.content == b"old content"
    row = file_row(client, removed["id"])
    assert row.record_id == record["id"] and row.detached_at is not None
    # it may come back to the record it left
    back = client.patch(f"{URL}/{record['id']}", json={"docs": [kept["id"], removed["id"]]})
    assert back.status_code == 200 and [f["id"] for f in back.json()["docs"]] == [kept["id"], removed["id"]]
    assert file_row(client, removed["id"]).detached_at is None


def test_a_failed_write_attaches_nothing(client):
    publish(client)
    file = uploaded(client)
    problem(client.post(URL, json={"docs": [file["id"]]}), 422, "title")
    assert file_row(client, file["id"]).record_id is None
    assert create(client, URL, title="now", docs=[file["id"]])["docs"][0]["id"] == file["id"]


# ------------------------------------------------------------- permissions


def test_a_download_follows_the_records_row_scope(client):
    publish(client)
    role(client, "own_only", create="all", read="own", update="own")
    ann, _ = user_client(client, "ann", "own_only")
    theirs = create(client, URL, title="admin's", docs=[uploaded(client)["id"]])
    mine = create(ann, URL, title="ann's", docs=[uploaded(ann, "ann.pdf", b"ann")["id"]])
    problem(ann.get(f"{FILES}/{theirs['docs'][0]['id']}"), 404)
    assert ann.get(f"{FILES}/{mine['docs'][0]['id']}").content == b"ann"
    assert client.get(f"{FILES}/{mine['docs'][0]['id']}").content == b"ann"


def test_a_download_needs_the_field_to_be_visible(client):
    publish(client)
    role(client, "no_docs", read="all", fields={"docs": "hidden"})
    role(client, "reader", read="all")
    blind, _ = user_client(client, "blind", "no_docs")
    reader, _ = user_client(client, "reader", "reader")
    record = create(client, URL, title="secret quote", docs=[uploaded(client)["id"]])
    file_id = record["docs"][0]["id"]
    problem(blind.get(f"{FILES}/{file_id}"), 404)
    assert reader.get(f"{FILES}/{file_id}").content == PDF


def test_an_unattached_upload_is_its_uploaders_alone(client):
    publish(client)
    role(client, "clerk", create="all", read="all", update="all")
    bob, _ = user_client(client, "bob", "clerk")
    his = uploaded(bob)
    assert bob.get(f"{FILES}/{his['id']}").content == PDF
    problem(client.get(f"{FILES}/{his['id']}"), 404)  # not even a platform admin


def test_uploading_needs_a_right_to_write_a_visible_writable_field(client):
    publish(client)
    role(client, "reader", read="all")
    role(client, "clerk", create="all", read="all", fields={"docs": "read_only", "photos": "hidden"})
    reader, _ = user_client(client, "reader", "reader")
    clerk, _ = user_client(client, "clerk", "clerk")
    problem(upload(reader), 403)
    problem(upload(clerk), 403, "docs")
    problem(upload(clerk, "p.png", key="photos"), 422, "field")
    assert stored_files(client) == []


# ------------------------------------------------------------------- purge


def test_purge_removes_old_unattached_uploads_only(client):
    publish(client)
    old_orphan, new_orphan, old_attached = uploaded(client, "a.pdf"), uploaded(client, "b.pdf"), uploaded(client)
    create(client, URL, title="kept", docs=[old_attached["id"]])
    two_days_ago = datetime.now(UTC) - timedelta(hours=48)
    backdate = (
        update(tables.files)
        .where(tables.files.c.id.in_([old_orphan["id"], old_attached["id"]]))
        .values(created_at=two_days_ago)
    )

    async def run() -> None:
        async with client.app.state.db.session(write=True) as session:
            await session.execute(backdate)

    client.portal.call(run)
    assert len(stored_files(client)) == 3
    settings = client.app.state.settings
    env = {"OPSLOOM_DATABASE_URL": settings.database_url, "OPSLOOM_DATA_DIR": str(settings.data_dir)}
    result = CliRunner().invoke(main, ["files", "purge", "--older-than-hours", "24"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "removed 1 unattached upload" in result.output
    assert file_row(client, old_orphan["id"]) is None
    assert file_row(client, new_orphan["id"]) is not None and file_row(client, old_attached["id"]) is not None
    assert len(stored_files(client)) == 2
    problem(client.get(f"{FILES}/{old_orphan['id']}"), 404)


def test_purging_a_records_files_removes_their_content_only_once_committed(client):
    publish(client)
    record = create(client, URL, title="gone", docs=[uploaded(client)["id"], uploaded(client, "b.pdf")["id"]])
    client.patch(f"{URL}/{record['id']}", json={"docs": [record["docs"][0]["id"]]})  # one detached
    keep = create(client, URL, title="kept", docs=[uploaded(client, "c.pdf")["id"]])
    store = FileStore(client.app.state.settings.files_dir)
    form_id = file_row(client, record["docs"][0]["id"]).form_id

    class Abort(Exception):
        pass

    async def purge(fail: bool) -> int:
        async with client.app.state.db.session(write=True) as session:
            count = await attachments.purge_record_files(session, store, form_id, [record["id"]])
            if fail:
                raise Abort
        return count

    try:
        client.portal.call(purge, True)
    except Abort:
        pass
    assert len(stored_files(client)) == 3  # rolled back: rows and content are still there
    assert client.portal.call(purge, False) == 2
    assert len(stored_files(client)) == 1
    assert client.get(f"{FILES}/{keep['docs'][0]['id']}").status_code == 200


def test_purging_a_deleted_record_removes_it_its_history_and_its_files(client):
    publish(client)
    quote = uploaded(client)
    record = client.post(URL, json={"title": "Laptops", "docs": [quote["id"]]}).json()
    assert len(stored_files(client)) == 1
    live = client.delete(f"{URL}/{record['id']}", params={"purge": "true"})
    assert live.status_code == 404  # only a deleted record can be purged
    assert client.delete(f"{URL}/{record['id']}").status_code == 204
    assert stored_files(client) and file_row(client, quote["id"]) is not None  # deleted: kept, restorable
    assert client.delete(f"{URL}/{record['id']}", params={"purge": "true"}).status_code == 204
    assert stored_files(client) == [] and file_row(client, quote["id"]) is None
    assert client.post(f"{URL}/{record['id']}/restore").status_code == 404
    assert client.get(f"{URL}/{record['id']}/history").status_code == 404
    assert client.get(f"{FILES}/{quote['id']}").status_code == 404


def test_a_field_cannot_change_to_or_from_an_attachment(client):
    publish(client)
    changed = form(
        "claim",
        field("title", required=True),
        field("docs", "text"),
        field("photos", "attachment", accept=["image/*"]),
        title_field="title",
    )
    assert client.put(f"/api/design/apps/{APP}/forms/claim", json=changed).status_code == 200
    refused = client.post(f"/api/design/apps/{APP}/forms/claim/publish")
    assert refused.status_code == 409, refused.text
    assert refused.json()["errors"][0]["path"] == "fields.docs"
