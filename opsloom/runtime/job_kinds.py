"""The kinds of background job the runtime runs, one handler each, for a process's job runner."""

from __future__ import annotations

from datetime import timedelta

from opsloom.platform.database import Database
from opsloom.platform.files import FileStore
from opsloom.platform.jobs import Handler, JobRunner
from opsloom.platform.settings import Settings
from opsloom.platform.settings_store import SettingsStore
from opsloom.runtime.forms import FormRegistry
from opsloom.runtime.imports.commit import JOB_KIND as IMPORT
from opsloom.runtime.imports.commit import ImportJob


def job_handlers(settings: Settings, forms: FormRegistry, site: SettingsStore | None = None) -> dict[str, Handler]:
    site = site or SettingsStore(settings)
    return {
        IMPORT: ImportJob(forms, FileStore(settings.imports_dir), settings.zone, settings.import_batch_rows, site),
    }


def job_runner(db: Database, settings: Settings, forms: FormRegistry, site: SettingsStore | None = None) -> JobRunner:
    lease = timedelta(seconds=settings.job_lease_seconds)
    return JobRunner(db, job_handlers(settings, forms, site), lease=lease)
