"""Figures: how many SQL statements each flow action sends to the database.

The form and flow of `bench/flows.py` (a department head approves, then two
people of finance countersign) on a fresh database; one record is submitted
and approved step by step through the HTTP API, in process. For each request
it prints the statements sent (BEGIN/COMMIT included, as the driver sees them).
`python bench/flow_statements.py --databases sqlite,postgresql`; `--show`
prints the statements of the first approve.

Figures only: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
from fastapi.testclient import TestClient
from sqlalchemy import event

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from bench_databases import fresh_database  # noqa: E402 - bench/ is on the path
from flows import APP, FORM, PASSWORD, PEOPLE, flow  # noqa: E402

from opsloom.app import create_app  # noqa: E402
from opsloom.platform import org  # noqa: E402
from opsloom.platform.context import RequestContext  # noqa: E402
from opsloom.platform.settings import Settings  # noqa: E402


class Counter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)

    @contextmanager
    def counting(self) -> Iterator[list[str]]:
        self.statements = []
        yield self.statements


def measure(url: str, workdir: Path, show: bool) -> list[tuple[str, int]]:
    settings = Settings(database_url=url, data_dir=workdir / "data", secret_key="bench")
    counter = Counter()
    figures: list[tuple[str, int]] = []
    with TestClient(create_app(settings), raise_server_exceptions=True) as admin:
        db = admin.app.state.db

        async def people() -> dict[str, int]:
            async with db.session(write=True) as session:
                ids = {}
                for name in PEOPLE:
                    data = {"email": f"{name}@example.com", "password": PASSWORD, "name": name}
                    data["is_admin"] = name == PEOPLE[0]
                    user = await org.create_user(session, RequestContext.for_now(), data)
                    ids[name] = user["id"]
                return ids

        ids = admin.portal.call(people)
        browsers = {}
        for name in PEOPLE:
            browser = TestClient(admin.app, raise_server_exceptions=True)
            browser.portal = admin.portal  # type: ignore[attr-defined]
            answer = browser.post("/api/auth/login", json={"email": f"{name}@example.com", "password": PASSWORD})
            browser.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
            browsers[name] = browser
        submitter = browsers[PEOPLE[0]]
        submitter.put(f"/api/design/apps/{APP}", json={"key": APP, "label": "Bench"}).raise_for_status()
        for kind, document in (("forms", FORM), ("flows", flow(ids))):
            path = f"/api/design/apps/{APP}/{kind}/{document['key']}"
            submitter.put(path, json=document).raise_for_status()
            submitter.post(f"{path}/publish").raise_for_status()
        records = f"/api/apps/{APP}/forms/request/records"
        warm = submitter.post(records, json={"title": "warm", "amount": "1.00"}).json()
        record = submitter.post(records, json={"title": "counted", "amount": "12.00"}).json()
        submitter.post(f"{records}/{warm['id']}/submit", json={}).raise_for_status()  # compiled form and flow cached
        event.listen(db.engine.sync_engine, "before_cursor_execute", counter)
        with counter.counting() as seen:
            submitter.post(f"{records}/{record['id']}/submit", json={}).raise_for_status()
        figures.append(("submit", len(seen)))
        for name in PEOPLE[1:]:
            tasks = browsers[name].get("/api/tasks", params={"box": "pending"}).json()["items"]
            task = next(t["id"] for t in tasks if t["record_id"] == record["id"])
            with counter.counting() as seen:
                browsers[name].post(f"/api/tasks/{task}/approve", json={"comment": "ok"}).raise_for_status()
            figures.append((f"approve ({name})", len(seen)))
            if show and name == PEOPLE[1]:
                print("\n".join(" ".join(s.split())[:160] for s in seen))
        event.remove(db.engine.sync_engine, "before_cursor_execute", counter)
    return figures


async def run(kind: str, show: bool) -> list[tuple[str, int]]:
    with tempfile.TemporaryDirectory(prefix=f"opsloom-bench-statements-{kind}-") as tmp:
        async with fresh_database(kind, Path(tmp)) as url:
            return await anyio.to_thread.run_sync(measure, url, Path(tmp), show)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--show", action="store_true", help="print the statements of the first approve")
    args = parser.parse_args()
    for kind in args.databases.split(","):
        figures = anyio.run(run, kind, args.show)
        print(f"{kind}: " + ", ".join(f"{name} {count}" for name, count in figures))


if __name__ == "__main__":
    main()
