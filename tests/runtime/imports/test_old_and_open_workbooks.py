"""Workbooks that are not .xlsx: Excel 97-2003 (.xls) and OpenDocument (.ods, from WPS or LibreOffice),
read by python-calamine like .xlsx, with their typed cells (numbers, dates, booleans) kept, on both
databases."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

import xlwt  # type: ignore[import-untyped]
from fastapi.testclient import TestClient
from odf.opendocument import OpenDocumentSpreadsheet  # type: ignore[import-untyped]
from odf.table import Table, TableCell, TableRow  # type: ignore[import-untyped]
from odf.text import P  # type: ignore[import-untyped]

from tests.builders import list_all
from tests.runtime.imports.helpers import HEADERS, IMPORTS, RECORDS, commit, publish_purchases, uploaded

ROWS: list[list[Any]] = [
    ["P-101", "显示器", 1899.5, "信息技术", date(2024, 3, 8), True, 3, "华为"],
    ["P-102", "文件柜", 12000, "办公", "2024年3月9日", False, 1, "联想"],
]


def xls_bytes(sheets: dict[str, list[list[Any]]]) -> bytes:
    book = xlwt.Workbook(encoding="utf-8")
    dates = xlwt.easyxf(num_format_str="yyyy-mm-dd")
    for name, rows in sheets.items():
        sheet = book.add_sheet(name)
        for r, row in enumerate(rows):
            for c, cell in enumerate(row):
                if isinstance(cell, date):
                    sheet.write(r, c, cell, dates)
                else:
                    sheet.write(r, c, cell)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def ods_bytes(sheets: dict[str, list[list[Any]]]) -> bytes:
    document = OpenDocumentSpreadsheet()
    for name, rows in sheets.items():
        table = Table(name=name)
        for row in rows:
            tr = TableRow()
            for cell in row:
                tr.addElement(_ods_cell(cell))
            table.addElement(tr)
        document.spreadsheet.addElement(table)
    buffer = io.BytesIO()
    document.write(buffer)
    return buffer.getvalue()


def _ods_cell(value: Any) -> TableCell:
    if isinstance(value, bool):
        cell = TableCell(valuetype="boolean", booleanvalue="true" if value else "false")
    elif isinstance(value, date):
        cell = TableCell(valuetype="date", datevalue=value.isoformat())
    elif isinstance(value, int | float):
        cell = TableCell(valuetype="float", value=value)
    else:
        cell = TableCell(valuetype="string")
    cell.addElement(P(text=str(value)))
    return cell


def imported(client: TestClient, name: str, content: bytes) -> dict[str, dict[str, Any]]:
    created = uploaded(client, name, content)
    assert created["file"]["format"] == "xlsx", created["file"]  # one workbook reader for every kind
    assert created["sheets"] == ["说明", "采购"] and created["sheet"] == "说明"
    chosen = client.patch(f"{IMPORTS}/{created['id']}", json={"sheet": "采购"})
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["unmatched"] == {} and chosen.json()["total_rows"] == 2
    done = commit(client, f"{IMPORTS}/{created['id']}")
    assert done["state"] == "done" and done["counts"]["inserted"] == 2, done
    return {r["code"]: r for r in list_all(client, RECORDS, expand="supplier")}


def check(records: dict[str, dict[str, Any]]) -> None:
    first, second = records["P-101"], records["P-102"]
    assert (first["amount"], first["category"], first["ordered_on"], first["urgent"], first["qty"]) == (
        "1899.50",
        "it",
        "2024-03-08",
        True,
        3,
    )
    assert (second["amount"], second["category"], second["ordered_on"], second["urgent"]) == (
        "12000.00",
        "office",
        "2024-03-09",
        False,
    )
    assert first["supplier"]["title"] == "华为" and second["supplier"]["title"] == "联想"


def test_an_excel_97_workbook_is_imported_from_its_second_sheet(client: TestClient) -> None:
    publish_purchases(client)
    content = xls_bytes({"说明": [["请填写第二个工作表"]], "采购": [HEADERS, *ROWS]})
    check(imported(client, "采购.xls", content))


def test_an_opendocument_spreadsheet_is_imported_from_its_second_sheet(client: TestClient) -> None:
    publish_purchases(client)
    content = ods_bytes({"说明": [["请填写第二个工作表"]], "采购": [HEADERS, *ROWS]})
    check(imported(client, "采购.ods", content))
