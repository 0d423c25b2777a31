"""An import survives its worker being killed (kill -9): the next worker resumes it, and every
row lands exactly once. The worker is a real `opsloom worker` process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.builders import admin_client, field, form, list_all, publish_app
from tests.runtime.imports.helpers import csv_bytes, uploaded

ROWS = 3000
BATCH = 20
LEASE = 2.0
IMPORTS = "/api/apps/books/forms/ledger/imports"
RECORDS = "/api/apps/books/forms/ledger/records"


@pytest.fixture(params=["sqlite", "postgresql"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    # No jobs in the test's own server: only the worker processes import.
    options = {"run_jobs": False, "import_batch_rows": BATCH, "job_lease_seconds": LEASE}
    with admin_client(request.param, tmp_path, **options) as client:
        settings = client.app.state.settings  # type: ignore[attr-defined]
        env = {
            **os.environ,
            "OPSLOOM_DATABASE_URL": settings.resolved_database_url,
            "OPSLOOM_DATA_DIR": str(settings.data_dir),
            "OPSLOOM_SECRET_KEY": "test-secret",
            "OPSLOOM_IMPORT_BATCH_ROWS": str(BATCH),
            "OPSLOOM_JOB_LEASE_SECONDS": str(LEASE),
        }
        yield client, env


def worker(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    command = [str(Path(sys.executable).parent / "opsloom"), "worker", *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def poll(
    client: TestClient, url: str, until: object, rounds: int = 3000, process: subprocess.Popen | None = None
) -> dict:
    for _ in range(rounds):
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the worker stopped: {process.stderr.read().decode() if process.stderr else ''}")
        body = client.get(url).json()
        if until(body):  # type: ignore[operator]
            return body
        time.sleep(0.01)
    raise AssertionError(f"the import never got there: {body}")


def test_a_killed_worker_leaves_no_duplicate_and_no_gap(setup: tuple[TestClient, dict[str, str]]) -> None:
    client, env = setup
    publish_app(client, "books", form("ledger", field("n", "integer"), field("note")))
    rows = [["n", "note"], *([str(n), f"第{n}行"] for n in range(1, ROWS + 1))]
    created = uploaded(client, "ledger.csv", csv_bytes(rows), IMPORTS)
    url = f"{IMPORTS}/{created['id']}"
    assert client.post(f"{url}/commit").status_code == 202

    first = worker(env, "--interval", "0.2")
    try:
        midway = poll(client, url, lambda b: b["rows_done"] > 0, process=first)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    assert midway["state"] == "running"
    stopped = client.get(url).json()
    assert stopped["rows_done"] < ROWS + 1, "the worker finished before it was killed: make the file larger"
    assert stopped["state"] == "running" and stopped["counts"]["inserted"] == stopped["rows_done"] - 1

    poll(client, url, lambda b: b["job"]["state"] == "interrupted")  # its lease ran out
    second = worker(env, "--once")
    _, errors = second.communicate(timeout=300)
    assert second.returncode == 0, errors.decode()

    done = client.get(url).json()
    assert done["state"] == "done", done
    assert done["job"]["attempts"] == 2
    assert done["counts"] == {"inserted": ROWS, "updated": 0, "skipped": 0, "failed": 0}
    numbers = Counter(r["n"] for r in list_all(client, RECORDS, limit=500))
    assert len(numbers) == ROWS and set(numbers) == set(range(1, ROWS + 1))
    assert max(numbers.values()) == 1  # none twice
