"""The application factory: wires settings, database, caches and routers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from opsloom import __version__
from opsloom.admin.pages import STATIC_DIR as ADMIN_STATIC_DIR
from opsloom.admin.pages.people_import import UPLOAD_PATH as PEOPLE_IMPORT_PATH
from opsloom.admin.pages.routes import router as admin_pages_router
from opsloom.designer.api import router as designer_router
from opsloom.designer.automation_runs_api import router as automation_runs_router
from opsloom.designer.documents_api import router as documents_design_router
from opsloom.designer.field_types_api import router as field_types_router
from opsloom.designer.flow_design_api import router as flow_simulation_router
from opsloom.designer.formula_check import router as formula_check_router
from opsloom.designer.packages_api import router as packages_router
from opsloom.designer.pages import STATIC_DIR as DESIGN_STATIC_DIR
from opsloom.designer.pages.app_settings_page import router as app_settings_router
from opsloom.designer.pages.automation_pages import router as automation_pages_router
from opsloom.designer.pages.flow_designer import router as flow_designer_router
from opsloom.designer.pages.form_designer import router as form_designer_router
from opsloom.designer.pages.permission_pages import router as permission_pages_router
from opsloom.designer.pages.publish_pages import router as publish_pages_router
from opsloom.designer.pages.report_designer import router as report_designer_router
from opsloom.designer.pages.routes import router as design_pages_router
from opsloom.designer.pages.template_gallery import router as template_gallery_router
from opsloom.designer.reports_api import router as report_preview_router
from opsloom.designer.roles_api import router as roles_router
from opsloom.platform.api_document import install_api_document
from opsloom.platform.auth_api import public as auth_public
from opsloom.platform.auth_api import router as auth_router
from opsloom.platform.collector import freeze_garbage_collector
from opsloom.platform.database import Database
from opsloom.platform.http import BodySizeLimit, ReleaseHeld, install_error_handlers
from opsloom.platform.input_guard import InputGuard
from opsloom.platform.migrate import note_current, upgrade
from opsloom.platform.org_api import router as org_router
from opsloom.platform.principal_cache import PrincipalCache
from opsloom.platform.settings import Settings
from opsloom.platform.settings_api import router as settings_api_router
from opsloom.platform.settings_store import SettingsStore
from opsloom.runtime.apps_api import router as apps_router
from opsloom.runtime.bulk_actions import router as bulk_router
from opsloom.runtime.files_api import MULTIPART_ALLOWANCE, UPLOAD_PATH
from opsloom.runtime.files_api import router as files_router
from opsloom.runtime.flow.api import router as flow_router
from opsloom.runtime.flow.instances import FlowCache, Services
from opsloom.runtime.flow.timers import work
from opsloom.runtime.forms import FormRegistry
from opsloom.runtime.imports_api import IMPORT_PATH
from opsloom.runtime.imports_api import router as imports_router
from opsloom.runtime.integrations.api import router as integrations_router
from opsloom.runtime.integrations.events import install_outbox
from opsloom.runtime.integrations.secrets_api import router as secrets_router
from opsloom.runtime.integrations.worker import work_outbox
from opsloom.runtime.job_kinds import job_runner
from opsloom.runtime.pages.account_pages import router as account_pages_router
from opsloom.runtime.pages.api_docs import router as api_docs_router
from opsloom.runtime.pages.bulk_page import router as bulk_page_router
from opsloom.runtime.pages.errors import install_page_errors, unstorable_input_page
from opsloom.runtime.pages.import_page import router as import_page_router
from opsloom.runtime.pages.notification_pages import router as notification_pages_router
from opsloom.runtime.pages.record_pages import router as record_pages_router
from opsloom.runtime.pages.report_pages import router as report_pages_router
from opsloom.runtime.pages.routes import router as pages_router
from opsloom.runtime.pages.task_pages import router as task_pages_router
from opsloom.runtime.pages.vendor import router as vendor_router
from opsloom.runtime.records_api import router as records_router
from opsloom.runtime.reports.api import router as reports_router
from opsloom.runtime.views_api import router as views_router

STATIC_DIR = Path(__file__).parent / "runtime" / "static"

log = logging.getLogger(__name__)


async def _stop(workers: list[asyncio.Task[Any]], grace: float = 5.0) -> None:
    """Cancel the workers and wait until each has stopped. A cancel can be lost (Python 3.11's
    `asyncio.wait_for`, which a library may use, swallows one that lands as its wait ends): a worker
    still running after `grace` seconds is cancelled again, rather than the server never stopping."""
    running = set(workers)
    while running:
        for worker in running:
            worker.cancel()
        _, running = await asyncio.wait(running, timeout=grace)
        for worker in running:
            log.warning("worker %s is still running %s s after it was cancelled; cancelling it again", worker, grace)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database.from_settings(settings)
        if settings.auto_upgrade:
            await upgrade(db)
        else:
            await note_current(db)
        app.state.db = db
        app.state.principals = await PrincipalCache(db).start()
        app.state.forms = FormRegistry()
        app.state.flows = FlowCache()
        install_outbox(db)  # every record write writes its event
        workers = []
        if settings.run_worker:  # the demo: flow timers fire and the outbox is delivered inside the server
            services = Services(app.state.forms, app.state.flows)
            workers.append(asyncio.create_task(work(db, services, site=app.state.site_settings)))
            workers.append(asyncio.create_task(work_outbox(db, app.state.forms, settings)))
        if settings.run_jobs:  # imports run in the server that took them, and in `opsloom worker`
            app.state.jobs = job_runner(db, settings, app.state.forms, app.state.site_settings)
            workers.append(asyncio.create_task(app.state.jobs.work()))
        if settings.freeze_gc:
            freeze_garbage_collector()
        try:
            yield
        finally:
            await _stop(workers)
            await app.state.principals.stop()
            await db.dispose()

    app = FastAPI(
        title="Opsloom",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # served by pages.api_docs, with Swagger UI from npm
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.site_settings = site_settings = SettingsStore(settings)
    install_api_document(app)
    install_error_handlers(app)
    install_page_errors(app)  # browsers get the HTML 404 page; the API keeps problem+json
    app.add_middleware(ReleaseHeld)  # innermost: around the routes, whose authentication holds a session
    # The guard reads bodies the size limit has already capped: the limit is added last, so it runs first.
    app.add_middleware(InputGuard, router=app.router, refuse_page=unstorable_input_page)
    # The limits in force as this process last read the settings; each route checks the fresh ones again.
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        overrides=[
            ("POST", UPLOAD_PATH, lambda: site_settings.current.settings.max_upload_bytes + MULTIPART_ALLOWANCE),
            ("POST", IMPORT_PATH, lambda: site_settings.current.settings.max_import_bytes + MULTIPART_ALLOWANCE),
            ("POST", PEOPLE_IMPORT_PATH, lambda: site_settings.current.settings.max_import_bytes + MULTIPART_ALLOWANCE),
        ],
    )

    @app.get("/api/health", tags=["platform"], summary="Liveness")
    async def health() -> dict[str, Any]:
        return {"status": "ok"}

    # Routes are matched in order, each one tried in turn (twice per request): the records API, the most
    # called, comes first. None of its paths matches another router's, so the order changes no answer.
    app.include_router(records_router)
    app.include_router(auth_public)
    app.include_router(auth_router)
    app.include_router(org_router)
    app.include_router(settings_api_router)
    app.include_router(roles_router)
    app.include_router(designer_router)
    app.include_router(packages_router)
    app.include_router(formula_check_router)
    app.include_router(field_types_router)
    app.include_router(apps_router)
    app.include_router(bulk_router)
    app.include_router(views_router)
    app.include_router(flow_simulation_router)
    app.include_router(report_preview_router)
    app.include_router(documents_design_router)
    app.include_router(reports_router)
    app.include_router(flow_router)
    app.include_router(files_router)
    app.include_router(imports_router)
    app.include_router(integrations_router)
    app.include_router(secrets_router)
    app.include_router(automation_runs_router)
    app.include_router(pages_router)
    app.include_router(import_page_router)
    app.include_router(bulk_page_router)
    app.include_router(record_pages_router)
    app.include_router(report_pages_router)
    app.include_router(task_pages_router)
    app.include_router(account_pages_router)
    app.include_router(notification_pages_router)
    app.include_router(vendor_router)
    app.include_router(api_docs_router)
    app.include_router(template_gallery_router)
    app.include_router(design_pages_router)
    app.include_router(form_designer_router)
    app.include_router(flow_designer_router)
    app.include_router(report_designer_router)
    app.include_router(admin_pages_router)
    app.include_router(publish_pages_router)
    app.include_router(permission_pages_router)
    app.include_router(app_settings_router)
    app.include_router(automation_pages_router)
    app.mount("/static/design", StaticFiles(directory=DESIGN_STATIC_DIR), name="design_static")
    app.mount("/static/admin", StaticFiles(directory=ADMIN_STATIC_DIR), name="admin_static")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
