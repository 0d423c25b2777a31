"""Cancelling an import: a queued one never starts; a running one stops between batches, keeping what it stored."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opsloom.runtime.job_kinds import job_runner
from tests.builders import admin_client, field, form, list_all, problem, publish_app
from tests.runtime.imports.helpers import csv_bytes, uploaded, wait_finished

IMPORTS = "/api/apps/books/forms/ledger/imports"
RECORDS = "/api/apps/books/forms/ledger/records"
ROWS = 3000


@pytest.fixture(params=["sqlite", "postgresql"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    with admin_client(request.param, tmp_path, import_batch_rows=20) as client:
        publish_app(client, "books", form("ledger", field("n", "integer")))
        yield client


def ledger(client: TestClient) -> str:
    created = uploaded(client, "ledger.csv", csv_bytes([["n"], *([str(n)] for n in range(1, ROWS + 1))]), IMPORTS)
    return f"{IMPORTS}/{created['id']}"


def test_a_running_import_stops_where_it_is_and_keeps_what_it_stored(client: TestClient) -> None:
    url = ledger(client)
    assert client.post(f"{url}/commit").status_code == 202
    for _ in range(3000):
        if client.get(url).json()["rows_done"] > 0:
            break
        time.sleep(0.01)
    cancelled = client.post(f"{url}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    done = wait_finished(client, url)
    assert done["state"] == "cancelled" and done["job"]["state"] == "cancelled"
    stored = len(list_all(client, RECORDS, limit=500))
    assert 0 < stored < ROWS and done["counts"]["inserted"] == stored
    problem(client.post(f"{url}/cancel"), 409)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_queued_import_cancelled_never_starts_and_can_be_committed_again(kind: str, tmp_path: Path) -> None:
    with admin_client(kind, tmp_path, run_jobs=False) as client:  # no runner: the job stays queued
        publish_app(client, "books", form("ledger", field("n", "integer")))
        app = client.app
        runner = job_runner(app.state.db, app.state.settings, app.state.forms)  # type: ignore[attr-defined]
        url = ledger(client)
        assert client.post(f"{url}/commit").json()["state"] == "queued"
        assert client.post(f"{url}/cancel").json()["state"] == "cancelled"
        assert client.portal.call(runner.run_all) == 0  # the worker finds it cancelled
        assert client.get(url).json()["job"]["state"] == "cancelled"
        assert list_all(client, RECORDS) == []
        again = client.post(f"{url}/commit")
        assert again.status_code == 202, again.text
        assert client.portal.call(runner.run_all) == 1
        done = client.get(url).json()
        assert done["state"] == "done" and done["counts"]["inserted"] == ROWS
