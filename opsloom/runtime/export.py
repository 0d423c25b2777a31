"""Exporting a form's list to CSV or XLSX, through the records service.

Rows are read with `list_records`, page by page, so the row scope and the
hidden fields of the caller apply exactly as in the list; nothing here reads
the table itself. Each exported value is what a person reads in the list
(option labels, linked titles, yes/no), except numbers, dates and times,
which stay machine-readable so a spreadsheet can compute with them: plain
decimals (`1234.50`), ISO dates (`2026-01-31`) and ISO datetimes in the
server's zone (`2026-01-31T09:30:00+08:00`). In XLSX they are real number,
date and datetime cells.

One writer per format, registered in `FORMATS`; adding a format is adding a
writer.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import IO, Any, Protocol
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from opsloom.platform.context import RequestContext
from opsloom.platform.errors import BadRequest, FieldError
from opsloom.platform.permissions import FormAccess
from opsloom.runtime import records
from opsloom.runtime.fields import FieldSpec, unit_of
from opsloom.runtime.forms import CompiledForm
from opsloom.runtime.imports.cleaning import FORMULA_STARTS
from opsloom.runtime.link_titles import is_link
from opsloom.runtime.pages.i18n import Translator, catalog

PAGE_ROWS = 500
LOCALES = ("zh-CN", "en")
SPOOL_BYTES = 8 * 1024 * 1024


# ------------------------------------------------------------------ values


OPTIONS_AS = ("labels", "values")


def options_as(name: str | None) -> str:
    chosen = name or "labels"
    if chosen not in OPTIONS_AS:
        raise BadRequest(f"Cannot write options as '{name}'", [FieldError("options", "use labels or values")])
    return chosen


def export_value(t: Translator, zone: tzinfo, spec: FieldSpec, value: Any, options: str = "labels") -> Any:
    """A stored value (as the API writes it) as a cell: Decimal, date, datetime or text; with
    `options="values"`, an option (or each of a list of them) as its stored value, not its label."""
    if value is None or value == "" or value == []:
        return None
    if options == "values" and _option_values(spec, value):
        return ",".join(value) if isinstance(value, list) else value
    try:
        return unit_of(spec).to_cell(t, zone, spec, value)
    except (ValueError, TypeError, InvalidOperation):
        return str(value)


def _option_values(spec: FieldSpec, value: Any) -> bool:
    """Is the value one or more of the field's (text) options?"""
    unit = unit_of(spec)
    choices = unit.element(spec).choices(spec)
    items = value if isinstance(value, list) else [value]
    return choices is not None and all(isinstance(item, str) and item in choices for item in items)


def as_text(cell: Any) -> str:
    """A cell as CSV text: plain decimals and ISO dates, never the locale's grouping."""
    if cell is None:
        return ""
    if isinstance(cell, Decimal):
        return format(cell, "f")
    if isinstance(cell, date):  # datetimes too
        return cell.isoformat()
    return str(cell)


# ------------------------------------------------------------------ writers


class Writer(Protocol):
    def add(self, row: list[Any]) -> None: ...

    def finish(self) -> IO[bytes]:
        """The written file, positioned at its start."""
        ...


class CsvWriter:
    """UTF-8 with a byte-order mark, so Excel opens Chinese text right; CRLF line ends."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        self.file.write("\ufeff".encode())
        self.text = io.StringIO()
        self.csv = csv.writer(self.text)

    def add(self, row: list[Any]) -> None:
        self.csv.writerow([_defused(as_text(cell)) for cell in row])
        self.file.write(self.text.getvalue().encode("utf-8"))
        self.text.seek(0)
        self.text.truncate()

    def finish(self) -> IO[bytes]:
        self.file.seek(0)
        return self.file


def _defused(text: str) -> str:
    """Text a spreadsheet would run as a formula (`=HYPERLINK(...)`) is kept as text."""
    if text[:1] in FORMULA_STARTS and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True


class XlsxWriter:
    """openpyxl in write-only mode: rows go to disk as they come, not into memory."""

    def __init__(self, sheet_title: str) -> None:
        from openpyxl import Workbook

        self.book = Workbook(write_only=True)
        self.sheet = self.book.create_sheet(title=_sheet_title(sheet_title))

    def add(self, row: list[Any]) -> None:
        self.sheet.append([self._cell(value) for value in row])

    def _cell(self, value: Any) -> Any:
        from openpyxl.cell import WriteOnlyCell

        if isinstance(value, datetime):
            cell = WriteOnlyCell(self.sheet, value=value.replace(tzinfo=None))  # Excel has no zones
            cell.number_format = "yyyy-mm-dd hh:mm:ss"
            return cell
        if isinstance(value, date):
            cell = WriteOnlyCell(self.sheet, value=value)  # type: ignore[arg-type]  # openpyxl writes dates too
            cell.number_format = "yyyy-mm-dd"
            return cell
        if isinstance(value, str):
            return _defused(value)
        return value

    def finish(self) -> IO[bytes]:
        file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        self.book.save(file)
        file.seek(0)
        return file


def _sheet_title(text: str) -> str:
    cleaned = "".join(" " if c in "[]:*?/\\" else c for c in text).strip()
    return cleaned[:31] or "Sheet1"


@dataclass(frozen=True)
class Format:
    extension: str
    media_type: str
    writer: Callable[[str], Writer]


FORMATS = {
    "csv": Format("csv", "text/csv; charset=utf-8", lambda title: CsvWriter()),
    "xlsx": Format(
        "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", lambda title: XlsxWriter(title)
    ),
}


def format_of(name: str | None) -> Format:
    chosen = FORMATS.get(name or "csv")
    if chosen is None:
        raise BadRequest(f"Cannot export as '{name}'", [FieldError("format", "use csv or xlsx")])
    return chosen


def content_disposition(name: str, extension: str, fallback: str) -> str:
    """`attachment` with the name for every browser: ASCII `filename`, UTF-8 `filename*` (RFC 5987)."""
    full = f"{name}.{extension}"
    ascii_name = full if full.isascii() and full.isprintable() else f"{fallback}.{extension}"
    ascii_name = ascii_name.replace("\\", "_").replace('"', "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(full, safe='')}"


# ------------------------------------------------------------------ rows


def export_columns(visible: CompiledForm, keys: str | None) -> list[FieldSpec]:
    """The fields to export: those named (`title,amount`), else every field the caller sees."""
    if not keys:
        return [spec for spec in visible.fields if unit_of(spec).one_value]
    chosen = []
    for key in (k.strip() for k in keys.split(",")):
        spec = visible.by_key.get(key)
        if spec is None or not unit_of(spec).one_value:
            raise BadRequest(f"Cannot export column '{key}'", [FieldError("columns", f"'{key}' is not a field")])
        chosen.append(spec)
    return chosen


@dataclass(frozen=True)
class Export:
    form: CompiledForm
    access: FormAccess
    query: records.ListRequest
    columns: list[FieldSpec]
    max_rows: int
    options: str = "labels"  # options as their labels, or as their values


async def export_rows(
    session: AsyncSession, ctx: RequestContext, job: Export, t: Translator
) -> AsyncIterator[tuple[list[Any], bool]]:
    """Each row as cells, with whether more rows were left out beyond `max_rows` (last row only)."""
    links = ",".join(spec.key for spec in job.columns if is_link(spec))
    # export_columns never takes subforms, so their rows are not loaded
    query = replace(job.query, limit=str(PAGE_ROWS), count="none", expand=links or None, cursor=None, with_rows=False)
    written = 0
    while True:
        page = await records.list_records(session, job.form, ctx, query, job.access)
        for item in page["items"]:
            if written == job.max_rows:
                yield [], True
                return
            written += 1
            cells = [item["id"]] + [
                export_value(t, ctx.zone, spec, item.get(spec.key), job.options) for spec in job.columns
            ]
            yield cells + [t(f"status.{item['status']}")], False
        if not page["next_cursor"]:
            return
        query = replace(query, cursor=page["next_cursor"])


SYSTEM_HEADERS = ("list.id", "list.status")


def system_headers() -> set[str]:
    """The headers of the columns an export adds (record number, status), in every language."""
    return {str(catalog(locale)[key]) for locale in LOCALES for key in SYSTEM_HEADERS if key in catalog(locale)}


def header_row(t: Translator, columns: list[FieldSpec]) -> list[str]:
    return [t("list.id"), *(t.label(spec.label) for spec in columns), t("list.status")]


def chunks(file: IO[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    try:
        while block := file.read(size):
            yield block
    finally:
        file.close()
