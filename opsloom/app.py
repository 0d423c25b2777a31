"""The application factory: wires settings, database, caches and routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from opsloom import __version__
from opsloom.designer.api import router as designer_router
from opsloom.designer.roles_api import router as roles_router
from opsloom.platform.auth_api import public as auth_public
from opsloom.platform.auth_api import router as auth_router
from opsloom.platform.database import Database
from opsloom.platform.http import BodySizeLimit, install_error_handlers
from opsloom.platform.migrate import upgrade
from opsloom.platform.org_api import router as org_router
from opsloom.platform.settings import Settings
from opsloom.runtime.apps_api import router as apps_router
from opsloom.runtime.forms import FormRegistry
from opsloom.runtime.records_api import router as records_router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.resolved_database_url)
        if settings.auto_upgrade:
            await upgrade(db)
        app.state.db = db
        app.state.forms = FormRegistry()
        try:
            yield
        finally:
            await db.dispose()

    app = FastAPI(
        title="Opsloom",
        version=__version__,
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)

    @app.get("/api/health", tags=["platform"], summary="Liveness")
    async def health() -> dict[str, Any]:
        return {"status": "ok"}

    app.include_router(auth_public)
    app.include_router(auth_router)
    app.include_router(org_router)
    app.include_router(roles_router)
    app.include_router(designer_router)
    app.include_router(apps_router)
    app.include_router(records_router)
    return app
