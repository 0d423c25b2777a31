"""The system status page through HTTP, on both databases: what they show, and that the
status moves with the system."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, insert

from opsloom import __version__
from opsloom.platform import jobs, tables
from opsloom.platform.migrate import head_revision
from tests.admin.test_admin_pages import page
from tests.builders import admin_client
from tests.conftest import DATABASES


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("status"), timezone="Asia/Shanghai") as client:
        client.cookies.set("opsloom_locale", "en")
        yield client


def shown(html: str, key: str) -> str:
    """The text of the `data-status` fact, tags removed and spaces squeezed."""
    found = re.search(rf'<dd data-status="{key}">(.*?)</dd>', html, re.S)
    assert found, key
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def write(client: TestClient, *statements: object) -> None:
    async def run() -> None:
        async with client.app.state.db.session(write=True) as session:
            for statement in statements:
                await session.execute(statement)  # type: ignore[arg-type]

    client.portal.call(run)


def test_the_status_page_shows_version_database_and_migration(api: TestClient) -> None:
    html = page(api, "/admin/status")
    assert shown(html, "version") == f"Opsloom {__version__}"
    kind = api.app.state.db.dialect
    assert shown(html, "database").startswith("SQLite 3." if kind == "sqlite" else "PostgreSQL 1")
    head = head_revision()
    assert head and shown(html, "revision") == f"{head} Up to date"
    assert shown(html, "head") == head
    assert 'href="/admin/status" aria-current="page"' in html  # its place in the side navigation
    assert 'href="/admin/status"' in page(api, "/admin")  # and a card on the front page


def test_the_backlog_and_the_last_worker_activity_follow_the_tables(api: TestClient) -> None:
    html = page(api, "/admin/status")
    before = {key: int(shown(html, key)) for key in ("jobs_queued", "jobs_running", "deliveries_dead")}
    assert shown(html, "worker-seen") == "No worker activity yet"
    now = datetime.now(UTC).replace(microsecond=0)
    j = tables.jobs
    row = {"payload": {}, "progress": {}, "attempts": 0, "cancel_requested": False, "created_at": now}
    write(
        api,
        insert(j).values(kind="status_probe", state=jobs.QUEUED, updated_at=now, **row),
        insert(j).values(kind="status_probe", state=jobs.QUEUED, updated_at=now, **row),
        insert(j).values(
            kind="status_probe", state=jobs.RUNNING, started_at=now - timedelta(minutes=3), updated_at=now, **row
        ),
        insert(j).values(
            kind="status_probe",
            state=jobs.DONE,
            started_at=now - timedelta(minutes=2),
            finished_at=now,
            updated_at=now,
            **row,
        ),
    )
    html = page(api, "/admin/status")
    assert int(shown(html, "jobs_queued")) == before["jobs_queued"] + 2
    assert int(shown(html, "jobs_running")) == before["jobs_running"] + 1
    seen = re.search(r'<dd data-status="worker-seen"><time datetime="([^"]+)"', html)
    assert seen and datetime.fromisoformat(seen.group(1)) == now
    write(api, delete(j).where(j.c.kind == "status_probe"))
    html = page(api, "/admin/status")
    assert int(shown(html, "jobs_queued")) == before["jobs_queued"]


def test_due_timers_and_waiting_events_are_counted(api: TestClient) -> None:
    html = page(api, "/admin/status")
    timers, events = int(shown(html, "timers_due")), int(shown(html, "events_waiting"))
    now = datetime.now(UTC)
    write(
        api,
        insert(tables.outbox).values(
            topic="record.created", app_key="status", payload={}, created_at=now, dispatched_at=None
        ),
    )
    html = page(api, "/admin/status")
    assert int(shown(html, "events_waiting")) == events + 1
    assert int(shown(html, "timers_due")) == timers  # nothing due was added
    write(api, delete(tables.outbox).where(tables.outbox.c.app_key == "status"))


def test_the_files_folder_is_measured(api: TestClient) -> None:
    folder = api.app.state.settings.files_dir / "status-probe"
    folder.mkdir(parents=True, exist_ok=True)
    before = shown(page(api, "/admin/status"), "disk")
    (folder / "a.bin").write_bytes(b"x" * 3072)
    (folder / "b.bin").write_bytes(b"y" * 1024)
    after = shown(page(api, "/admin/status"), "disk")
    count = int(re.search(r"(\d+) files?", before).group(1))  # type: ignore[union-attr]
    assert f"{count + 2} files" in after
    if count == 0:
        assert after.startswith("4.0 KB")
    for name in ("a.bin", "b.bin"):
        (folder / name).unlink()


def test_the_status_page_in_chinese(api: TestClient) -> None:
    api.cookies.set("opsloom_locale", "zh-CN")
    try:
        html = page(api, "/admin/status")
    finally:
        api.cookies.set("opsloom_locale", "en")
    assert "<h1>系统状态</h1>" in html and "已是最新" in html
