"""Every administration page's routes, for the app factory to include in one go."""

from __future__ import annotations

from fastapi import APIRouter

from opsloom.admin.pages import (
    access,
    accounts,
    audit_log,
    departments,
    home,
    people,
    people_import,
    run_settings,
    status,
)

router = APIRouter(include_in_schema=False)
for part in (
    home.router,
    people_import.router,  # before people: /admin/people/import is not a person
    people.router,
    accounts.router,
    departments.router,
    access.router,
    audit_log.router,
    status.router,
    run_settings.router,
):
    router.include_router(part)
