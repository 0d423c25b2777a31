"""Importing people from a spreadsheet: read it, map its columns, judge every row, then write all or nothing.

A row is matched to a person by e-mail, else by employee number: a match is updated, anything else is
created (without a password; an admin resets one to let them in). Departments are named by name or by
path ("Sales / East"); managers by e-mail or employee number, of people already here or in the file.
The dry run and the import are the same code: the dry run rolls its transaction back, so what it
reports is exactly what the import would do. Every write goes through the organisation service,
which validates and audits it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform import org, tables
from opsloom.platform.audit import audit
from opsloom.platform.context import RequestContext
from opsloom.platform.errors import OpsloomError
from opsloom.runtime.imports.sources import cell_json, open_source

TARGETS = ("name", "email", "employee_no", "phone", "department", "manager")
# Header names each target is matched by (compared without case, spaces, dashes or underscores).
HEADER_NAMES: Mapping[str, tuple[str, ...]] = {
    "name": ("name", "fullname", "姓名", "名字", "员工姓名"),
    "email": ("email", "e-mail", "mail", "emailaddress", "邮箱", "电子邮件", "电子邮箱", "邮件"),
    "employee_no": ("employeeno", "employeenumber", "employeeid", "staffno", "工号", "员工编号", "员工号"),
    "phone": ("phone", "mobile", "telephone", "电话", "手机", "手机号", "联系电话"),
    "department": ("department", "dept", "部门", "所属部门"),
    "manager": ("manager", "reportsto", "上级", "直属上级", "经理", "主管"),
}
MAX_ROWS = 5000


def _loose(text: Any) -> str:
    return re.sub(r"[\s_\-]+", "", str(text or "")).lower()


def read_rows(path: Path, file_format: str) -> tuple[list[str], list[list[Any]]]:
    """The header row and the data rows (empty rows left out), at most MAX_ROWS of them."""
    rows: Iterator[list[Any]] = iter(open_source(path, file_format, None).rows(None))
    headers = [str(cell_json(c) or "").strip() for c in next(rows, [])]
    data = []
    for row in rows:
        if any(str(cell_json(c) or "").strip() for c in row):
            data.append(row)
            if len(data) > MAX_ROWS:
                break
    return headers, data


def auto_mapping(headers: list[str]) -> dict[str, int]:
    """Each target's column, matched by its header's name in Chinese or English."""
    found: dict[str, int] = {}
    for index, header in enumerate(headers):
        for target, names in HEADER_NAMES.items():
            if target not in found and _loose(header) in {_loose(n) for n in names}:
                found[target] = index
    return found


@dataclass
class RowReport:
    number: int  # the row's number in the spreadsheet (the header is row 1)
    values: dict[str, str]
    action: str = ""  # create, update
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class Problem:
    """What is wrong on a row: its column, in English, and a message key (with values) for the page."""

    target: str
    message: str
    key: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class ImportReport:
    rows: list[RowReport]
    committed: bool = False
    too_many: bool = False

    @property
    def bad(self) -> list[RowReport]:
        return [r for r in self.rows if r.problems]

    def count(self, action: str) -> int:
        return sum(1 for r in self.rows if r.action == action and not r.problems)


def _text(cell: Any) -> str:
    value = cell_json(cell)
    return "" if value is None else str(value).strip()


def row_values(row: list[Any], mapping: Mapping[str, int]) -> dict[str, str]:
    return {t: _text(row[i]) if i < len(row) else "" for t, i in mapping.items()}


class Directory:
    """The people and departments rows refer to, as they stand inside the import's transaction."""

    def __init__(self, people: Iterable[Any], departments: list[dict[str, Any]]) -> None:
        self.by_email: dict[str, int] = {}
        self.by_number: dict[str, int] = {}
        for p in people:
            self.add(p.id, p.email, p.employee_no)
        self.departments_by_path = {_path_key(d["path"]): d["id"] for d in departments}
        self.departments_by_name: dict[str, list[int]] = {}
        for d in departments:
            self.departments_by_name.setdefault(d["name"].strip().lower(), []).append(d["id"])

    def add(self, user_id: int, email: str | None, number: str | None) -> None:
        if email:
            self.by_email[email.strip().lower()] = user_id
        if number:
            self.by_number[number.strip()] = user_id

    def person(self, text: str) -> int | None:
        return self.by_email.get(text.lower()) or self.by_number.get(text)

    def department(self, text: str) -> tuple[int | None, Problem | None]:
        """The department named (by path or by name), or why none is."""
        if "/" in text:
            found = self.departments_by_path.get(_path_key(text))
            if found:
                return found, None
            return None, Problem(
                "department", f"there is no department at the path '{text}'", "no_path", {"name": text}
            )
        ids = self.departments_by_name.get(text.lower(), [])
        if len(ids) == 1:
            return ids[0], None
        if ids:
            message = f"{len(ids)} departments are named '{text}'; give its path, such as 'Sales / {text}'"
            return None, Problem("department", message, "ambiguous", {"name": text, "count": len(ids)})
        return None, Problem("department", f"there is no department named '{text}'", "no_department", {"name": text})


def _path_key(path: str) -> str:
    return "/".join(part.strip().lower() for part in path.split("/"))


async def run_import(
    session: AsyncSession,
    ctx: RequestContext,
    rows: list[list[Any]],
    mapping: Mapping[str, int],
    departments: list[dict[str, Any]],
) -> ImportReport:
    """Judge and write every row in `session`'s transaction; the caller commits only a clean report.

    Two passes: people first, then managers, so a manager may come later in the file than their people."""
    u = tables.users
    people = (await session.execute(select(u.c.id, u.c.email, u.c.employee_no))).all()
    directory = Directory(people, departments)
    reports = [RowReport(number + 2, row_values(row, mapping)) for number, row in enumerate(rows[:MAX_ROWS])]
    written: dict[int, int] = {}  # report index -> user id
    seen: dict[str, int] = {}  # e-mails and numbers earlier in the file -> row number
    for index, report in enumerate(reports):
        user_id = await _write_person(session, ctx, report, directory, seen)
        if user_id is not None:
            written[index] = user_id
    for index, report in enumerate(reports):
        manager = report.values.get("manager", "")
        if not manager or index not in written:
            continue
        manager_id = directory.person(manager)
        if manager_id is None:
            message = f"no one here or in the file has the e-mail or number '{manager}'"
            report.problems.append(Problem("manager", message, "no_manager", {"name": manager}))
            continue
        try:
            await org.update_user(session, ctx, written[index], {"manager_id": manager_id})
        except OpsloomError as error:
            report.problems += [Problem("manager", e.message) for e in error.errors] or [
                Problem("manager", error.detail)
            ]
    report_of = ImportReport(reports, too_many=len(rows) > MAX_ROWS)
    if not report_of.bad:
        await audit(
            session,
            ctx,
            "people.imported",
            None,
            {"created": report_of.count("create"), "updated": report_of.count("update")},
        )
    return report_of


async def _write_person(
    session: AsyncSession, ctx: RequestContext, report: RowReport, directory: Directory, seen: dict[str, int]
) -> int | None:
    values = report.values
    email, number = values.get("email", ""), values.get("employee_no", "")
    for key, text in (("email", email.lower()), ("employee_no", number)):
        if text and text in seen:
            report.problems.append(Problem(key, f"is also on row {seen[text]}", "repeated", {"row": seen[text]}))
        elif text:
            seen[text] = report.number
    data: dict[str, Any] = {}
    for key in ("name", "email", "employee_no", "phone"):
        if values.get(key):
            data[key] = values[key]
    if values.get("department"):
        department_id, problem = directory.department(values["department"])
        if problem:
            report.problems.append(problem)
        data["department_id"] = department_id
    existing = directory.by_email.get(email.lower()) if email else None
    if existing is None and number:
        existing = directory.by_number.get(number)
    if existing is None and not email:
        report.problems.append(Problem("email", "is needed for a new person", "email_needed"))
    if report.problems:
        return None
    try:
        if existing is None:
            report.action = "create"
            created = await org.create_user(session, ctx, data)
            directory.add(created["id"], created["email"], created["employee_no"])
            return int(created["id"])
        report.action = "update"
        updated = await org.update_user(session, ctx, existing, data)
        directory.add(existing, updated["email"], updated["employee_no"])
        return existing
    except OpsloomError as error:
        report.problems += [Problem(_target(e.path), e.message) for e in error.errors] or [Problem("", error.detail)]
        return None


def _target(path: str) -> str:
    return {"department_id": "department", "manager_id": "manager"}.get(path, path)
