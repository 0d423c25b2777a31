"""Every administration page's routes, for the app factory to include in one go."""

from __future__ import annotations

from fastapi import APIRouter

from opsloom.admin.pages import access, audit_log, departments, people

router = APIRouter(include_in_schema=False)
for part in (people.router, departments.router, access.router, audit_log.router):
    router.include_router(part)
