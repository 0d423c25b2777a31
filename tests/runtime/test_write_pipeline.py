"""A record write is one named pipeline; hooks registered around its stages run inside
the write's transaction: they see what the write did so far, and their failure undoes it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select

from opsloom.platform import tables
from opsloom.platform.errors import Conflict
from opsloom.runtime.records import PIPELINES, WriteContext, WriteHooks, write_hooks
from opsloom.runtime.records.pipeline import HOOKS_KEY
from tests.builders import admin_client, create, field, form, message_at, problem, publish_fresh
from tests.conftest import DATABASES, query

TICKET = form(
    "ticket",
    field("title", required=True, max_length=100),
    field("code", unique=True, max_length=20),
    field("lines", "subform", fields=[field("qty", "integer")]),
    title_field="title",
)


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("pipeline")) as client:
        yield client


@pytest.fixture
def url(api):
    return publish_fresh(api, "desk", TICKET)


@pytest.fixture
def hooks(api) -> Iterator[WriteHooks]:
    """Write hooks of this test's own, in place of the app's for as long as it runs."""
    info = api.app.state.db.session_info
    previous = info.get(HOOKS_KEY)
    info[HOOKS_KEY] = registry = WriteHooks()
    try:
        yield registry
    finally:
        if previous is None:
            del info[HOOKS_KEY]
        else:
            info[HOOKS_KEY] = previous


def total(api, url: str) -> int:
    return api.get(url).json()["total"]


def test_the_order_of_each_write_is_named_in_one_place():
    assert PIPELINES["create"].stage_names == (
        "parse",
        "defaults",
        "compute",
        "rules",
        "unique",
        "links",
        "files",
        "insert",
        "child_rows",
        "audit",
        "numbers",
        "history",
    )
    assert PIPELINES["update"].stage_names[:2] == ("parse", "load")
    assert PIPELINES["purge"].stage_names == (
        "load",
        "child_rows",
        "purge",
        "erase_history",
        "remove_files",
        "audit",
    )
    assert {"create", "update", "delete", "restore", "status", "purge"} == set(PIPELINES)
    with pytest.raises(ValueError, match="no write has a stage"):
        WriteHooks().after("inserted", _nothing)


async def _nothing(write: WriteContext) -> None:
    return None


def test_an_after_insert_hook_sees_the_new_record_inside_the_uncommitted_write(api, url, hooks):
    db = api.app.state.db
    seen: list[dict[str, Any]] = []

    async def look(write: WriteContext) -> None:
        (item,) = write.items
        t = write.form.table
        mine = (await write.session.execute(select(t.c.title).where(t.c.id == item.record_id))).scalar()
        async with db.session() as other:  # another connection: the write is not committed yet
            theirs = (await other.execute(select(t.c.title).where(t.c.id == item.record_id))).scalar()
        seen.append(
            {"operation": write.operation, "id": item.record_id, "title": item.record["title"], "mine": mine}
            | {"theirs": theirs, "user": write.ctx.principal.user_id, "form": write.form.key}
        )

    assert write_hooks(db) is hooks  # the registry the app's writes use
    hooks.after("insert", look)
    record = create(api, url, title="Printer jam", code="T-1")
    assert seen == [
        {
            "operation": "create",
            "id": record["id"],
            "title": "Printer jam",
            "mine": "Printer jam",
            "theirs": None,
            "user": record["created_by"],
            "form": url.rsplit("/", 2)[-2],
        }
    ]


def test_a_hook_that_fails_rolls_the_whole_create_back(api, url, hooks):
    async def write_then_fail(write: WriteContext) -> None:
        await write.session.execute(tables.audit_log.insert().values(at=write.ctx.now, action="test.hook", detail={}))
        raise Conflict("The outbox is full")

    hooks.after("history", write_then_fail)
    body = problem(api.post(url, json={"title": "Lost", "code": "T-2", "lines": [{"qty": 1}]}), 409)
    assert body["detail"] == "The outbox is full"
    assert total(api, url) == 0

    a = tables.audit_log
    assert query(api, select(func.count()).where(a.c.action == "test.hook")) == [(0,)]
    hooks.remove(write_then_fail)
    assert create(api, url, title="Kept", code="T-2")["code"] == "T-2"  # the unique value was never taken


def test_a_hook_that_fails_rolls_an_update_back(api, url, hooks):
    record = create(api, url, title="Before", lines=[{"qty": 1}])

    async def fail(write: WriteContext) -> None:
        if write.operation == "update":
            assert write.items[0].changed.keys() == {"title", "lines"}
            raise Conflict("Not now")

    hooks.after("child_rows", fail)
    problem(api.patch(f"{url}/{record['id']}", json={"title": "After", "lines": [{"qty": 2}]}), 409)
    again = api.get(f"{url}/{record['id']}").json()
    assert again["title"] == "Before" and [r["qty"] for r in again["lines"]] == [1] and again["version"] == 1
    assert len(api.get(f"{url}/{record['id']}/history").json()) == 1


def test_hooks_see_every_kind_of_write(api, url, hooks):
    operations: list[tuple[str, int | None]] = []

    async def note(write: WriteContext) -> None:
        operations.append((write.operation, write.items[0].record_id))

    hooks.after("history", note)
    record = create(api, url, title="One")
    api.patch(f"{url}/{record['id']}", json={"title": "Two"})
    api.patch(f"{url}/{record['id']}", json={"title": "Two"})  # nothing changes: no history, no hook
    api.delete(f"{url}/{record['id']}")
    api.post(f"{url}/{record['id']}/restore")
    assert operations == [(op, record["id"]) for op in ("create", "update", "delete", "restore")]


def test_a_purge_is_a_pipeline_whose_hooks_see_the_record_and_can_undo_it(api, url, hooks):
    record = create(api, url, title="Gone", lines=[{"qty": 1}])
    api.delete(f"{url}/{record['id']}")
    seen: list[tuple[str, int | None]] = []

    async def note(write: WriteContext) -> None:
        seen.append((write.operation, write.items[0].record_id))

    async def fail(write: WriteContext) -> None:
        raise Conflict("stop")

    hooks.after("purge", note)
    hooks.after("erase_history", fail)
    problem(api.delete(f"{url}/{record['id']}", params={"purge": "true"}), 409)
    assert seen == [("purge", record["id"])]
    restored = api.post(f"{url}/{record['id']}/restore")  # the failed purge left it whole
    assert restored.status_code == 200 and [r["qty"] for r in restored.json()["lines"]] == [1]
    assert len(api.get(f"{url}/{record['id']}/history").json()["items"]) == 3
    api.delete(f"{url}/{record['id']}")
    hooks.remove(fail)
    assert api.delete(f"{url}/{record['id']}", params={"purge": "true"}).status_code == 204
    assert seen == [("purge", record["id"])] * 2
    assert api.get(f"{url}/{record['id']}").status_code == 404
    a = tables.audit_log
    target = url.split("/")[3] + "/" + url.split("/")[5] + f"/{record['id']}"
    assert query(api, select(func.count()).where(a.c.action == "record.purge", a.c.target == target)) == [(1,)]


def test_a_bulk_create_runs_each_stage_once_for_all_its_records(api, url, hooks):
    batches: list[list[str]] = []

    async def note(write: WriteContext) -> None:
        batches.append([item.record["title"] for item in write.items])

    hooks.after("numbers", note)
    response = api.post(f"{url}/bulk", json={"records": [{"title": "a"}, {"title": "b"}, {"title": "c"}]})
    assert response.status_code == 201, response.text
    assert batches == [["a", "b", "c"]]


# ---------------------------------------------------------- uniqueness races


def test_two_creates_of_one_unique_value_at_once_one_wins_the_other_is_told_who(api, url, hooks):
    """Both creates pass the check before either inserts (PostgreSQL: the hook holds each
    until both are there); the loser is a 409 naming the field and the winner."""
    if api.app.state.db.is_postgresql:
        arrived: list[str] = []
        both = asyncio.Event()

        async def meet(write: WriteContext) -> None:
            arrived.append(write.items[0].values["title"])
            if len(arrived) == 2:
                both.set()
            await asyncio.wait_for(both.wait(), 10)

        hooks.before("insert", meet)
    # SQLite runs one writer at a time: the second create's check sees the first's record.
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda title: api.post(url, json={"title": title, "code": "SAME"}), ("x", "y")))
    codes = sorted(a.status_code for a in answers)
    assert codes == [201, 409], [a.text for a in answers]
    winner = next(a.json() for a in answers if a.status_code == 201)
    loser = next(a for a in answers if a.status_code == 409)
    message = message_at(problem(loser, 409, "code"), "code")
    assert f"record {winner['id']}" in message and "SAME" in message
    assert total(api, url) == 1


def test_two_updates_to_one_unique_value_at_once(api, url, hooks):
    first, second = create(api, url, title="a"), create(api, url, title="b")
    if api.app.state.db.is_postgresql:
        arrived: list[int] = []
        both = asyncio.Event()

        async def meet(write: WriteContext) -> None:
            arrived.append(write.record_id or 0)
            if len(arrived) == 2:
                both.set()
            await asyncio.wait_for(both.wait(), 10)

        hooks.before("update", meet)
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(
            pool.map(lambda r: api.patch(f"{url}/{r['id']}", json={"code": "SAME"}), (first, second)),
        )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    winner = next(a.json() for a in answers if a.status_code == 200)
    loser = next(a for a in answers if a.status_code == 409)
    assert f"record {winner['id']}" in message_at(problem(loser, 409, "code"), "code")


@pytest.mark.parametrize("api", ["postgresql"], indirect=True)  # SQLite runs one writer at a time: no race
def test_a_bulk_create_racing_a_create_names_the_record_of_the_batch_that_clashed(api, url, hooks):
    arrived: list[int] = []
    both = asyncio.Event()

    async def meet(write: WriteContext) -> None:
        arrived.append(len(write.items))
        if len(arrived) == 2:
            both.set()
        await asyncio.wait_for(both.wait(), 10)

    hooks.before("insert", meet)
    bulk = {"records": [{"title": "a", "code": "A"}, {"title": "b", "code": "B"}]}
    with ThreadPoolExecutor(max_workers=2) as pool:
        single = pool.submit(api.post, url, json={"title": "single", "code": "B"})
        batch = pool.submit(api.post, f"{url}/bulk", json=bulk)
        answers = [single.result(timeout=60), batch.result(timeout=60)]
    if answers[0].status_code == 201:  # the single create won: the batch's second record clashed
        body = problem(answers[1], 409, "records[1].code")
        assert f"record {answers[0].json()['id']}" in message_at(body, "records[1].code")
        assert total(api, url) == 1
    else:  # the batch won: the single create is told which of its records holds the value
        body = problem(answers[0], 409, "code")
        assert answers[1].status_code == 201
        holder = answers[1].json()["items"][1]["id"]
        assert f"record {holder}" in message_at(body, "code")
        assert total(api, url) == 2


def test_a_restore_racing_a_create_of_its_unique_value(api, url, hooks):
    old = create(api, url, title="old", code="SAME")
    api.delete(f"{url}/{old['id']}")
    if api.app.state.db.is_postgresql:
        arrived: list[str] = []
        both = asyncio.Event()

        async def meet(write: WriteContext) -> None:
            arrived.append(write.operation)
            if len(arrived) == 2:
                both.set()
            await asyncio.wait_for(both.wait(), 10)

        hooks.before("insert", meet)
        hooks.before("restore", meet)
    with ThreadPoolExecutor(max_workers=2) as pool:
        restoring = pool.submit(api.post, f"{url}/{old['id']}/restore")
        creating = pool.submit(api.post, url, json={"title": "new", "code": "SAME"})
        restored, created = restoring.result(timeout=60), creating.result(timeout=60)
    if restored.status_code == 200:
        assert f"record {old['id']}" in message_at(problem(created, 409, "code"), "code")
    else:
        assert created.status_code == 201, created.text
        assert f"record {created.json()['id']}" in message_at(problem(restored, 409, "code"), "code")
    assert total(api, url) == 1
