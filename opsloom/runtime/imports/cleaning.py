"""Cleaning steps: what a spreadsheet's cell goes through before its field type reads it.

Each step is one small unit in `CLEANERS`: its name, what people read about it
(both languages), which fields it applies to (asked of the field's type, never
by the type's name), and a function `(cell, spec, unit) -> cell`. An import
lists them all and may switch any off; the enabled steps run in the order of
the registry, then the field type's own `from_cell` turns the cell into the
value the records API takes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from opsloom.runtime.fields import FieldSpec, FieldType

EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 is 1900-01-01 (Excel's phantom 1900-02-29 included)
LAST_SERIAL = 2958465  # 9999-12-31


@dataclass(frozen=True)
class Cleaner:
    name: str
    label: dict[str, str]
    applies: Callable[[FieldType, FieldSpec], bool]
    clean: Callable[[Any, FieldSpec, FieldType], Any]


def _every(unit: FieldType, spec: FieldSpec) -> bool:
    return True


def _not_free_text(unit: FieldType, spec: FieldSpec) -> bool:
    # Free text keeps its full-width letters (a name may be written so on purpose).
    return not unit.text_like or unit.link is not None or unit.options


def _numeric(unit: FieldType, spec: FieldSpec) -> bool:
    return unit.numeric and not unit.computed


def _temporal(unit: FieldType, spec: FieldSpec) -> bool:
    return unit.temporal is not None and not unit.computed


def _yes_no(unit: FieldType, spec: FieldSpec) -> bool:
    return unit.choices(spec) == frozenset({True, False})


def _options(unit: FieldType, spec: FieldSpec) -> bool:
    return unit.options


# ------------------------------------------------------------------ the steps

SPACES = "\u00a0\u3000\u2002\u2003\u2009\u200b\ufeff"
_TRIMMED = " \t\r\n" + SPACES


def trim(cell: Any, spec: FieldSpec, unit: FieldType) -> Any:
    if isinstance(cell, str):
        return cell.strip(_TRIMMED)
    return cell


_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20, 0x3002: 0x2E}


def half_width(cell: Any, spec: FieldSpec, unit: FieldType) -> Any:
    """Full-width digits, letters and signs (１２３, ＡＢＣ, ，．) as their ASCII forms; 。 as a point."""
    return cell.translate(_FULL_WIDTH) if isinstance(cell, str) else cell


_GROUPED = re.compile(r"(?<=\d)[,，'’ _](?=\d{3}(?!\d))")
_HAS_GROUP = re.compile(r"\d[,，'’ _]\d{3}")


def thousands(cell: Any, spec: FieldSpec, unit: FieldType) -> Any:
    """1,234,567.50 and 1 234 567 -> 1234567.50."""
    if isinstance(cell, str) and _HAS_GROUP.search(cell):
        return _GROUPED.sub("", cell)
    return cell


_CURRENCY = re.compile(r"^\s*(?:[¥￥$€£]|US\$|RMB|CNY|USD|HK\$)\s*|\s*(?:元|圆|块|RMB|CNY|USD)\s*$", re.IGNORECASE)


def currency(cell: Any, spec: FieldSpec, unit: FieldType) -> Any:
    """¥1234.50, ￥1234.50, $1234.50, 1234.50元 -> 1234.50 (a sign before the symbol is kept)."""
    if not isinstance(cell, str):
        return cell
    sign = ""
    text = cell.strip()
    if text[:1] in "-−":
        sign, text = "-", text[1:]
    stripped = _CURRENCY.sub("", text)
    return sign + stripped if stripped != text else cell


_PERCENT = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*[%％]\s*")


def percentage(cell: Any, spec: FieldSpec, unit: FieldType) -> Any:
    """12.5% -> 0.125 (every numeric field stores a percentage as its fraction)."""
    if isinstance(cell, str) and (match := _PERCENT.fullmatch(cell)):
        return format(Decimal(match.group(1)).scaleb(-2).normalize(), "f")
    return cell


_DATE = re.compile(
    r"^\s*(\d{4})\s*(?:[-/.年]\s*)(\d{1,2})\s*(?:[-/.月]\s*)(\d{1,2})\s*日?"
    r"(?:[\sT]+(\d{1,2})\s*[:：时]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2}(?:\.\d+)?))?\s*秒?)?\s*$"
)
_COMPACT_DATE = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})\s*$")
_SERIAL_TEXT = re.compile(r"\s*\d{1,7}(?:\.\d+)?\s*")


def dates(cell: Any, spec: FieldSpec, unit: FieldType) -> Any:
    """2024/1/5, 2024年1月5日, 2024.1.5, 20240105, 2024-1-5 9:30 and Excel serial numbers (45296)
    -> ISO 8601 (a day for a date field, a local time for a date-and-time field)."""
    moment = unit.temporal == "moment"
    if isinstance(cell, bool):
        return cell
    if isinstance(cell, int | float) and 1 <= cell <= LAST_SERIAL:
        stamp = datetime.combine(EXCEL_EPOCH, time()) + timedelta(days=float(cell))
        return stamp.replace(microsecond=0).isoformat() if moment else stamp.date().isoformat()
    if isinstance(cell, datetime):
        return cell.isoformat() if moment else cell.date().isoformat()
    if isinstance(cell, date):
        return cell.isoformat()
    if not isinstance(cell, str):
        return cell
    if _SERIAL_TEXT.fullmatch(cell) and not _COMPACT_DATE.fullmatch(cell):
        return dates(float(cell), spec, unit)  # a serial number written as text (a CSV from Excel)
    if match := _DATE.fullmatch(cell):
        year, month, day, hour, minute, second = match.groups()
        try:
            day_value = date(int(year), int(month), int(day))
        except ValueError:
            return cell
        if not moment:
            return day_value.isoformat()
        at = time(int(hour or 0), int(minute or 0), int(float(second or 0))) if int(hour or 0) < 24 else None
        return cell if at is None else datetime.combine(day_value, at).isoformat()
    if (match := _COMPACT_DATE.fullmatch(cell)) and not moment:
        try:
            return date(*(int(g) for g in match.groups())).isoformat()
        except ValueError:
            return cell
    return cell


YES = frozenset({"是", "对", "有", "真", "开", "已", "y", "yes", "true", "t", "1", "√", "✓", "✔", "on", "x"})
NO = frozenset({"否", "错", "无", "没有", "假", "关", "未", "n", "no", "false", "f", "0", "×", "✗", "✘", "off", ""})


def yes_no(cell: Any, spec: FieldSpec, unit: FieldType) -> Any:
    """是/否, 对/错, 有/无, √/×, Y/N, yes/no, true/false, 1/0 -> true/false."""
    if isinstance(cell, str):
        word = cell.strip().lower()
        if word in YES:
            return True
        if word in NO and word:
            return False
    return cell


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what an export marks with a leading apostrophe
_SPACES = re.compile(r"\s+")


def _loose(text: str) -> str:
    return _SPACES.sub("", text).casefold()


_SEPARATORS = re.compile(r"[,，;；、\n]")


def option_labels(cell: Any, spec: FieldSpec, unit: FieldType) -> Any:
    """An option named by its label in either language (or its value), ignoring case and spaces."""
    if not isinstance(cell, str):
        return cell
    names = _option_names(spec)
    parts = [p for p in _SEPARATORS.split(cell) if p.strip()] if unit.multiple else [cell]
    mapped = [names.get(_loose(p), p.strip()) for p in parts]
    return ",".join(mapped) if unit.multiple else mapped[0]


_NAMES: dict[int, tuple[FieldSpec, dict[str, str]]] = {}  # by the spec's id(): a file's cells share specs


def _option_names(spec: FieldSpec) -> dict[str, str]:
    """Each option's labels and value, loosely written, to its value (worked out once per spec)."""
    known = _NAMES.get(id(spec))
    if known is not None and known[0] is spec:
        return known[1]
    names: dict[str, str] = {}
    for option in spec.get("options") or ():
        label = option.get("label")
        for name in (*(label.values() if isinstance(label, dict) else [label]), option.get("value")):
            if isinstance(name, str):
                names.setdefault(_loose(name), str(option["value"]))
    if len(_NAMES) > 256:
        _NAMES.clear()
    _NAMES[id(spec)] = (spec, names)
    return names


CLEANERS: dict[str, Cleaner] = {
    c.name: c
    for c in (
        Cleaner("trim", {"en": "Trim spaces", "zh-CN": "去除首尾空格"}, _every, trim),
        Cleaner("half_width", {"en": "Full-width to half-width", "zh-CN": "全角转半角"}, _not_free_text, half_width),
        Cleaner("thousands", {"en": "Thousands separators", "zh-CN": "去除千分位"}, _numeric, thousands),
        Cleaner("currency", {"en": "Currency signs (¥ ￥ $)", "zh-CN": "去除货币符号"}, _numeric, currency),
        Cleaner("percent", {"en": "Percentages to fractions", "zh-CN": "百分比转小数"}, _numeric, percentage),
        Cleaner("dates", {"en": "Chinese and Excel dates", "zh-CN": "识别中文和 Excel 日期"}, _temporal, dates),
        Cleaner("yes_no", {"en": "Yes/no words", "zh-CN": "是/否 文字"}, _yes_no, yes_no),
        Cleaner("option_labels", {"en": "Option labels to values", "zh-CN": "选项名称转值"}, _options, option_labels),
    )
}


def describe_cleaners(enabled: Iterable[str]) -> list[dict[str, Any]]:
    on = set(enabled)
    return [{"name": c.name, "label": c.label, "enabled": c.name in on} for c in CLEANERS.values()]


def cleaners_for(unit: FieldType, spec: FieldSpec, enabled: Iterable[str]) -> list[Cleaner]:
    on = set(enabled)
    return [c for c in CLEANERS.values() if c.name in on and c.applies(unit, spec)]


def clean_cell(cell: Any, spec: FieldSpec, unit: FieldType, steps: list[Cleaner]) -> Any:
    """The cell through the steps, then read by the field type (`from_cell`). Text an export kept
    from being run as a formula (`'=1+2`) is read as the text it was (`=1+2`)."""
    if isinstance(cell, str) and cell[:1] == "'" and cell[1:2] in FORMULA_STARTS:
        cell = cell[1:]
    for step in steps:
        cell = step.clean(cell, spec, unit)
    if isinstance(cell, float) and cell.is_integer() and unit.integral:
        cell = int(cell)
    return unit.from_cell(spec, cell)
