from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opsloom.platform.settings import Settings
from tests.runtime.integrations.receiver import Receiver, receiving


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Integrations' tests post to a receiver on 127.0.0.1, so private targets are allowed here."""
    return Settings(
        database_url=db_url,
        data_dir=tmp_path / "data",
        secret_key="test-secret",
        outbound_allow_private=True,
        outbox_max_attempts=3,
        outbox_retry_base=60,
        outbox_retry_max=3600,
        outbox_lease=30,
        public_url="https://ops.example.com",
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found
