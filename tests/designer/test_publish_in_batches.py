"""A publish that rewrites many rows stages them in batches: others keep writing, nothing is lost."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert, inspect

from opsloom.designer import publish_jobs, publishing, staging
from opsloom.runtime.forms import FormRegistry
from tests.builders import create, field, form, list_all, problem, publish_app, records_url
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, another_client

APP = "bulk"
URL = records_url(APP, "order")
DESIGN = f"/api/design/apps/{APP}/forms/order"
ROWS = 5000


def order(ref_type: str = "text", total: str = "qty * 2") -> dict:
    ref = field("ref", max_length=20) if ref_type == "text" else field("ref", "decimal", precision=12, scale=2)
    return form(
        "order",
        field("title", required=True),
        field("qty", "integer"),
        ref,
        field("total", "formula", formula=total),
        title_field="title",
    )


def fill(client, rows: int = ROWS) -> None:
    """Many records at once (set-up only: the behaviour under test goes through HTTP)."""

    async def run() -> None:
        async with client.app.state.db.session() as session:
            compiled = await FormRegistry().get(session, APP, "order")
        async with client.app.state.db.session(write=True) as session:
            values = [
                {
                    "title": f"Order {n}",
                    "qty": n % 7,
                    "ref": f"{n}.{n % 100:02d}",
                    "version": 1,
                    "status": "draft",
                    "created_at": _now(),
                    "updated_at": _now(),
                }
                for n in range(1, rows + 1)
            ]
            await session.execute(insert(compiled.table), values)

    client.portal.call(run)


def _now() -> datetime:
    return datetime.now(UTC)


def expected_ref(n: int) -> str:
    return f"{Decimal(f'{n}.{n % 100:02d}'):.2f}"


def test_others_keep_writing_during_a_long_publish_and_every_row_is_converted(client, monkeypatch):
    publish_app(client, APP, order())
    fill(client)
    monkeypatch.setattr(staging, "BATCH", 500)
    staging_started, writes_done = threading.Event(), threading.Event()

    async def pause_after_first_batch(done: int) -> None:
        staging_started.set()
        await asyncio.to_thread(writes_done.wait, 60)

    monkeypatch.setattr(staging, "between_batches", pause_after_first_batch)
    assert client.get(f"{DESIGN}/publish/progress").json()["status"] == "none"  # nothing run in batches yet
    assert client.put(DESIGN, json=order("decimal", "ref * 2")).status_code == 200
    answer: dict = {}
    publisher = threading.Thread(target=lambda: answer.setdefault("publish", client.post(f"{DESIGN}/publish")))
    publisher.start()
    assert staging_started.wait(30), "the publish never staged a batch"

    other = another_client(client)
    watcher = another_client(client)
    watcher.headers.update(client.headers)
    watcher.cookies.update(client.cookies)
    progress = watcher.get(f"{DESIGN}/publish/progress").json()
    assert progress["status"] == "staging" and progress["total"] == ROWS and 0 < progress["done"] < ROWS
    login = other.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert login.status_code == 200, login.text
    other.headers["X-CSRF-Token"] = login.json()["csrf_token"]
    # Written under the old version while the publish runs: one staged row, one not yet, one new.
    staged_row = other.patch(f"{URL}/1", json={"ref": "7.5"}, headers={"If-Match": '"1"'})
    assert staged_row.status_code == 200, staged_row.text
    later_row = other.patch(f"{URL}/{ROWS}", json={"ref": "8"}, headers={"If-Match": '"1"'})
    assert later_row.status_code == 200, later_row.text
    new = create(other, URL, title="During", qty=1, ref="2.25")
    writes_done.set()

    statuses = []
    while publisher.is_alive():  # and keeps writing, and logging in, until the publish ends
        statuses.append(other.post(URL, json={"title": "Meanwhile", "qty": 2, "ref": "1.5"}).status_code)
        again = other.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        statuses.append(again.status_code)
        other.headers["X-CSRF-Token"] = again.json().get("csrf_token", "")
    publisher.join()
    assert answer["publish"].status_code == 200, answer["publish"].text
    assert set(statuses) <= {200, 201}, statuses

    records = {r["id"]: r for r in list_all(client, URL, limit=500)}
    assert len(records) == ROWS + 1 + statuses.count(201)
    assert records[1]["ref"] == "7.50" and records[1]["total"] == "15.00"
    assert records[ROWS]["ref"] == "8.00" and records[ROWS]["total"] == "16.00"
    assert records[new["id"]]["ref"] == "2.25" and records[new["id"]]["total"] == "4.50"
    for n in range(2, ROWS):
        assert records[n]["ref"] == expected_ref(n), records[n]
        assert Decimal(records[n]["total"]) == Decimal(expected_ref(n)) * 2, records[n]
    for r in records.values():
        if r["title"] == "Meanwhile":
            assert r["ref"] == "1.50" and r["total"] == "3.00", r
    done = client.get(f"{DESIGN}/publish/progress").json()
    assert done["status"] == "done" and done["done"] == done["total"] == ROWS and done["version"] == 2
    assert [v["version"] for v in client.get(f"{DESIGN}/versions").json()["items"]] == [2, 1]
    assert not [t for t in table_names(client) if t.startswith("opsloom_stage_")]


def test_a_publish_interrupted_between_batches_leaves_the_old_version_and_a_retry_succeeds(client, monkeypatch):
    publish_app(client, APP, order())
    fill(client, 1200)
    monkeypatch.setattr(staging, "BATCH", 500)

    async def crash(done: int) -> None:
        if done >= 1000:
            raise RuntimeError("the process died here")

    monkeypatch.setattr(staging, "between_batches", crash)
    assert client.put(DESIGN, json=order("decimal")).status_code == 200
    assert client.post(f"{DESIGN}/publish").status_code == 500

    # The old version is whole: text values, writable as text, one version.
    assert client.get(f"{URL}/3").json()["ref"] == "3.03"
    assert create(client, URL, title="After", ref="not a number")["ref"] == "not a number"
    assert [v["version"] for v in client.get(f"{DESIGN}/versions").json()["items"]] == [1]
    failed = client.get(f"{DESIGN}/publish/progress").json()
    assert failed["status"] == "failed" and failed["done"] == 1000 and "died" in failed["error"]
    assert not [t for t in table_names(client) if t.startswith("opsloom_stage_")]

    monkeypatch.setattr(staging, "between_batches", lambda done: asyncio.sleep(0))
    refused = client.post(f"{DESIGN}/publish")  # the value saved since does not fit: the plan says so
    problem(refused, 409, "fields.ref")
    fixed = {"resolutions": {"ref": {"on_invalid": "set_empty"}}}
    retried = client.post(f"{DESIGN}/publish", json=fixed)
    assert retried.status_code == 200, retried.text
    assert client.get(f"{URL}/3").json()["ref"] == "3.03"
    records = list_all(client, URL, limit=500)
    assert len(records) == 1201
    assert next(r for r in records if r["title"] == "After")["ref"] is None
    assert client.get(f"{DESIGN}/publish/progress").json()["status"] == "done"


def test_a_value_saved_during_staging_that_does_not_fit_refuses_the_publish_whole(client, monkeypatch):
    publish_app(client, APP, order())
    fill(client, 1000)
    monkeypatch.setattr(staging, "BATCH", 500)
    other = another_client(client)
    other.headers.update(client.headers)
    other.cookies.update(client.cookies)
    once = []

    async def write_a_bad_value(done: int) -> None:
        if not once:
            once.append(done)
            # the first batch is staged; a record not yet staged gets a value that is no number
            response = await asyncio.to_thread(other.patch, f"{URL}/900", json={"ref": "n/a"})
            assert response.status_code == 200, response.text

    monkeypatch.setattr(staging, "between_batches", write_a_bad_value)
    assert client.put(DESIGN, json=order("decimal")).status_code == 200
    body = problem(client.post(f"{DESIGN}/publish"), 409)
    assert "900" in body["detail"]
    assert client.get(f"{URL}/900").json()["ref"] == "n/a"
    assert client.get(f"{URL}/1").json()["ref"] == "1.01"
    assert client.get(f"{DESIGN}/publish/progress").json()["status"] == "failed"


def test_the_staging_of_a_publish_whose_process_died_is_dropped_by_a_later_publish(client, monkeypatch):
    publish_app(client, APP, order())
    fill(client, 600)
    monkeypatch.setattr(staging, "BATCH", 500)

    async def die(done: int) -> None:
        raise RuntimeError("killed")

    async def no_cleanup(db, job: int, why: str) -> None:  # a killed process cleans nothing up
        return None

    monkeypatch.setattr(staging, "between_batches", die)
    monkeypatch.setattr(publishing, "_give_up", no_cleanup)
    assert client.put(DESIGN, json=order("decimal")).status_code == 200
    assert client.post(f"{DESIGN}/publish").status_code == 500
    left = [t for t in table_names(client) if t.startswith("opsloom_stage_")]
    assert len(left) == 1 and client.get(f"{DESIGN}/publish/progress").json()["status"] == "staging"
    assert client.get(f"{URL}/3").json()["ref"] == "3.03"  # the old version, whole

    monkeypatch.setattr(publish_jobs, "STALE", timedelta(0))  # as if a minute had passed without a batch
    assert client.get(f"{DESIGN}/publish/progress").json()["status"] == "interrupted"
    monkeypatch.setattr(staging, "between_batches", lambda done: asyncio.sleep(0))
    assert client.post(f"{DESIGN}/publish").status_code == 200
    assert not [t for t in table_names(client) if t.startswith("opsloom_stage_")]
    assert client.get(f"{URL}/3").json()["ref"] == "3.03"
    assert client.get(f"{DESIGN}/publish/progress").json()["status"] == "done"


def test_a_rollback_that_converts_every_row_runs_in_batches_too(client, monkeypatch):
    publish_app(client, APP, order())
    fill(client, 1200)
    monkeypatch.setattr(staging, "BATCH", 500)
    assert client.put(DESIGN, json=order("decimal")).status_code == 200
    assert client.post(f"{DESIGN}/publish").status_code == 200
    assert client.get(f"{URL}/3").json()["ref"] == "3.03"
    assert client.patch(f"{URL}/3", json={"ref": "4.5"}).status_code == 200

    back = client.post(f"{DESIGN}/rollback", json={"version": 1})
    assert back.status_code == 200, back.text
    assert back.json()["version"] == 3
    assert client.get(f"{URL}/3").json()["ref"] == "4.50"  # text again, as the decimal wrote it
    assert create(client, URL, title="Text again", ref="n/a")["ref"] == "n/a"
    assert client.get(DESIGN).json()["draft"]["fields"][2]["type"] == "text"
    progress = client.get(f"{DESIGN}/publish/progress").json()
    assert progress["status"] == "done" and progress["version"] == 3 and progress["total"] == 1200


def table_names(client) -> list[str]:
    async def run() -> list[str]:
        async with client.app.state.db.session() as session:
            connection = await session.connection()
            return await connection.run_sync(lambda sync: inspect(sync).get_table_names())

    return client.portal.call(run)
