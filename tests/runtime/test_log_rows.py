"""A record write's history, audit and outbox rows are written together when the write ends: in one
statement on PostgreSQL for a write of one record, one per log on SQLite and for a write of many; a
write that fails after they were appended writes none of them, nor the record."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from opsloom.platform import tables
from opsloom.runtime.records.pipeline import WriteContext, write_hooks
from tests.builders import create, field, form, problem, publish_app, records_url
from tests.conftest import query, sent_statements

NOTES = records_url("crm", "note")
LOGS = ("opsloom_record_history", "opsloom_audit_log", "opsloom_outbox")


@pytest.fixture
def api(client: TestClient) -> TestClient:
    publish_app(client, "crm", form("note", field("title", required=True), title_field="title"))
    return client


def logs_written(sent: list[str]) -> list[set[str]]:
    """For each statement that writes a log: the logs it writes."""
    written = [{log for log in LOGS if f"INSERT INTO {log} " in statement} for statement in sent]
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
    if db_kind == "postgresql":
        assert logs_written(sent) == [set(LOGS)]
    else:
        assert sorted(map(sorted, logs_written(sent))) == [[log] for log in sorted(LOGS)]
    history, audit, events = logged(api, note["id"])
    assert history == ["create", "update"] and sorted(audit) == ["record.create", "record.update"]
    assert events == ["record.created", "record.updated"]
    payload = query(api, select(tables.outbox.c.payload).where(tables.outbox.c.record_id == note["id"]))
    assert payload[0].payload["record"]["title"] == "first"


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
