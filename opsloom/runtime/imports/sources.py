"""Spreadsheet files read row by row: CSV (its encoding detected) and Excel workbooks.

Rows come out as lists of cells: a CSV is decoded as it is read, and workbooks
are read by python-calamine (a Rust reader, many times faster than openpyxl on
large sheets, which holds a whole sheet in memory), or, when they are too large
for that, streamed by a process of their own (`workbook_stream`). Cells keep
their types where the file has them (numbers, dates, booleans); a CSV's cells
are text. The formats, by file suffix, in `FORMATS`.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from python_calamine import CalamineError, CalamineWorkbook

from opsloom.platform.errors import BadRequest, FieldError
from opsloom.runtime.imports.workbook_stream import streamed_rows, streams

SNIFF_BYTES = 64 * 1024
CSV_FIELD_LIMIT = 1024 * 1024


def cell_json(cell: Any) -> Any:
    """A cell as JSON (dates as ISO text, numbers as they are)."""
    if cell is None or isinstance(cell, bool | int | str):
        return cell
    if isinstance(cell, float):
        return int(cell) if cell.is_integer() and abs(cell) < 2**53 else cell
    if isinstance(cell, date | datetime):
        return cell.isoformat()
    if isinstance(cell, Decimal):
        return str(cell)
    return str(cell)


class Source(Protocol):
    def sheets(self) -> list[str]: ...

    def rows(self, sheet: str | None) -> Iterator[list[Any]]:
        """Every row of the sheet from its first, as lists of cells."""
        ...


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without a byte-order mark) if the whole file decodes as such, else GB18030
    (a superset of GBK and GB2312, what Chinese Excel writes a CSV in)."""
    with open(path, "rb") as handle:
        head = handle.read(3)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        handle.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8"


class CsvSource:
    def __init__(self, path: Path, encoding: str) -> None:
        self.path = path
        self.encoding = encoding

    def sheets(self) -> list[str]:
        return []

    def rows(self, sheet: str | None) -> Iterator[list[Any]]:
        csv.field_size_limit(CSV_FIELD_LIMIT)
        with open(self.path, "rb") as raw:
            text = io.TextIOWrapper(raw, encoding=self.encoding, errors="replace", newline="")
            sample = text.read(SNIFF_BYTES)
            text.seek(0)
            try:
                dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
            except csv.Error:
                dialect = csv.excel
            try:
                yield from csv.reader(text, dialect)
            except csv.Error as error:
                raise BadRequest(f"The CSV file cannot be read: {error}", [FieldError("file", str(error))]) from None


class WorkbookSource:
    def __init__(self, path: Path) -> None:
        self.path = path

    def _open(self) -> CalamineWorkbook:
        try:
            return CalamineWorkbook.from_path(str(self.path))
        except (CalamineError, OSError, ValueError) as error:
            raise BadRequest(
                "The file is not a workbook Opsloom can read",
                [FieldError("file", f"send .xlsx, .xls, .ods or .csv ({error})")],
            ) from None

    def sheets(self) -> list[str]:
        book = self._open()
        try:
            return list(book.sheet_names)
        finally:
            book.close()

    def rows(self, sheet: str | None) -> Iterator[list[Any]]:
        book = self._open()
        try:
            names = list(book.sheet_names)
            name = sheet if sheet in names else names[0] if names else None
            if name is None:
                return
            if not streams(self.path):
                for row in book.get_sheet_by_name(name).iter_rows():
                    yield list(row)
                return
        finally:
            book.close()
        yield from streamed_rows(self.path, name)  # the workbook let go of before its reader starts


FORMATS = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".xls": "xlsx", ".ods": "xlsx"}


def format_of(filename: str) -> str | None:
    return FORMATS.get(Path(filename).suffix.lower())


def open_source(path: Path, file_format: str, encoding: str | None) -> Source:
    if file_format == "csv":
        return CsvSource(path, encoding or detect_encoding(path))
    return WorkbookSource(path)
