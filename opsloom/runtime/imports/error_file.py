"""The error file of an import: the rows it refused, as they were in the file, each with its
problems in a last column, to fix and import again. Written by xlsxwriter in constant-memory
mode (row by row to disk), so a file with many refused rows costs no more memory than one."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import xlsxwriter  # type: ignore[import-untyped]

PROBLEMS = {"zh-CN": "问题", "en": "Problems"}
ROW = {"zh-CN": "原行号", "en": "Row"}


def write_error_file(
    headers: list[Any], rows: list[tuple[int, dict[str, Any]]], locale: str, directory: Path | None = None
) -> Path:
    """An XLSX file: the file's headers, the problems and the row number, then each refused row."""
    language = "zh-CN" if locale.startswith("zh") else "en"
    handle = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False, dir=directory)  # noqa: SIM115
    handle.close()
    book = xlsxwriter.Workbook(handle.name, {"constant_memory": True, "strings_to_formulas": False})
    sheet = book.add_worksheet("errors")
    bold = book.add_format({"bold": True})
    width = max([len(headers), *(len(detail.get("cells") or []) for _, detail in rows)])
    headers = [*headers, *[None] * (width - len(headers))]
    for col, header in enumerate([*headers, PROBLEMS[language], ROW[language]]):
        sheet.write_string(0, col, "" if header is None else str(header), bold)
    for line, (number, detail) in enumerate(rows, start=1):
        cells = detail.get("cells") or []
        for col, cell in enumerate(cells):
            if cell is None:
                continue
            if isinstance(cell, bool | int | float):
                sheet.write(line, col, cell)
            else:
                sheet.write_string(line, col, str(cell))
        problems = "; ".join(
            f"{e['path']}: {e['message']}" if e.get("path") else str(e.get("message"))
            for e in detail.get("errors") or []
        )
        sheet.write_string(line, len(headers), problems)
        sheet.write_number(line, len(headers) + 1, number)
    book.close()
    return Path(handle.name)


def write_template(columns: list[tuple[str, Any, list[str]]], locale: str) -> Path:
    """An import template: one column per field (header, an example cell), and each option field's
    labels offered as a drop-down (data validation from a hidden sheet of lists)."""
    handle = tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False)  # noqa: SIM115
    handle.close()
    book = xlsxwriter.Workbook(handle.name, {"strings_to_formulas": False})
    sheet = book.add_worksheet("data" if not locale.startswith("zh") else "数据")
    lists = book.add_worksheet("lists")
    bold = book.add_format({"bold": True})
    for col, (header, example, choices) in enumerate(columns):
        sheet.write_string(0, col, header, bold)
        sheet.set_column(col, col, max(12, len(header) * 2))
        if example is not None:
            sheet.write(1, col, example)
        if choices:
            lists.write_column(0, col, choices)
            letter = xlsxwriter.utility.xl_col_to_name(col)
            source = f"=lists!${letter}$1:${letter}${len(choices)}"
            sheet.data_validation(1, col, 100_000, col, {"validate": "list", "source": source})
    lists.hide()
    book.close()
    return Path(handle.name)
