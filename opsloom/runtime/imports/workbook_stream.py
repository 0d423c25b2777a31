"""Large workbooks read as a stream, in a process of their own.

python-calamine reads a whole sheet into memory before it gives the first row
(about 1.4 GB for a million rows of ten columns). A workbook that unpacks to
more than `STREAM_BYTES` is read instead by openpyxl in read-only mode, which
parses the sheet's XML as it goes, in a child process that sends its rows back
a batch at a time through a pipe. The pipe's buffer is the only queue: the
child reads ahead by up to `PIPE_BYTES` while the import judges and stores the
rows before, on another core, so memory stays flat however long the sheet is
and the slower reader costs no time where the import is the slower side.

Rows come out as calamine gives them, so that a sheet reads the same by either
reader: every row from the sheet's first, from its first used column; empty
cells as ""; numbers as floats; a cell formatted as a date (no time of day) as
a `date`. The batches are pickled by a process this module started with its
own code; nothing else writes to that pipe.

Run as a program, this module is the child: `python -m
opsloom.runtime.imports.workbook_stream <path> <sheet>`.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from opsloom.platform.errors import BadRequest, FieldError

STREAM_BYTES = 16 * 1024 * 1024
BATCH_ROWS = 500
PIPE_BYTES = 1024 * 1024  # how far the child may read ahead (Linux; elsewhere the system's size)


def streams(path: Path) -> bool:
    """Is this an Office Open XML workbook (.xlsx, .xlsm) that unpacks to more than `STREAM_BYTES`?
    Only the archive's directory is read."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        return False  # .xls and damaged files: calamine reads them or says why not
    return "xl/workbook.xml" in names and unpacked > STREAM_BYTES


def streamed_rows(path: Path, sheet: str) -> Iterator[list[Any]]:
    """The sheet's rows, read by a child process. Closing the iterator early stops the child."""
    child = subprocess.Popen(
        [sys.executable, "-m", __name__, str(path), sheet],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pipesize=PIPE_BYTES,
    )
    assert child.stdout is not None and child.stderr is not None
    try:
        while True:
            try:
                batch = pickle.load(child.stdout)
            except EOFError:
                break
            yield from batch
        reason = child.stderr.read().decode("utf-8", "replace").strip()
        if child.wait() != 0:
            detail = reason.splitlines()[-1] if reason else f"the reader stopped ({child.returncode})"
            raise BadRequest(
                "The workbook cannot be read",
                [FieldError("file", f"save it again from Excel, or as CSV ({detail})")],
            )
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        child.stdout.close()
        child.stderr.close()


def _cells(row: tuple[Any, ...], offset: int, is_datetime: Callable[[str], str | None]) -> list[Any]:
    cells: list[Any] = []
    for cell in row[offset:]:
        value = cell.value
        if value is None:
            value = ""
        elif isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif isinstance(value, datetime) and is_datetime(cell.number_format) == "date":
            value = value.date()
        cells.append(value)
    return cells


def _rows_forgotten(iterparse: Callable[..., Iterator[tuple[str, Any]]], namespace: str) -> Callable[..., Any]:
    """openpyxl's sheet parser, with each parsed row dropped from the tree. openpyxl clears a row's
    element once read, but the emptied element stays in its `sheetData` parent: about 80 bytes a
    row, 80 MB for a million. This iterparse gives openpyxl the same events and, once openpyxl has
    taken a row, empties `sheetData`, so the reader's memory no longer grows with the sheet."""
    sheet_data, row = f"{{{namespace}}}sheetData", f"{{{namespace}}}row"

    def forgetful(source: Any, *args: Any, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        parent = None
        for event, element in iterparse(source, events=("start", "end")):
            if event == "start":
                if parent is None and element.tag == sheet_data:
                    parent = element
                continue
            yield event, element
            if parent is not None and element.tag == row:
                del parent[:]

    return forgetful


def read(path: str, sheet: str) -> int:
    """The child: the sheet's rows pickled to stdout in batches; a reason on stderr and 1 if it cannot."""
    # openpyxl is imported here, in the child only: the server need not load it.
    from openpyxl import load_workbook
    from openpyxl.styles.numbers import is_datetime
    from openpyxl.worksheet import _reader
    from openpyxl.xml.constants import SHEET_MAIN_NS

    _reader.iterparse = _rows_forgotten(_reader.iterparse, SHEET_MAIN_NS)  # type: ignore[attr-defined]

    out = sys.stdout.buffer
    try:
        # A file, not its name: stored uploads have no suffix, and openpyxl checks a name's suffix.
        with open(path, "rb") as handle:
            book = load_workbook(handle, read_only=True, data_only=True)
            worksheet = book[sheet]
            offset = max((worksheet.min_column or 1) - 1, 0)
            batch: list[list[Any]] = []
            for row in worksheet.iter_rows():
                batch.append(_cells(row, offset, is_datetime))
                if len(batch) == BATCH_ROWS:
                    pickle.dump(batch, out, protocol=pickle.HIGHEST_PROTOCOL)
                    batch = []
            if batch:
                pickle.dump(batch, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
            book.close()
    except BrokenPipeError:  # the reader stopped listening: it had what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        return 0
    except Exception as error:  # noqa: BLE001 - whatever the file did, the parent says it as a 400
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(read(sys.argv[1], sys.argv[2]))
