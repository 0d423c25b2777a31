"""The README's first example runs as written against a fresh demo server (curl and python3, as a user would)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.browser.conftest import LiveServer

pytestmark = pytest.mark.xdist_group("browser")

README = Path(__file__).parents[2] / "README.md"


def demo_example() -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(r"<!-- demo-example:.*?-->\n```sh\n(.*?)```", text, re.S)
    assert found, "the README's demo example (marked <!-- demo-example: ... -->) is missing"
    return found.group(1)


def test_the_readme_demo_example_runs_as_written(live_server: LiveServer, tmp_path: Path) -> None:
    assert shutil.which("curl"), "the README's examples use curl"
    script = demo_example()
    assert "BASE=http://127.0.0.1:8000\n" in script
    script = script.replace("BASE=http://127.0.0.1:8000\n", f"BASE={live_server.url}\n", 1)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    created = json.loads((tmp_path / "created.json").read_text())
    assert created["amount"] == "28800.00" and [row["line_total"] for row in created["items"]] == [
        "27800.00",
        "1000.00",
    ]
    listed = json.loads(_last_json(done.stdout))  # the sales requester's own, largest first
    assert listed["items"][0]["id"] == created["id"] and listed["items"][0]["status"] == "in_review"


def _last_json(output: str) -> str:
    """The last JSON document curl printed (the submit's answer comes before the list's, without a newline)."""
    start = output.rfind('{"items"')
    assert start >= 0, output
    return output[start:]
