"""Opsloom as users get it: a wheel installed in a fresh virtual environment, run from elsewhere.

`schemas/`, `examples/` and `alembic.ini` live at the top of the repository and must ship
inside the wheel (under `opsloom/_data`), found the same way as in an editable install.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import venv
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPOSITORY = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

WHERE_ARE_THE_DATA = (
    "import json, opsloom, opsloom.resources as r; print(json.dumps({"
    "'package': str(__import__('pathlib').Path(opsloom.__file__).resolve().parent), "
    "'schemas': str(r.data_path('schemas')), 'examples': str(r.data_path('examples')), "
    "'alembic.ini': str(r.data_path('alembic.ini'))}))"
)


@dataclass(frozen=True)
class Installed:
    python: Path
    opsloom: Path
    site_packages: Path


def run(*args: object, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any Opsloom setting or Python path leaking in from the tests."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("OPSLOOM_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    return {**env, **extra}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    # No isolation: hatchling is already in the test environment, so no download is needed.
    run(
        sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", dist, REPOSITORY,
        cwd=root, timeout=180,
    )  # fmt: skip
    [wheel] = dist.glob("opsloom-*.whl")
    target = root / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(target)
    python = target / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", wheel, cwd=root, env=clean_env(), timeout=300)
    site_packages = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=root).strip())
    return Installed(python=python, opsloom=target / "bin" / "opsloom", site_packages=site_packages)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A working directory far from the repository, so nothing is found by accident."""
    directory = tmp_path / "elsewhere"
    directory.mkdir()
    assert REPOSITORY not in directory.resolve().parents
    return directory


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_installed_wheel_reports_its_version(installed, outside):
    out = run(installed.opsloom, "--version", cwd=outside, env=clean_env())
    assert out.strip() == "opsloom, version 0.1.0"


def test_installed_wheel_finds_its_data_inside_the_package(installed, outside):
    found = json.loads(run(installed.python, "-c", WHERE_ARE_THE_DATA, cwd=outside, env=clean_env()))
    package = installed.site_packages / "opsloom"
    assert Path(found["package"]) == package.resolve()
    for name in ("schemas", "examples", "alembic.ini"):
        assert Path(found[name]) == (package / "_data" / name).resolve()
    assert (Path(found["schemas"]) / "form.schema.json").is_file()
    assert (Path(found["examples"]) / "procurement" / "app.json").is_file()


def test_installed_wheel_installs_the_example_and_serves_it(installed, outside):
    examples = installed.site_packages / "opsloom" / "_data" / "examples"
    procurement = examples / "procurement"
    env = clean_env(OPSLOOM_DATA_DIR=str(outside / "data"))
    version = json.loads((procurement / "app.json").read_text())["version"]
    out = run(installed.opsloom, "app", "install", procurement, cwd=outside, env=env)
    assert out.startswith(f"install procurement {version}:")  # the plan, then what was done
    assert "\ninstalled procurement: forms " in out
    assert {p.name for p in examples.iterdir() if (p / "app.json").is_file()} == {
        "crm",
        "inventory",
        "procurement",
        "projects",
    }
    assert (outside / "data" / "opsloom.db").is_file()
    admin = ("--email", "admin@example.com")
    run(installed.opsloom, "user", "create", *admin, "--password", "a-long-password", "--admin",
        cwd=outside, env=env)  # fmt: skip
    token = run(installed.opsloom, "token", "create", *admin, cwd=outside, env=env).strip()

    port = free_port()
    log = outside / "server.log"
    with log.open("w") as log_file:
        server = subprocess.Popen(
            [str(installed.opsloom), "serve", "--port", str(port), "--workers", "1"],
            cwd=outside,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            with httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            ) as client:
                health = wait_until_answering(client, server, log)
                assert health.status_code == 200
                assert health.json() == {"status": "ok"}
                check_example_is_served(client, procurement)
        finally:
            stop(server)


def wait_until_answering(
    client: httpx.Client, server: subprocess.Popen[bytes], log: Path, seconds: float = 60
) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        if server.poll() is not None:
            pytest.fail(f"the server exited with {server.returncode}:\n{log.read_text()}")
        try:
            return client.get("/api/health")
        except httpx.TransportError:
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not answer within {seconds} s:\n{log.read_text()}")
            time.sleep(0.2)


def check_example_is_served(client: httpx.Client, procurement: Path) -> None:
    apps = client.get("/api/apps")
    assert apps.status_code == 200, apps.text
    [app] = [a for a in apps.json()["items"] if a["key"] == "procurement"]
    expected_forms = sorted(p.stem for p in (procurement / "forms").glob("*.json"))
    assert sorted(f["key"] for f in app["forms"]) == expected_forms

    sample = json.loads((procurement / "data" / "purchase_request.json").read_text())
    listed = client.get("/api/apps/procurement/forms/purchase_request/records", params={"limit": 500})
    assert listed.status_code == 200, listed.text
    assert listed.json()["total"] == len(sample)
    assert sorted(r["title"] for r in listed.json()["items"]) == sorted(r["title"] for r in sample)


def stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)


def test_editable_install_finds_the_data_in_the_repository(tmp_path):
    """The test environment's own install (`pip install -e .`), used from another folder."""
    found = json.loads(run(sys.executable, "-c", WHERE_ARE_THE_DATA, cwd=tmp_path, env=clean_env()))
    assert Path(found["package"]) == REPOSITORY / "opsloom", "not the repository's opsloom"
    for name in ("schemas", "examples", "alembic.ini"):
        assert Path(found[name]) == REPOSITORY / name
