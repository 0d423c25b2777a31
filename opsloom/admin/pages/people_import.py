"""The people import pages: upload a spreadsheet, map its columns, try it (a report per row), import it.

The file waits under the data folder between the steps, named by a random token the forms carry.
Trying and importing run the same code (`admin/people_import.py`): a try, or an import with any bad
row, rolls its transaction back, so nothing is written unless every row is good.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response

from opsloom.admin.pages.shell import KNOWN_PROBLEMS, Admin, admin_nav, department_choices, open_admin
from opsloom.admin.people_import import TARGETS, ImportReport, Problem, auto_mapping, read_rows, run_import
from opsloom.platform.errors import OpsloomError
from opsloom.runtime.imports.sources import cell_json, format_of
from opsloom.runtime.pages.rendering import forbidden, render
from opsloom.runtime.pages.security import CSRF_FIELD, form_token_ok

router = APIRouter(include_in_schema=False)

UPLOAD_PATH = "/admin/people/import"
TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}\.(csv|xlsx)$")
SAMPLE_ROWS = 3


def _field_of(target: str) -> str:
    return {"department": "department_id", "manager": "manager_id"}.get(target, target)


class RolledBack(Exception):
    """Leaves the import's transaction without writing: a try, or a file with bad rows."""

    def __init__(self, report: ImportReport) -> None:
        self.report = report


def _folder(request: Request) -> Path:
    return request.app.state.settings.imports_dir / "people"


def _page(admin: Admin, status: int = 200, **values: Any) -> Response:
    t = admin.ctx.t

    def problem_text(problem: Problem) -> str:
        """The row's problem in the reader's language where we know it (the service's words otherwise)."""
        if problem.key:
            return t(f"admin.import.problem.{problem.key}", **problem.values)
        key = KNOWN_PROBLEMS.get((_field_of(problem.target), problem.message))
        return t(key) if key else problem.message

    return render(
        admin.ctx,
        "admin_people_import.html",
        status=status,
        nav=admin_nav("people"),
        targets=TARGETS,
        error=values.pop("error", ""),
        report=values.pop("report", None),
        problem_text=problem_text,
        **values,
    )


@router.get(UPLOAD_PATH)
async def import_start(request: Request) -> Response:
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    return _page(admin, step="upload")


@router.post(UPLOAD_PATH)
async def import_upload(request: Request) -> Response:
    """Keep the file and show its columns, each matched to what it may hold."""
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not form_token_ok(request, sent if isinstance(sent, str) else None, admin.user):
        return forbidden(admin.ctx)
    upload = form.get("file")
    t = admin.ctx.t
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _page(admin, 400, step="upload", error=t("admin.import.error.no_file"))
    file_format = format_of(upload.filename)
    if file_format is None:
        return _page(admin, 400, step="upload", error=t("admin.import.error.format"))
    folder = _folder(request)
    folder.mkdir(parents=True, exist_ok=True)
    token = f"{secrets.token_urlsafe(18)}.{file_format}"
    (folder / token).write_bytes(await upload.read())
    return await _mapping_page(admin, request, token, None)


async def _mapping_page(
    admin: Admin, request: Request, token: str, mapping: dict[str, int] | None, status: int = 200, **values: Any
) -> Response:
    path = _folder(request) / token
    try:
        headers, rows = read_rows(path, token.rsplit(".", 1)[1])
    except OpsloomError:
        path.unlink(missing_ok=True)
        return _page(admin, 400, step="upload", error=admin.ctx.t("admin.import.error.unreadable"))
    if not headers or not rows:
        path.unlink(missing_ok=True)
        return _page(admin, 400, step="upload", error=admin.ctx.t("admin.import.error.empty"))
    return _page(
        admin,
        status,
        step="map",
        token=token,
        headers=headers,
        sample=[[str(cell_json(c) or "") for c in row] for row in rows[:SAMPLE_ROWS]],
        total=len(rows),
        mapping=auto_mapping(headers) if mapping is None else mapping,
        **values,
    )


def _chosen_mapping(form: Any, width: int) -> dict[str, int]:
    mapping = {}
    for target in TARGETS:
        text = form.get(f"map_{target}")
        if isinstance(text, str) and text.isdigit() and int(text) < width:
            mapping[target] = int(text)
    return mapping


@router.post(UPLOAD_PATH + "/run")
async def import_run(request: Request) -> Response:
    """Try the import (`mode=check`) or make it (`mode=commit`): all rows, or none."""
    admin = await open_admin(request)
    if not isinstance(admin, Admin):
        return admin
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not form_token_ok(request, sent if isinstance(sent, str) else None, admin.user):
        return forbidden(admin.ctx)
    t = admin.ctx.t
    token = form.get("token")
    if not isinstance(token, str) or not TOKEN.match(token) or not (_folder(request) / token).is_file():
        return _page(admin, 400, step="upload", error=t("admin.import.error.gone"))
    headers, rows = read_rows(_folder(request) / token, token.rsplit(".", 1)[1])
    mapping = _chosen_mapping(form, len(headers))
    if "email" not in mapping and "employee_no" not in mapping:  # nothing to match or create people by
        message = t("admin.import.error.mapping")
        return await _mapping_page(admin, request, token, mapping, 400, error=message)
    commit = form.get("mode") == "commit"
    db = request.app.state.db
    try:
        async with db.session(write=True) as session:
            departments = await department_choices(session)
            report = await run_import(session, admin.services_context(), rows, mapping, departments)
            if report.bad or not commit:
                raise RolledBack(report)
            report.committed = True
    except RolledBack as rolled:
        report = rolled.report
    except OpsloomError as error:  # a conflict with a change made meanwhile: nothing was written
        return await _mapping_page(admin, request, token, mapping, 409, error=error.detail)
    if report.committed:
        (_folder(request) / token).unlink(missing_ok=True)
        return _page(admin, step="done", report=report)
    status = 400 if report.bad else 200
    return await _mapping_page(admin, request, token, mapping, status, report=report, tried=True)
