"""Settings from the environment (`OPSLOOM_*`) and an optional `.env` file."""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from opsloom.platform.site_settings import DEFAULTS, NAMES, CharacterClass
from opsloom.resources import node_modules_path


def cores() -> int:
    """The CPU cores this process may run on (a container's limit, not the host's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPSLOOM_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path("opsloom-data"), description="Files, uploads, SQLite db")
    database_url: str = Field(default="", description="SQLAlchemy URL; default SQLite in data_dir")
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: str = Field(default="", description="Signing key; generated in data_dir if empty")
    # The settings an admin may also change on /admin/settings (site_settings.py): set here, they win.
    timezone: str = Field(default=DEFAULTS.timezone, description="Zone for 'today', 'this_week' and friends")
    default_language: str = Field(default=DEFAULTS.default_language, description="For people who chose none")
    password_min_length: int = DEFAULTS.password_min_length
    password_classes: tuple[CharacterClass, ...] = DEFAULTS.password_classes
    session_lifetime_hours: int = DEFAULTS.session_lifetime_hours
    login_max_failures: int = DEFAULTS.login_max_failures
    login_lockout_minutes: int = DEFAULTS.login_lockout_minutes
    settings_refresh_seconds: float = Field(
        default=1.0, ge=0, description="How stale another process's change of the stored settings may be seen"
    )
    max_body_bytes: int = Field(default=2 * 1024 * 1024, description="Largest JSON body accepted")
    max_upload_bytes: int = Field(default=DEFAULTS.max_upload_bytes, description="Largest uploaded file")
    exact_count_limit: int = Field(
        default=10_000, description="Lists count exactly up to this many rows, then estimate"
    )
    export_max_rows: int = Field(default=100_000, description="Most rows one export writes; the rest are left out")
    db_pool_size: int | None = Field(
        default=None,
        ge=1,
        description="Database connections one process keeps open (PostgreSQL: twice the cores; SQLite: 10)",
    )
    db_pool_overflow: int | None = Field(
        default=None, ge=0, description="Extra connections one process opens under load (PostgreSQL: none; SQLite: 20)"
    )
    db_pool_timeout: float = Field(
        default=30.0, gt=0, description="Seconds a request waits for a free connection before it answers 503"
    )
    max_import_bytes: int = Field(default=DEFAULTS.max_import_bytes, description="Largest spreadsheet an import takes")
    import_batch_rows: int = Field(default=500, ge=1, le=5000, description="Rows an import stores per transaction")
    run_jobs: bool = Field(default=True, description="Run background jobs (imports) inside the web server too")
    job_lease_seconds: float = Field(
        default=30.0, gt=0, description="How long a worker holds a job without renewing before another takes it over"
    )
    auto_upgrade: bool = Field(default=True, description="Run database migrations at start")
    run_worker: bool = Field(
        default=False, description="Fire flow timers, deliver the outbox in the web server (the demo does)"
    )
    freeze_gc: bool = Field(
        default=False,
        description="After start-up, set what the process holds aside from the garbage collector "
        "(gc.freeze) and collect young objects less often; `opsloom serve` and `opsloom worker` do",
    )
    public_url: str = Field(default="", description="The server's address as users reach it, for links in messages")
    outbox_max_attempts: int = Field(default=8, ge=1, description="Attempts to deliver a webhook or message")
    outbox_retry_base: float = Field(default=5.0, gt=0, description="Seconds before the first retry; doubles")
    outbox_retry_max: float = Field(default=36_000.0, gt=0, description="Longest wait between two attempts")
    outbox_lease: float = Field(default=60.0, gt=0, description="Seconds a worker holds a delivery it sends")
    outbound_timeout: float = Field(default=10.0, gt=0, description="Seconds an outgoing request may take")
    outbound_allow_private: bool = Field(
        default=False, description="Let webhooks and robots call private and loopback addresses (intranets, tests)"
    )
    smtp_host: str = Field(default=DEFAULTS.smtp_host, description="SMTP server for e-mail notifications")
    smtp_port: int = DEFAULTS.smtp_port
    smtp_username: str = DEFAULTS.smtp_username
    smtp_password: str = DEFAULTS.smtp_password
    smtp_from: str = DEFAULTS.smtp_from
    smtp_starttls: bool = DEFAULTS.smtp_starttls
    vendor_dir: Path | None = Field(
        default_factory=node_modules_path, description="npm packages served at /vendor/ (default: ./node_modules)"
    )

    @property
    def resolved_database_url(self) -> str:
        return normalise_database_url(self.database_url) or (
            f"sqlite+aiosqlite:///{(self.data_dir / 'opsloom.db').resolve()}"
        )

    @property
    def files_dir(self) -> Path:
        """Where uploaded files live (under random names, see platform/files.py)."""
        return self.data_dir / "files"

    @property
    def imports_dir(self) -> Path:
        """Where uploaded spreadsheets wait to be imported."""
        return self.data_dir / "imports"

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def site_environment(self) -> dict[str, Any]:
        """The run-time settings really set in the environment (or `.env`, or given to the constructor)."""
        return {name: getattr(self, name) for name in NAMES if name in self.model_fields_set}

    def resolved_secret_key(self) -> str:
        if self.secret_key:
            return self.secret_key
        key_file = self.data_dir / "secret.key"
        if not key_file.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        return key_file.read_text().strip()


def normalise_database_url(url: str) -> str:
    """Accept the URLs people paste (`postgresql://`, `sqlite:///`) and pick the async driver."""
    for plain, asynchronous in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if url.startswith(plain):
            return asynchronous + url[len(plain) :]
    return url
