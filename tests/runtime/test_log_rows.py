"""A record write's history, audit and outbox rows are written together when the write ends: in one
statement for a write of one record (on SQLite through the `opsloom_log_rows` view), one per log for
a write of many; a write that fails after they were appended writes none of them, nor the record."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from opsloom.app import create_app
from opsloom.platform import tables
from opsloom.platform.settings import Settings
from opsloom.runtime.records.pipeline import WriteContext, write_hooks
from tests.builders import create, field, form, problem, publish_app, records_url
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, log_in, query, sent_statements

NOTES = records_url("crm", "note")
LOGS = ("opsloom_record_history", "opsloom_audit_log", "opsloom_outbox")
VIEW = "opsloom_log_rows"  # SQLite: one row of it is a row of each log


@pytest.fixture
def api(client: TestClient) -> TestClient:
    publish_app(client, "crm", form("note", field("title", required=True), title_field="title"))
    return client


def logs_written(sent: list[str]) -> list[set[str]]:
    """For each statement that writes a log: the logs it writes."""
    written = [{log for log in (*LOGS, VIEW) if f"INSERT INTO {log} " in statement} for statement in sent]
    return [logs for logs in written if logs]


def logged(client: TestClient, record_id: int) -> tuple[list[str], list[str], list[str]]:
    h, a, o = tables.record_history, tables.audit_log, tables.outbox
    return (
        [r.action for r in query(client, select(h.c.action).where(h.c.record_id == record_id).order_by(h.c.id))],
        [r.action for r in query(client, select(a.c.action).where(a.c.target == f"crm/note/{record_id}"))],
        [r.topic for r in query(client, select(o.c.topic).where(o.c.record_id == record_id).order_by(o.c.id))],
    )


def test_a_create_and_an_update_write_their_logs_in_one_statement_on_postgresql(api: TestClient, db_kind: str) -> None:
    with sent_statements(api) as sent:
        note = create(api, NOTES, title="first")
    changed = api.patch(f"{NOTES}/{note['id']}", json={"title": "second"}, headers={"If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    assert logs_written(sent) == ([set(LOGS)] if db_kind == "postgresql" else [{VIEW}])
    history, audit, events = logged(api, note["id"])
    assert history == ["create", "update"] and sorted(audit) == ["record.create", "record.update"]
    assert events == ["record.created", "record.updated"]
    o, a, h = tables.outbox, tables.audit_log, tables.record_history
    event = query(api, select(o).where(o.c.record_id == note["id"]).order_by(o.c.id))[0]
    assert (event.app_key, event.form_key, event.dispatched_at) == ("crm", "note", None)
    assert event.payload["record"]["title"] == "first" and event.created_at is not None
    line = query(api, select(a).where(a.c.target == f"crm/note/{note['id']}").order_by(a.c.id))[0]
    assert line.detail == {"version": 1} and line.actor_id is not None and line.at is not None
    entry = query(api, select(h).where(h.c.record_id == note["id"]).order_by(h.c.id))[0]
    assert entry.record_version == 1 and entry.changes["title"]["after"] == "first"


def test_a_write_of_many_records_keeps_one_statement_per_log(api: TestClient) -> None:
    rows = [{"title": f"n{i}"} for i in range(2)]
    with sent_statements(api) as sent:
        created = api.post(f"{NOTES}/bulk", json={"records": rows})
    assert created.status_code == 201, created.text
    assert sorted(map(sorted, logs_written(sent))) == [[log] for log in sorted(LOGS)]
    h = tables.record_history
    assert query(api, select(func.count()).select_from(h).where(h.c.action == "create")) == [(len(rows),)]


def test_a_write_that_fails_after_its_logs_were_appended_leaves_nothing(api: TestClient) -> None:
    kept = create(api, NOTES, title="kept")

    async def refuse(write: WriteContext) -> None:
        if write.items and write.items[0].values.get("title") == "boom":
            raise RuntimeError("a hook failed after the history")

    hooks = write_hooks(api.app.state.db)  # type: ignore[attr-defined]
    hooks.after("history", refuse)
    try:
        failed = api.post(NOTES, json={"title": "boom"})
    finally:
        hooks.remove(refuse)
    problem(failed, 500)
    titles = [r["title"] for r in api.get(NOTES).json()["items"]]
    assert titles == ["kept"]
    h, o = tables.record_history, tables.outbox
    assert query(api, select(func.count()).select_from(h)) == [(1,)]
    assert [r.record_id for r in query(api, select(o.c.record_id))] == [kept["id"]]
    assert create(api, NOTES, title="after")["title"] == "after"  # the session's state did not leak
    assert logged(api, kept["id"])[0] == ["create"]


def test_a_server_that_leaves_migrating_to_another_process_writes_them_together_too(
    api: TestClient, settings: Settings, db_kind: str
) -> None:
    """`opsloom serve`'s workers do not migrate: each notes that the schema is current, and on
    SQLite makes the logs' view as a migrating process does."""
    with TestClient(create_app(settings.model_copy(update={"auto_upgrade": False}))) as worker:
        log_in(worker, ADMIN_EMAIL, ADMIN_PASSWORD)
        assert worker.app.state.db.migrated  # type: ignore[attr-defined]
        with sent_statements(worker) as sent:
            note = create(worker, NOTES, title="from a worker")
    assert logs_written(sent) == ([set(LOGS)] if db_kind == "postgresql" else [{VIEW}])
    assert logged(api, note["id"]) == (["create"], ["record.create"], ["record.created"])
