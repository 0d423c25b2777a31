"""A request's authentication and its first statements share one connection and one transaction;
a pooled PostgreSQL connection is checked before use only after it sat idle."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, exc, func, select, text

from opsloom.app import create_app
from opsloom.designer import publishing
from opsloom.platform import database
from opsloom.platform.database import Database, PoolLimits
from opsloom.platform.settings import Settings
from opsloom.runtime.records import WriteContext, write_hooks
from tests.builders import create, field, form, problem, publish_app, records_url
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, another_client, create_user, log_in, query, sent_statements
from tests.databases import postgres_database

NOTE = form("note", field("title", required=True), title_field="title")
NOTES = records_url("crm", "note")


@pytest.fixture
def quiet(settings: Settings) -> Iterator[TestClient]:
    """The admin, logged in, on a server with no background work: every checkout is a request's."""
    no_background = {"run_worker": False, "run_jobs": False, "settings_refresh_seconds": 3600}
    quiet_settings = settings.model_copy(update=no_background)
    with TestClient(create_app(quiet_settings), raise_server_exceptions=False) as client:
        create_user(client, ADMIN_EMAIL, ADMIN_PASSWORD, is_admin=True)
        log_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        publish_app(client, "crm", NOTE)
        yield client


@contextmanager
def counted(client: TestClient) -> Iterator[dict[str, int]]:
    """Connections checked out of the pool and transactions begun, while the block runs."""
    engine = client.app.state.db.engine.sync_engine  # type: ignore[attr-defined]
    seen = {"checkouts": 0, "transactions": 0}

    def checkout(*_: object) -> None:
        seen["checkouts"] += 1

    def begin(*_: object) -> None:
        seen["transactions"] += 1

    event.listen(engine.pool, "checkout", checkout)
    event.listen(engine, "begin", begin)
    try:
        yield seen
    finally:
        event.remove(engine.pool, "checkout", checkout)
        event.remove(engine, "begin", begin)


def unremembered(client: TestClient) -> TestClient:
    """The client, its caller forgotten by the server (`PrincipalCache`): the next request looks them up."""
    client.app.state.principals.forget()  # type: ignore[attr-defined]
    return client


def checked_out(client: TestClient) -> int:
    return client.app.state.db.engine.sync_engine.pool.checkedout()  # type: ignore[attr-defined]


def test_a_read_authenticates_and_reads_in_one_transaction(quiet: TestClient) -> None:
    note = create(quiet, NOTES, title="first")
    with counted(quiet) as seen:
        read = unremembered(quiet).get(f"{NOTES}/{note['id']}")
        listed = unremembered(quiet).get(NOTES)
    assert read.status_code == 200 and read.json()["title"] == "first"
    assert [item["id"] for item in listed.json()["items"]] == [note["id"]]
    assert seen == {"checkouts": 2, "transactions": 2}  # one each
    assert checked_out(quiet) == 0


def test_a_remembered_caller_is_not_looked_up_again(quiet: TestClient) -> None:
    note = create(quiet, NOTES, title="first")
    with sent_statements(quiet) as sent:
        looked_up = unremembered(quiet).get(f"{NOTES}/{note['id']}")
    first = [s for s in sent if not s.startswith("BEGIN")]
    with sent_statements(quiet) as sent:
        remembered = quiet.get(f"{NOTES}/{note['id']}")
    statements = [s for s in sent if not s.startswith("BEGIN")]
    assert looked_up.json() == remembered.json()
    assert len(first) == 2 and "opsloom_users" in first[0]
    assert len(statements) == 1 and "opsloom_users" not in statements[0]  # the record's read alone


def test_a_create_with_the_form_cached_sends_the_statements_its_database_needs(quiet: TestClient) -> None:
    """The record's INSERT itself confirms the cached form, and holds it against a publish until
    the commit: PostgreSQL reads its definition FOR KEY SHARE inside the INSERT; on SQLite the one
    writer's lock keeps a publish out. Then one statement of logs."""
    create(quiet, NOTES, title="first")  # the form is cached and the caller remembered from here on
    with sent_statements(quiet) as sent:
        second = create(quiet, NOTES, title="second")
    statements = [s for s in sent if not s.startswith("BEGIN")]
    table = records_table(quiet)
    assert len(statements) == 2, statements
    assert statements[0].startswith(f"INSERT INTO {table} ") and "opsloom_definitions" in statements[0]
    postgresql = quiet.app.state.db.is_postgresql  # type: ignore[attr-defined]
    assert ("FOR KEY SHARE" in statements[0]) == postgresql
    # the history, the audit line and the event: a CTE on PostgreSQL, a view's trigger on SQLite
    assert statements[1].startswith("WITH log_0 AS" if postgresql else "INSERT INTO opsloom_log_rows ")
    titles = [r["title"] for r in quiet.get(NOTES, params={"sort": "id"}).json()["items"]]
    assert titles == ["first", "second"] and second["version"] == 1


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_a_publish_waits_for_a_create_made_with_the_cached_form(quiet: TestClient) -> None:
    """A create in flight holds the form's definition (FOR KEY SHARE, taken by its INSERT): a publish
    begun meanwhile waits for its commit, and the record is there under the new version. (SQLite's
    one writer at a time is tested in tests/platform/test_write_turn.py.)"""
    create(quiet, NOTES, title="first")  # the form is cached from here on
    design = "/api/design/apps/crm/forms/note"
    assert quiet.put(design, json=form("note", field("title", required=True), field("memo"))).status_code == 200
    inserted, release = threading.Event(), threading.Event()

    async def hold(write: WriteContext) -> None:
        inserted.set()
        await asyncio.to_thread(release.wait, 30)

    hooks = write_hooks(quiet.app.state.db)  # type: ignore[attr-defined]
    hooks.after("insert", hold)
    waiting = (
        select(func.count())
        .where(text("wait_event_type = 'Lock' AND datname = current_database()"))
        .select_from(text("pg_stat_activity"))
    )
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            created = pool.submit(quiet.post, NOTES, json={"title": "held"})
            assert inserted.wait(30), "the create never inserted"
            published = pool.submit(quiet.post, f"{design}/publish")
            for _ in range(300):
                if query(quiet, waiting) == [(1,)]:
                    break
                time.sleep(0.1)
            assert query(quiet, waiting) == [(1,)] and not published.done()  # the publish waits on the lock
            release.set()
            held, publish = created.result(30), published.result(30)
    finally:
        release.set()
        hooks.remove(hold)
    assert held.status_code == 201, held.text
    assert publish.status_code == 200, publish.text
    items = quiet.get(NOTES, params={"sort": "id"}).json()["items"]
    assert [(r["title"], r["memo"]) for r in items] == [("first", None), ("held", None)]
    assert create(quiet, NOTES, title="after", memo="new")["memo"] == "new"


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_a_create_that_meets_a_publish_holding_the_form_gives_way_holding_nothing(
    quiet: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A publish locks the definition, then alters the table. A create with the cached form that
    waited for the definition inside its INSERT would hold the table meanwhile: a deadlock. It
    gives way at once (NOWAIT) and waits for the definition first, holding nothing of the table."""
    create(quiet, NOTES, title="first")  # the form is cached from here on
    design = "/api/design/apps/crm/forms/note"
    assert quiet.put(design, json=form("note", field("title", required=True), field("memo"))).status_code == 200
    locked, go_on = threading.Event(), threading.Event()
    apply_plan = publishing.apply_plan

    async def paused(*args: object, **kwargs: object) -> object:
        locked.set()
        await asyncio.to_thread(go_on.wait, 30)
        return await apply_plan(*args, **kwargs)

    monkeypatch.setattr(publishing, "apply_plan", paused)
    table = records_table(quiet)
    waiters = text(
        "SELECT a.pid, bool_or(l.relation = CAST(:table AS regclass) AND l.granted) FROM pg_stat_activity a"
        " LEFT JOIN pg_locks l ON l.pid = a.pid"
        " WHERE a.wait_event_type = 'Lock' AND a.datname = current_database() GROUP BY a.pid"
    ).bindparams(table=table)
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            published = pool.submit(quiet.post, f"{design}/publish")
            assert locked.wait(30), "the publish never got to its plan"
            created = pool.submit(quiet.post, NOTES, json={"title": "meanwhile"})
            for _ in range(300):
                if query(quiet, waiters):
                    break
                time.sleep(0.1)
            (create_waits,) = query(quiet, waiters)
            assert create_waits[1] is False  # waiting for the definition, holding no lock on the table
            go_on.set()
            publish, meanwhile = published.result(30), created.result(30)
    finally:
        go_on.set()
    assert publish.status_code == 200, publish.text
    assert meanwhile.status_code == 201, meanwhile.text
    assert meanwhile.json()["memo"] is None  # written with the version the publish made
    items = quiet.get(NOTES, params={"sort": "id"}).json()["items"]
    assert [r["title"] for r in items] == ["first", "meanwhile"]


def records_table(client: TestClient) -> str:
    return client.app.state.forms.peek("crm", "note").table.name  # type: ignore[attr-defined]


def test_a_remembered_callers_read_begins_no_transaction(quiet: TestClient) -> None:
    """No BEGIN and COMMIT around a read's statement (`Database.reading`: on PostgreSQL two round
    trips saved); writes keep their transaction."""
    note = create(quiet, NOTES, title="first")
    quiet.get(NOTES)  # the caller is remembered from here on
    with began(quiet) as begun:
        read, listed = quiet.get(f"{NOTES}/{note['id']}"), quiet.get(NOTES, params={"limit": 1})
    assert read.json()["title"] == "first" and [r["id"] for r in listed.json()["items"]] == [note["id"]]
    assert begun == []
    with began(quiet) as begun:
        changed = quiet.patch(f"{NOTES}/{note['id']}", json={"title": "second"}, headers={"If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    assert len(begun) == 1 and quiet.get(f"{NOTES}/{note['id']}").json()["title"] == "second"
    assert checked_out(quiet) == 0


@contextmanager
def began(client: TestClient) -> Iterator[list[str]]:
    """The transactions the database was asked to begin while the block runs (PostgreSQL: asyncpg's
    BEGIN round trips; SQLite: the BEGIN statements Opsloom sends)."""
    begun: list[str] = []
    if client.app.state.db.is_sqlite:  # type: ignore[attr-defined]
        with sent_statements(client) as sent:
            yield begun
        begun.extend(s for s in sent if s.startswith("BEGIN"))
        return
    from asyncpg.transaction import Transaction

    start = Transaction.start

    async def counted(self: Transaction) -> None:
        begun.append("BEGIN")
        await start(self)

    Transaction.start = counted  # type: ignore[method-assign]
    try:
        yield begun
    finally:
        Transaction.start = start  # type: ignore[method-assign]


def test_a_write_continues_the_transaction_on_postgresql_and_begins_its_own_on_sqlite(
    quiet: TestClient, db_kind: str
) -> None:
    with counted(quiet) as seen:
        created = unremembered(quiet).post(NOTES, json={"title": "written"})
    assert created.status_code == 201, created.text
    # SQLite: a write begins as one (BEGIN IMMEDIATE), after the body has arrived.
    expected = 1 if db_kind == "postgresql" else 2
    assert seen == {"checkouts": expected, "transactions": expected}
    assert [item["title"] for item in quiet.get(NOTES).json()["items"]] == ["written"]
    assert checked_out(quiet) == 0


def test_a_refused_write_in_the_held_transaction_leaves_nothing_behind(quiet: TestClient) -> None:
    refused = quiet.post(NOTES, json={"title": ""})
    problem(refused, 422, "title")
    again = quiet.post(f"{NOTES}/bulk", json={"records": [{"title": "kept?"}, {"title": ""}]})
    problem(again, 422)
    assert quiet.get(NOTES).json()["items"] == []
    assert checked_out(quiet) == 0


def test_a_held_transaction_no_route_takes_is_ended(quiet: TestClient) -> None:
    with counted(quiet) as seen:
        invalid = unremembered(quiet).get(f"{NOTES}/0")  # refused by the path's rules before the route runs
        missing = unremembered(quiet).get(records_url("crm", "nothing"))
    problem(invalid, 400, "record_id")
    problem(missing, 404)
    assert seen["checkouts"] == 2
    assert checked_out(quiet) == 0
    publish_app(quiet, "hr", form("memo", field("title"), title_field="title"))
    made = quiet.post("/api/auth/tokens", json={"name": "hr only", "apps": ["hr"]})
    assert made.status_code == 201, made.text
    script = another_client(quiet, headers={"Authorization": f"Bearer {made.json()['token']}"})
    assert script.get(records_url("hr", "memo")).status_code == 200  # its first use noted (a write of its own)
    with counted(quiet) as seen:
        refused = unremembered(script).get(NOTES)  # the authentication refuses it, after holding a session
    problem(refused, 403)
    assert seen["checkouts"] == 1
    assert checked_out(quiet) == 0
    # The connections went back with no transaction left open: a schema change is not blocked.
    assert query(quiet, select(text("1"))) == [(1,)]


def test_an_api_token_used_for_the_first_time_is_noted_and_reads(quiet: TestClient) -> None:
    note = create(quiet, NOTES, title="by token")
    token = quiet.post("/api/auth/tokens", json={"name": "script", "write": True}).json()["token"]
    script = another_client(quiet, headers={"Authorization": f"Bearer {token}"})
    first = script.get(f"{NOTES}/{note['id']}")
    created = script.post(NOTES, json={"title": "from the script"})
    assert first.status_code == 200 and first.json()["title"] == "by token"
    assert created.status_code == 201, created.text
    tokens = quiet.get("/api/auth/tokens").json()["items"]
    assert tokens[0]["last_used_at"] is not None
    assert checked_out(quiet) == 0


# ------------------------------------------------------- idle connections


async def _after_the_server_restarts(url: str, ping_after: float) -> object:
    """Use a pooled connection, kill it on the server (as a restart does), wait, then use the pool again."""
    db = Database(url, pool=PoolLimits(size=1, overflow=0, ping_after=ping_after))
    try:
        async with db.session() as session:
            pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar()
        async with Database(url).session() as admin:
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await asyncio.sleep(0.3)
        async with db.session() as session:
            return (await session.execute(text("SELECT pg_backend_pid() <> :pid"), {"pid": pid})).scalar()
    finally:
        await db.dispose()


def test_an_idle_connection_that_died_is_replaced_before_use_on_postgresql() -> None:
    with postgres_database() as url:
        assert asyncio.run(_after_the_server_restarts(url, ping_after=0.1)) is True
        # Checked only after `ping_after`: a connection back in the pool for less is used as it is.
        with pytest.raises(exc.DBAPIError):
            asyncio.run(_after_the_server_restarts(url, ping_after=60))


# ------------------------------------------------------- SQLite's one writer


def test_sqlite_writers_take_turns_and_one_that_waits_too_long_gets_503(tmp_path, monkeypatch) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'turns.db'}",
        data_dir=tmp_path / "data",
        secret_key="test-secret",
        run_worker=False,
        run_jobs=False,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        create_user(client, ADMIN_EMAIL, ADMIN_PASSWORD, is_admin=True)
        log_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        publish_app(client, "crm", NOTE)
        db = client.app.state.db  # type: ignore[attr-defined]
        writers = [another_client(client) for _ in range(8)]
        for writer in writers:
            writer.cookies, writer.headers = client.cookies, client.headers
        with ThreadPoolExecutor(8) as threads:
            statuses = list(
                threads.map(lambda n: writers[n].post(NOTES, json={"title": f"n{n}"}).status_code, range(8))
            )
        assert statuses == [201] * 8
        assert len(client.get(NOTES).json()["items"]) == 8

        monkeypatch.setattr(database, "SQLITE_BUSY_SECONDS", 0.2)
        with client.portal.wrap_async_context_manager(db.session(write=True)):
            waited = client.post(NOTES, json={"title": "late"})
        body = problem(waited, 503)
        assert int(waited.headers["retry-after"]) >= 1 and "locked by other writes" in body["detail"]
        assert [item["title"] for item in client.get(NOTES).json()["items"]].count("late") == 0
