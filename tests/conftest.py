from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from opsloom.app import create_app
from opsloom.platform.settings import Settings
from tests.databases import database

DATABASES = ["sqlite", "postgresql"]
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password"


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing() -> Iterator[None]:
    """Argon2 with its production cost makes every login ~0.1-2 s; tests need correctness, not cost."""
    from argon2 import PasswordHasher

    from opsloom.platform import passwords

    original = passwords._hasher
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    passwords._hasher = original


@pytest.fixture(params=DATABASES)
def db_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db_url(db_kind: str, tmp_path: Path) -> Iterator[str]:
    with database(db_kind, tmp_path) as url:
        yield url


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, data_dir=tmp_path / "data", secret_key="test-secret")


def create_user(client: TestClient, email: str, password: str, **fields: object) -> dict:
    """Create a user directly (the first admin has nobody to create them over HTTP)."""
    from opsloom.platform import org
    from opsloom.platform.context import RequestContext

    async def run() -> dict:
        async with client.app.state.db.session(write=True) as session:
            data = {"email": email, "password": password, "name": email.split("@")[0], **fields}
            return await org.create_user(session, RequestContext.for_now(), data)

    return client.portal.call(run)


def log_in(client: TestClient, email: str, password: str) -> dict:
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return response.json()["user"]


@pytest.fixture
def anonymous(settings: Settings) -> Iterator[TestClient]:
    """A client that has not logged in."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def client(anonymous: TestClient) -> TestClient:
    """A client logged in as a platform admin."""
    create_user(anonymous, ADMIN_EMAIL, ADMIN_PASSWORD, is_admin=True)
    log_in(anonymous, ADMIN_EMAIL, ADMIN_PASSWORD)
    return anonymous


def another_client(client: TestClient, **options: object) -> TestClient:
    """A second browser on the same running app (its own cookies), sharing the app's event loop."""
    other = TestClient(client.app, raise_server_exceptions=False, **options)  # type: ignore[arg-type]
    other.portal = client.portal  # the database pool belongs to the loop the lifespan started
    return other


def query(client: TestClient, statement: object) -> list:
    """Rows of a SQLAlchemy statement, read from the app's database."""

    async def run() -> list:
        async with client.app.state.db.session() as session:
            return list((await session.execute(statement)).all())  # type: ignore[arg-type]

    return client.portal.call(run)


@contextmanager
def sent_statements(client: TestClient) -> Iterator[list[str]]:
    """The SQL statements the server sends to its database while the block runs, in order."""
    engine = client.app.state.db.engine.sync_engine  # type: ignore[attr-defined]
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)
