"""The `opsloom` command line: database upgrades, app install and list, the demo."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from opsloom.cli import main
from opsloom.platform.migrate import head_revision
from opsloom.resources import data_path
from tests.databases import database

PROCUREMENT = data_path("examples") / "procurement"
VERSION = json.loads((PROCUREMENT / "app.json").read_text())["version"]


@pytest.fixture
def env(db_kind: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment that points the CLI at a fresh database of each kind."""
    with database(db_kind, tmp_path) as url:
        yield {"OPSLOOM_DATABASE_URL": url, "OPSLOOM_DATA_DIR": str(tmp_path / "data")}


def opsloom(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def opsloom_process(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    """`opsloom ARGS` in a process of its own, as a shell would start it."""
    return subprocess.Popen(
        [sys.executable, "-m", "opsloom", *args],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def write_package(folder: Path, forms: list[dict], data: dict[str, list] | None = None) -> Path:
    (folder / "forms").mkdir(parents=True)
    (folder / "app.json").write_text(json.dumps({"key": "broken", "label": "Broken"}))
    for document in forms:
        (folder / "forms" / f"{document['key']}.json").write_text(json.dumps(document))
    if data:
        (folder / "data").mkdir()
        for key, rows in data.items():
            (folder / "data" / f"{key}.json").write_text(json.dumps(rows))
    return folder


ORDER = {
    "key": "order",
    "label": "Order",
    "fields": [
        {"id": "f_title", "key": "title", "type": "text", "label": "Title", "required": True},
        {"id": "f_amount", "key": "amount", "type": "decimal", "label": "Amount", "scale": 2},
    ],
}


def test_db_upgrade_prints_the_revision_and_can_run_again(env):
    first = opsloom(env, "db", "upgrade")
    assert first.exit_code == 0, first.output
    assert first.output.strip() == f"database is at revision {head_revision()}"
    again = opsloom(env, "db", "upgrade")
    assert again.exit_code == 0, again.output
    assert again.output == first.output


def test_app_list_on_an_empty_database_says_how_to_install(env):
    listed = opsloom(env, "app", "list")
    assert listed.exit_code == 0, listed.output
    assert "no apps installed" in listed.output


def test_install_example_then_list_it(env):
    installed = opsloom(env, "app", "install", str(PROCUREMENT))
    assert installed.exit_code == 0, installed.output
    sample = json.loads((PROCUREMENT / "data" / "purchase_request.json").read_text())
    assert installed.output.startswith(f"install procurement {VERSION}:\n")
    assert "  New form Supplier" in installed.output.splitlines()
    assert "\ninstalled procurement: forms " in installed.output
    assert f"{len(sample)} purchase_request" in installed.output

    listed = opsloom(env, "app", "list")
    assert listed.exit_code == 0, listed.output
    forms = sorted(p.stem for p in (PROCUREMENT / "forms").glob("*.json"))
    [line] = listed.output.strip().splitlines()
    key, form_list = line.split("\t")
    assert key == "procurement"
    assert sorted(form_list.split(", ")) == forms


def test_a_dry_run_prints_the_plan_and_installs_nothing(env):
    planned = opsloom(env, "app", "install", "--dry-run", str(PROCUREMENT))
    assert planned.exit_code == 0, planned.output
    lines = planned.output.splitlines()
    assert lines[0] == f"install procurement {VERSION}:"
    assert "  New flow Purchase approval" in lines
    assert "installed" not in planned.output
    assert "no apps installed" in opsloom(env, "app", "list").output


def test_export_then_install_elsewhere_then_upgrade_by_cli(env, db_kind, tmp_path):
    assert opsloom(env, "app", "install", str(PROCUREMENT)).exit_code == 0
    file = tmp_path / "procurement.json"
    exported = opsloom(env, "app", "export", "procurement", "-o", str(file), "--sample-data")
    assert exported.exit_code == 0, exported.output
    assert exported.output.startswith(f"exported procurement {VERSION} to {file}: 8 forms, 5 roles, 3 flows")
    package = json.loads(file.read_text())
    assert len(package["sample_data"]["supplier"]) == len(
        json.loads((PROCUREMENT / "data" / "supplier.json").read_text())
    )

    with database(db_kind, tmp_path / "other") as url:
        other = {**env, "OPSLOOM_DATABASE_URL": url}
        installed = opsloom(other, "app", "install", str(file))
        assert installed.exit_code == 0, installed.output
        assert "installed procurement" in installed.output
        package["manifest"]["version"] = "99.0.0"
        package["forms"][0]["label"] = {"zh-CN": "订单", "en": "Order"}
        file.write_text(json.dumps(package))
        upgraded = opsloom(other, "app", "install", str(file))
        assert upgraded.exit_code == 0, upgraded.output
        assert upgraded.output.startswith(f"upgrade procurement 99.0.0 from {VERSION}:")
        assert f"upgraded procurement: forms {package['forms'][0]['key']}; no records" in upgraded.output


def test_install_without_sample_data_creates_no_records(env):
    installed = opsloom(env, "app", "install", "--no-sample-data", str(PROCUREMENT))
    assert installed.exit_code == 0, installed.output
    assert installed.output.rstrip().endswith("no records")


def test_invalid_package_names_the_json_path_and_installs_nothing(env, tmp_path):
    bad = {**ORDER, "fields": [ORDER["fields"][0], {**ORDER["fields"][1], "type": "money"}]}
    package = write_package(tmp_path / "broken", [bad])
    installed = opsloom(env, "app", "install", str(package))
    assert installed.exit_code == 1
    assert "nothing was installed" in installed.stderr
    assert "forms[0].fields[1].type" in installed.stderr
    assert "money" in installed.stderr
    assert "Traceback" not in installed.output
    assert "no apps installed" in opsloom(env, "app", "list").output


def test_package_with_bad_sample_data_rolls_back_its_tables(env, tmp_path):
    """The forms are published before the sample data fails: all of it must be undone."""
    rows = [{"title": "ok", "amount": "1.50"}, {"title": "bad", "amount": "lots"}]
    package = write_package(tmp_path / "broken", [ORDER], {"order": rows})
    installed = opsloom(env, "app", "install", str(package))
    assert installed.exit_code == 1
    assert "nothing was installed" in installed.stderr
    assert "sample_data.order[1].amount" in installed.stderr
    assert "no apps installed" in opsloom(env, "app", "list").output
    # Installing a fixed package afterwards works: no table was left behind.
    (package / "data" / "order.json").write_text(json.dumps(rows[:1]))
    fixed = opsloom(env, "app", "install", str(package))
    assert fixed.exit_code == 0, fixed.output
    assert "1 order" in fixed.output


def test_install_of_a_missing_path_is_refused(env, tmp_path):
    result = CliRunner().invoke(main, ["app", "install", str(tmp_path / "nowhere")], env=env)
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_demo_without_serving_installs_the_examples_and_prints_the_url(tmp_path):
    data_dir = tmp_path / "demo"
    env = {"OPSLOOM_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing"}  # demo ignores it
    result = opsloom(env, "demo", "--no-serve", "--data-dir", str(data_dir), "--port", "8123")
    assert result.exit_code == 0, result.output
    assert "installed example app procurement" in result.output
    assert "http://127.0.0.1:8123" in result.output
    assert str(data_dir.resolve()) in result.output
    assert (data_dir / "opsloom.db").exists()

    listed = opsloom({"OPSLOOM_DATABASE_URL": "", "OPSLOOM_DATA_DIR": str(data_dir)}, "app", "list")
    assert [line.split("\t")[0] for line in listed.output.splitlines()] == [
        "crm",
        "inventory",
        "procurement",
        "projects",
    ]
    # the demo people have raised requests: two wait for their department heads, one is a draft
    assert "raised 3 purchase requests" in result.output
    assert "a supplier application of the engineer's waits for the buyer" in result.output
    # and in the CRM, a large deal and a contract of the sales rep wait for the sales manager
    assert "CRM: 2 records of the sales rep wait for the sales manager" in result.output
    with sqlite3.connect(data_dir / "opsloom.db") as db:
        waiting = db.execute(
            "select i.app_key, i.form_key, u.email from opsloom_flow_tasks t"
            " join opsloom_flow_instances i on i.id = t.instance_id"
            " join opsloom_users u on u.id = t.assignee_id"
            " where t.state = 'pending' order by i.app_key, i.form_key, u.email"
        ).fetchall()
        statuses = sorted(s for (s,) in db.execute("select status from procurement__purchase_request"))
        plans = db.execute("select count(*) from crm__payment_plan").fetchone()[0]
    assert waiting == [
        ("crm", "contract", "sales.manager@opsloom.local"),
        ("crm", "opportunity", "sales.manager@opsloom.local"),
        ("procurement", "purchase_request", "eng.head@opsloom.local"),
        ("procurement", "purchase_request", "sales.head@opsloom.local"),
        ("procurement", "supplier_application", "buyer@opsloom.local"),
    ]
    assert statuses.count("in_review") == 2 and "draft" in statuses
    assert plans == 6 + 2  # the sample's and the rep's contract's

    # A second demo starts afresh rather than installing on top of the first.
    again = opsloom(env, "demo", "--no-serve", "--data-dir", str(data_dir))
    assert again.exit_code == 0, again.output
    assert "http://127.0.0.1:8000" in again.output


def test_cli_runs_as_a_process(env, tmp_path):
    process = opsloom_process(env, tmp_path, "db", "upgrade")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert out.strip() == f"database is at revision {head_revision()}"


@pytest.mark.parametrize("db_kind", ["postgresql"])
def test_processes_upgrading_one_postgresql_database_at_once_all_succeed(env, tmp_path):
    processes = [opsloom_process(env, tmp_path, "db", "upgrade") for _ in range(3)]
    outputs = [p.communicate(timeout=120) for p in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
        assert out.strip() == f"database is at revision {head_revision()}"


def test_user_create_follows_the_password_policy_in_force(env):
    """The policy an admin set on /admin/settings holds on the command line too (here set by the environment)."""
    strict = {**env, "OPSLOOM_PASSWORD_MIN_LENGTH": "12", "OPSLOOM_PASSWORD_CLASSES": '["digit"]'}
    refused = CliRunner().invoke(
        main, ["user", "create", "--email", "weak@example.com", "--password", "no-digits-here"], env=strict
    )
    assert refused.exit_code != 0 and "add a digit" in refused.output
    made = opsloom(strict, "user", "create", "--email", "strong@example.com", "--password", "has-digits-42")
    assert made.exit_code == 0 and "created user" in made.output


def _children(pid: int) -> list[str]:
    """The command lines of a process's children (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found.append(Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode())
    return found


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("asked", [None, "1"])
def test_serve_runs_one_web_process_per_core_unless_told(env, tmp_path, asked):
    import time

    import httpx

    from opsloom.cli import cores

    port = _free_port()
    args = ["serve", "--port", str(port), *(["--workers", asked] if asked else [])]
    server = opsloom_process(env, tmp_path, *args)
    try:
        deadline, answer = time.monotonic() + 60, None
        while answer is None and time.monotonic() < deadline and server.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
            except httpx.TransportError:
                time.sleep(0.2)
        assert answer is not None and answer.status_code == 200, server.poll()
        workers = [line for line in _children(server.pid) if "spawn_main" in line]
        expected = int(asked) if asked else cores()
        assert len(workers) == (expected if expected > 1 else 0)  # one process serves in itself
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_serve_refuses_no_workers(env):
    refused = CliRunner().invoke(main, ["serve", "--workers", "0"], env=env)
    assert refused.exit_code == 2 and "--workers" in refused.output
