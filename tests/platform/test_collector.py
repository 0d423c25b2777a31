"""A server sets what it holds after start-up aside from the garbage collector (`gc.freeze`), and
collects young objects less often, when asked, as `opsloom serve` and `opsloom worker` ask; an app
built in a test process does not."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from opsloom import cli
from opsloom.app import create_app
from opsloom.platform.collector import YOUNG_THRESHOLD
from opsloom.platform.settings import Settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()  # what a test froze goes back to the collector
    gc.set_threshold(*threshold)


def test_a_server_asked_to_freeze_sets_its_start_up_aside_and_still_serves(settings: Settings, unfrozen: None) -> None:
    with TestClient(create_app(settings.model_copy(update={"freeze_gc": True}))) as client:
        assert gc.get_freeze_count() > 10_000  # the modules, forms and tables a started server holds
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD  # young objects collected less often
        assert client.get("/api/health").status_code == 200
        gc.collect()
        assert gc.get_freeze_count() > 10_000  # a full collection leaves them be


def test_an_app_not_asked_freezes_nothing(settings: Settings, unfrozen: None) -> None:
    threshold = gc.get_threshold()
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/health").status_code == 200
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == threshold


def test_serve_asks_its_web_processes_to_freeze(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("OPSLOOM_FREEZE_GC", "OPSLOOM_DATABASE_URL", "OPSLOOM_DATA_DIR"):
        monkeypatch.setenv(name, "")  # noted, so that what `_run_server` sets is put back after the test
        monkeypatch.delenv(name)
    started: list[str] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: started.append(os.environ["OPSLOOM_FREEZE_GC"]))
    cli._run_server(Settings(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db"))
    assert started == ["true"]
    assert Settings().freeze_gc is True  # what each web process's create_app reads
