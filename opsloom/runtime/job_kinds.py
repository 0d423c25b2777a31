"""The kinds of background job the runtime runs, one handler each, for a process's job runner."""

from __future__ import annotations

from datetime import timedelta

from opsloom.platform.database import Database
from opsloom.platform.files import FileStore
from opsloom.platform.jobs import Handler, JobRunner
from opsloom.platform.settings import Settings
from opsloom.runtime.forms import FormRegistry
from opsloom.runtime.imports.commit import JOB_KIND as IMPORT
from opsloom.runtime.imports.commit import ImportJob


def job_handlers(settings: Settings, forms: FormRegistry) -> dict[str, Handler]:
    return {
        IMPORT: ImportJob(forms, FileStore(settings.imports_dir), settings.zone, settings.import_batch_rows),
    }


def job_runner(db: Database, settings: Settings, forms: FormRegistry) -> JobRunner:
    return JobRunner(db, job_handlers(settings, forms), lease=timedelta(seconds=settings.job_lease_seconds))
