"""Workbooks too large to hold in memory are streamed by a child process (`workbook_stream`): they
read exactly as python-calamine reads a small one, import the same through the API on both
databases, say clearly when they are damaged, and leave no reader behind when the import stops
reading, or when the process that started the reader is killed."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time as clock
import zipfile
from collections.abc import Callable, Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import xlsxwriter  # type: ignore[import-untyped]
from fastapi.testclient import TestClient

from opsloom.runtime.imports import sources, workbook_stream
from opsloom.runtime.imports.resource import ImportFile
from opsloom.runtime.imports.sources import WorkbookSource
from tests.builders import list_all
from tests.runtime.imports.helpers import (
    HEADERS,
    IMPORTS,
    RECORDS,
    commit,
    publish_purchases,
    upload,
    uploaded,
    xlsx_bytes,
)


def typed_workbook(path: Path) -> None:
    """Three sheets: a note; the purchases, one row and one column in; odd cells (times, a merge)."""
    book = xlsxwriter.Workbook(str(path))
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    moment = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    clock = book.add_format({"num_format": "hh:mm"})
    book.add_worksheet("说明").write(0, 0, "请填写第二个工作表")
    sheet = book.add_worksheet("采购")
    sheet.write_row(1, 1, HEADERS)
    sheet.write_row(2, 1, ["P-101", "显示器", 1899.5, "信息技术"])
    sheet.write_datetime(2, 5, datetime(2024, 3, 8), day)
    sheet.write_row(2, 6, [True, 3, "华为"])
    sheet.write_row(3, 1, ["P-102", "文件柜", 12000, "办公", "2024年3月9日", False, 1, "联想"])
    sheet.write_formula(4, 1, '="P-"&(100+3)', None, "P-103")
    sheet.write_row(4, 2, ["椅子"])
    sheet.write_formula(4, 3, "=D3*2", None, 3799)
    sheet.write_row(4, 4, ["办公"])
    sheet.write_datetime(4, 5, datetime(2024, 3, 10), day)
    sheet.write_row(4, 6, [False, 2, "华为"])
    odd = book.add_worksheet("杂项")
    odd.write_datetime(2, 3, datetime(2024, 3, 10, 9, 30), moment)
    odd.write_datetime(3, 4, datetime(1899, 12, 31, 17, 45), clock)
    odd.merge_range(4, 2, 5, 2, "合并")
    odd.write_row(7, 2, [-0.5, 2**40, "", "末"])
    book.close()


def rows_of(path: Path, sheet: str) -> list[list[Any]]:
    return list(WorkbookSource(path).rows(sheet))


def test_a_streamed_sheet_reads_exactly_as_calamine_reads_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "采购.xlsx"
    typed_workbook(path)
    assert not workbook_stream.streams(path)  # small: calamine reads it
    by_calamine = {sheet: rows_of(path, sheet) for sheet in ("采购", "杂项")}
    monkeypatch.setattr(workbook_stream, "STREAM_BYTES", 0)
    assert workbook_stream.streams(path)
    streamed = {sheet: rows_of(path, sheet) for sheet in ("采购", "杂项")}
    assert streamed == by_calamine
    purchases, odd = streamed["采购"], streamed["杂项"]
    assert purchases[2][:5] == ["P-101", "显示器", 1899.5, "信息技术", date(2024, 3, 8)]
    assert type(purchases[3][2]) is float and purchases[4][0] == "P-103" and purchases[4][2] == 3799.0
    assert odd[2][1] == datetime(2024, 3, 10, 9, 30) and odd[3][2] == time(17, 45) and odd[4][0] == "合并"
    assert odd[7] == [-0.5, float(2**40), "", "末"]


def test_only_large_office_workbooks_are_streamed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workbook_stream, "STREAM_BYTES", 0)
    not_a_zip = tmp_path / "old.xls"
    not_a_zip.write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 600)
    other_zip = tmp_path / "some.zip"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("content.xml", "<x/>" * 100)
    assert not workbook_stream.streams(not_a_zip) and not workbook_stream.streams(other_zip)


@pytest.fixture
def streaming(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every workbook streamed, and the sheets the stream was asked for."""
    asked: list[str] = []
    real = sources.streamed_rows

    def counted(path: Path, sheet: str) -> Iterator[list[Any]]:
        asked.append(sheet)
        return real(path, sheet)

    monkeypatch.setattr(workbook_stream, "STREAM_BYTES", 0)
    monkeypatch.setattr(sources, "streamed_rows", counted)
    return asked


def test_a_streamed_workbook_imports_from_its_second_sheet(
    client: TestClient, tmp_path: Path, streaming: list[str]
) -> None:
    publish_purchases(client)
    path = tmp_path / "采购.xlsx"
    typed_workbook(path)
    created = uploaded(client, "采购.xlsx", path.read_bytes())
    assert created["sheets"] == ["说明", "采购", "杂项"]
    chosen = client.patch(f"{IMPORTS}/{created['id']}", json={"sheet": "采购", "header_row": 2})
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["unmatched"] == {} and chosen.json()["total_rows"] == 3, chosen.json()
    done = commit(client, f"{IMPORTS}/{created['id']}")
    assert done["state"] == "done" and done["counts"]["inserted"] == 3, done
    records = {r["code"]: r for r in list_all(client, RECORDS, expand="supplier")}
    assert "采购" in streaming
    first, second, third = records["P-101"], records["P-102"], records["P-103"]
    assert (first["amount"], first["category"], first["ordered_on"], first["urgent"], first["qty"]) == (
        "1899.50",
        "it",
        "2024-03-08",
        True,
        3,
    )
    assert (second["amount"], second["category"], second["ordered_on"]) == ("12000.00", "office", "2024-03-09")
    assert (third["title"], third["amount"], third["ordered_on"]) == ("椅子", "3799.00", "2024-03-10")
    assert first["supplier"]["title"] == "华为" and second["supplier"]["title"] == "联想"


def damaged_workbook() -> bytes:
    """A workbook whose sheet XML stops halfway: its sheet names read, its rows do not."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    book.add_worksheet("采购").write_row(0, 0, HEADERS)
    book.close()
    damaged = io.BytesIO()
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            target.writestr(item, data[: len(data) // 2] if item.filename.endswith("sheet1.xml") else data)
    return damaged.getvalue()


def test_a_damaged_streamed_workbook_is_a_clear_400(client: TestClient, streaming: list[str]) -> None:
    publish_purchases(client)
    response = upload(client, "坏的.xlsx", damaged_workbook())
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["detail"] == "The workbook cannot be read", problem
    assert [e["path"] for e in problem["errors"]] == ["file"] and "CSV" in problem["errors"][0]["message"]
    assert streaming, "the damaged sheet went through the streamed reader"


def readers_of(path: Path) -> list[int]:
    """Pids of running workbook readers of this file (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if workbook_stream.__name__.encode() in command and str(path).encode() in command and state != "Z":
            found.append(int(entry.name))
    return found


def gone(check: Callable[[], list[int]], seconds: float = 20) -> list[int]:
    deadline = clock.monotonic() + seconds
    while (left := check()) and clock.monotonic() < deadline:
        clock.sleep(0.05)
    return left


def many_rows(path: Path, rows: int = 100_000) -> None:
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("数据")
    for n in range(rows):
        sheet.write_row(n, 0, [f"P-{n}", n, "办公"])
    book.close()


def test_a_reader_left_early_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workbook_stream, "STREAM_BYTES", 0)
    path = tmp_path / "多.xlsx"
    many_rows(path)
    rows = WorkbookSource(path).rows("数据")
    assert next(rows) == ["P-0", 0.0, "办公"]
    assert readers_of(path), "the reader runs while rows are wanted"
    rows.close()
    assert readers_of(path) == []


def test_a_reader_outlives_no_killed_importer(tmp_path: Path) -> None:
    path = tmp_path / "多.xlsx"
    many_rows(path)
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from opsloom.runtime.imports import workbook_stream\n"
        "workbook_stream.STREAM_BYTES = 0\n"
        "from opsloom.runtime.imports.sources import WorkbookSource\n"
        "rows = WorkbookSource(Path(sys.argv[1])).rows('数据')\n"
        "next(rows)\n"
        "print('reading', flush=True)\n"
        "signal.pause()\n"
    )
    importer = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True)
    assert importer.stdout is not None and importer.stdout.readline().strip() == "reading"
    assert readers_of(path), "the reader runs while the importer waits"
    os.kill(importer.pid, signal.SIGKILL)
    importer.wait()
    importer.stdout.close()
    assert gone(lambda: readers_of(path)) == []


def test_the_streamed_reader_keeps_no_row_it_has_given(tmp_path: Path) -> None:
    """openpyxl leaves each emptied row element in the sheet's tree; the reader's parser drops them,
    giving openpyxl the very same events."""
    namespace = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rows = "".join(f'<row r="{n}"><c r="A{n}"><v>{n}</v></c></row>' for n in range(1, 1001))
    sheet = tmp_path / "sheet.xml"
    sheet.write_text(f'<worksheet xmlns="{namespace}"><sheetData>{rows}</sheetData></worksheet>')
    plain = [(event, element.tag, element.text) for event, element in ElementTree.iterparse(sheet)]
    given = []
    for event, element in workbook_stream._rows_forgotten(ElementTree.iterparse, namespace)(sheet):
        given.append((event, element.tag, element.text))
        if element.tag.endswith("sheetData"):
            kept = len(element)
    assert given == plain and len(plain) == 3002
    assert kept == 0  # plain iterparse would still hold all 1,000 rows here


def test_the_file_is_read_off_the_event_loop(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """A workbook's first rows can take seconds (a sheet loaded whole, a reader started): the analysis
    and the commit read every row in a worker thread, never in the loop that serves requests."""
    real = ImportFile.rows
    on_loop: list[bool] = []

    def watched(self: ImportFile, sheet: str | None) -> Iterator[list[Any]]:
        for row in real(self, sheet):
            try:
                asyncio.get_running_loop()
                on_loop.append(True)
            except RuntimeError:
                on_loop.append(False)
            yield row

    monkeypatch.setattr(ImportFile, "rows", watched)
    publish_purchases(client)
    rows = [HEADERS, ["P-1", "椅子", 80, "办公"], ["P-2", "桌子", 300, "办公"]]
    created = uploaded(client, "采购.xlsx", xlsx_bytes({"采购": rows}))
    done = commit(client, f"{IMPORTS}/{created['id']}")
    assert done["state"] == "done" and done["counts"]["inserted"] == 2, done
    assert on_loop and not any(on_loop)
