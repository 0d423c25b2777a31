"""A publish made through one server process is seen by another on its very next request.

Two real `opsloom serve` processes share one database (the same SQLite file, or
one PostgreSQL database). Each keeps its own cache of compiled forms; the
registry asks the database which version is published on every request, so
the process that did not publish must still serve the new shape at once.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.builders import field, form, problem

pytestmark = pytest.mark.slow

APP = "shared"
DESIGN = f"/api/design/apps/{APP}/forms/item"
RECORDS = f"/api/apps/{APP}/forms/item/records"
START_TIMEOUT = 60.0
REQUEST_TIMEOUT = 30.0
CLI_TIMEOUT = 120.0
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password"


# ----------------------------------------------------------------- servers


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environment(name: str, db_url: str, workdir: Path) -> tuple[dict[str, str], Path]:
    """The settings of one process: the shared database, its own data dir (also its cwd,
    so that no stray .env file changes the settings)."""
    data_dir = workdir / f"data-{name}"
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "OPSLOOM_DATABASE_URL": db_url,
        "OPSLOOM_DATA_DIR": str(data_dir),
        "OPSLOOM_SECRET_KEY": "test-secret-shared-by-both-processes",
    }
    return env, data_dir


def _launch(name: str, db_url: str, workdir: Path) -> Server:
    env, data_dir = _environment(name, db_url, workdir)
    port = _free_port()
    log = workdir / f"server-{name}.log"
    command = [sys.executable, "-m", "opsloom", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=data_dir, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Server(name, process, port, log)


def create_admin(db_url: str, workdir: Path) -> None:
    """The first admin, made the way an operator makes it: with the command line."""
    env, data_dir = _environment("cli", db_url, workdir)
    command = [sys.executable, "-m", "opsloom", "user", "create"]
    command += ["--email", ADMIN_EMAIL, "--password", ADMIN_PASSWORD, "--admin"]
    done = subprocess.run(command, cwd=data_dir, env=env, capture_output=True, timeout=CLI_TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr


@contextmanager
def admin_client(server: Server) -> Iterator[httpx.Client]:
    """A client logged in as the admin on `server` (session cookie + CSRF header)."""
    with httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT) as client:
        login = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        client.headers["X-CSRF-Token"] = ok(client.post("/api/auth/login", json=login))["csrf_token"]
        yield client


def _stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=5)


def _wait_healthy(server: Server) -> bool:
    """True once /api/health answers; False if the process died (e.g. the port was taken)."""
    deadline = time.monotonic() + START_TIMEOUT
    with httpx.Client(base_url=server.base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                return False
            try:
                if client.get("/api/health").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise AssertionError(
        f"server {server.name} did not answer /api/health within {START_TIMEOUT}s:\n{server.log_tail()}"
    )


@contextmanager
def servers(db_url: str, workdir: Path, *names: str) -> Iterator[list[Server]]:
    """Start one server per name, all at once; each on a free loopback port; stopped on exit."""
    with ExitStack() as stack:
        started = []
        for name in names:
            server = _launch(name, db_url, workdir)
            stack.callback(_stop, server)
            started.append(server)
        for i, server in enumerate(started):
            for _attempt in range(3):
                if _wait_healthy(server):
                    break
                # The free port was taken between probing and binding: try another.
                _stop(server)
                server = _launch(server.name, db_url, workdir)
                stack.callback(_stop, server)
                started[i] = server
            else:
                raise AssertionError(f"server {server.name} kept exiting:\n{server.log_tail()}")
        yield started


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


# ------------------------------------------------------------------- forms


def item_form(*fields: dict[str, Any]) -> dict[str, Any]:
    return form("item", *fields, title_field="title")


TITLE = field("title", required=True)
QTY = field("qty", "integer")
NOTE = field("note", "textarea")
PRICE = field("price", "decimal", precision=12, scale=2)


def publish(client: httpx.Client, document: dict[str, Any]) -> list[str]:
    ok(client.put(DESIGN, json=document))
    return [step["action"] for step in ok(client.post(f"{DESIGN}/publish"))["plan"]["steps"]]


@contextmanager
def two_processes(db_url: str, workdir: Path) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """The admin logged in on two server processes sharing the database, the app made through the first."""
    create_admin(db_url, workdir)
    with (
        servers(db_url, workdir, "a", "b") as (server_a, server_b),
        admin_client(server_a) as a,
        admin_client(server_b) as b,
    ):
        ok(a.put(f"/api/design/apps/{APP}", json={"key": APP, "label": "Shared"}))
        yield a, b


# ------------------------------------------------------------------- tests


def test_publish_through_one_process_is_served_by_the_other(db_url: str, tmp_path: Path) -> None:
    with two_processes(db_url, tmp_path) as (a, b):
        assert publish(a, item_form(TITLE, QTY, NOTE)) == ["create_table"]
        created = ok(a.post(RECORDS, json={"title": "first", "qty": 1, "note": "n"}), 201)
        url = f"{RECORDS}/{created['id']}"

        # B compiles and caches version 1.
        before = ok(b.get(url))
        assert before["qty"] == 1 and "price" not in before
        problem(b.patch(url, json={"price": "1.00"}), 422, "price")

        # A adds a field; B serves it on its very next request.
        assert publish(a, item_form(TITLE, QTY, NOTE, PRICE)) == ["add_column"]
        after = ok(b.get(url))
        assert after["price"] is None and after["qty"] == 1 and after["title"] == "first"
        patched = ok(b.patch(url, json={"price": "9.99"}))
        assert patched["price"] == "9.99"
        assert ok(a.get(url))["price"] == "9.99"
        assert [r["price"] for r in ok(b.get(RECORDS))["items"]] == ["9.99"]

        # A renames qty to quantity; B serves the new key at once, and refuses the old one.
        quantity = {**QTY, "key": "quantity"}
        assert publish(a, item_form(TITLE, quantity, NOTE, PRICE)) == ["rename_column"]
        renamed = ok(b.get(url))
        assert renamed["quantity"] == 1 and "qty" not in renamed
        assert ok(b.patch(url, json={"quantity": 2}))["quantity"] == 2
        problem(b.patch(url, json={"qty": 3}), 422, "qty")

        # A archives note; B stops serving it, and B's new records go into the new shape.
        assert publish(a, item_form(TITLE, quantity, PRICE)) == ["archive_column"]
        archived = ok(b.get(url))
        assert "note" not in archived and archived["quantity"] == 2
        second = ok(b.post(RECORDS, json={"title": "second", "quantity": 5, "price": "1.50"}), 201)
        assert ok(a.get(f"{RECORDS}/{second['id']}"))["quantity"] == 5

        # A changes a type; B, which has prepared statements for the old column type,
        # serves the new type without a failed request.
        for _ in range(3):  # let B prepare (and cache) its statements for the current shape
            ok(b.get(url))
            ok(b.get(RECORDS))
        wider = {**quantity, "type": "decimal", "precision": 12, "scale": 2}
        assert publish(a, item_form(TITLE, wider, PRICE)) == ["convert_column"]
        assert ok(b.get(url))["quantity"] == "2.00"
        assert sorted(r["quantity"] for r in ok(b.get(RECORDS))["items"]) == ["2.00", "5.00"]


def test_a_process_that_has_not_heard_of_a_publish_judges_and_stores_by_the_new_form(
    db_url: str, tmp_path: Path
) -> None:
    """B's cached form is used unasked where its own statement confirms it (a read's probe; on
    SQLite a create's INSERT): what B would refuse or store by the old form is done by the new one."""
    with two_processes(db_url, tmp_path) as (a, b):
        publish(a, item_form(TITLE, QTY, NOTE))
        ok(b.post(RECORDS, json={"title": "first", "qty": 1, "note": "n"}), 201)  # B caches version 1

        # Version 1 would refuse the new field; B stores it.
        assert publish(a, item_form(TITLE, QTY, NOTE, PRICE)) == ["add_column"]
        priced = ok(b.post(RECORDS, json={"title": "priced", "price": "3.50"}), 201)
        assert ok(a.get(f"{RECORDS}/{priced['id']}"))["price"] == "3.50"

        # Version 2 would accept this create and answer with note; B stores it in the new shape.
        assert publish(a, item_form(TITLE, QTY, PRICE)) == ["archive_column"]
        plain = ok(b.post(RECORDS, json={"title": "plain"}), 201)
        assert "note" not in plain and plain["price"] is None
        assert "note" not in ok(a.get(f"{RECORDS}/{plain['id']}"))

        # Version 3 would refuse a filter by the new field; B filters by it.
        due = field("due", "date")
        assert publish(a, item_form(TITLE, QTY, PRICE, due)) == ["add_column"]
        empty_due = json.dumps({"field": "due", "op": "is_empty"})
        listed = ok(b.get(RECORDS, params={"filter": empty_due, "sort": "id", "count": "exact"}))
        assert [r["title"] for r in listed["items"]] == ["first", "priced", "plain"] and listed["total"] == 3

        # And a refusal by the current form stands: the old key is gone.
        problem(b.post(RECORDS, json={"title": "old", "note": "gone"}), 422, "note")
        assert ok(a.get(RECORDS, params={"count": "exact", "limit": 1}))["total"] == 3
