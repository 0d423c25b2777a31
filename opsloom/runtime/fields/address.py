"""address: a postal address in parts, the region levels (province or state, city,
district) and a detail line, stored as one JSON object:

    {"province": "广东省", "city": "深圳市", "district": "南山区", "detail": "科技园科苑路 15 号"}

Every part is one line and may be empty (an empty address is null). `levels` says
how many region levels the field asks for (default 3). `contains` looks in all the
parts at once, in SQL (`address_text`, compiled for each database) and in Python
alike. People see it as one line; a spreadsheet holds it in one cell, the parts
from the province down separated by " / ", empty levels kept empty (a cell without
" / " is a detail line alone; a cell with fewer parts fills the levels from the top
and ends with the detail line).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, tzinfo
from typing import Any, ClassVar

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import String, TypeEngine

from opsloom.platform.types import Json
from opsloom.runtime.fields.base import FieldSpec, FieldType, Invalid, Schema, Shape, Translator, kind, refuse_nul

REGIONS = ("province", "city", "district")
PARTS = (*REGIONS, "detail")
LONGEST = {"province": 64, "city": 64, "district": 64, "detail": 200}
LEVELS = 3
SEPARATOR = "\n"  # between the parts in the searched text; no part holds one
CELL_SEPARATOR = re.compile(r"\s+/\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class address_text(FunctionElement[str]):
    """The parts of an address column as one text ("" for a missing part, NULL for no address): what
    `contains` looks in. A line break joins the parts, as `search_text` joins them."""

    type = String()
    inherit_cache = True


@compiles(address_text)
def _address_text_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    parts = " || char(10) || ".join(f"coalesce(json_extract({column}, '$.{part}'), '')" for part in PARTS)
    return f"CASE WHEN {column} IS NULL THEN NULL ELSE {parts} END"


@compiles(address_text, "postgresql")
def _address_text_pg(element: Any, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    parts = " || chr(10) || ".join(f"coalesce({column} ->> '{part}', '')" for part in PARTS)
    return f"CASE WHEN {column} IS NULL THEN NULL ELSE {parts} END"


class Address(FieldType):
    name = "address"
    label = {"en": "Address", "zh-CN": "地址"}
    sortable = False
    operators = frozenset({"contains"})
    widget = "address"
    client_kind = "address"
    not_in_rows = "rows hold one-line values; put the address on the form itself"
    lossless_to = frozenset({"address"})
    properties: ClassVar[Schema] = {
        "properties": {
            "levels": {
                "type": "integer",
                "minimum": 0,
                "maximum": len(REGIONS),
                "description": "Region levels asked for: 1 province (or state), 2 and city, 3 and district "
                f"(default {LEVELS}); 0 for the detail line alone",
            },
            "default": {"type": "null", "description": "An address field takes no default"},
            "unique": {"const": False},
        }
    }

    @staticmethod
    def parts(spec: FieldSpec | Mapping[str, Any]) -> tuple[str, ...]:
        levels = spec.get("levels")
        return (*REGIONS[: LEVELS if levels is None else int(levels)], "detail")

    def example(self, spec: FieldSpec) -> Any:
        full = {"province": "广东省", "city": "深圳市", "district": "南山区", "detail": "Office 3, 15 Keyuan Road"}
        return {part: full[part] for part in self.parts(spec)}

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return Json

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if not isinstance(value, Mapping):
            raise Invalid(
                'expected an object such as {"province": "广东省", "city": "深圳市", "district": "南山区", '
                f'"detail": "科苑路 15 号"}}, got {kind(value)}'
            )
        asked = self.parts(spec)
        if unknown := [str(k) for k in value if k not in PARTS]:
            raise Invalid(f"has no part {unknown[0]!r}; the parts are {', '.join(asked)}")
        address: dict[str, str | None] = {}
        for part in PARTS:
            text = value.get(part)
            if text is not None and not isinstance(text, str):
                raise Invalid(f"{part}: expected a text, got {kind(text)}")
            text = (text or "").strip()
            refuse_nul(text)
            if _CONTROL.search(text):
                raise Invalid(f"{part}: is one line; remove line breaks and tabs")
            if text and part not in asked:
                raise Invalid(f"{part}: this address asks for {', '.join(asked)} only")
            address[part] = text or None
        return address if any(address.values()) else None

    def check(self, spec: FieldSpec, value: Mapping[str, Any]) -> Iterator[str]:
        for part, longest in LONGEST.items():
            if len(value.get(part) or "") > longest:
                yield f"{part}: is {len(value[part])} characters long; the most allowed is {longest}"

    def searched(self, column: Any) -> Any:
        return address_text(column)

    def search_text(self, value: Any) -> Any:
        return SEPARATOR.join(value.get(part) or "" for part in PARTS)

    def column_shape(self, field: Mapping[str, Any]) -> tuple[Any, ...]:
        return (field.get("levels", LEVELS),)

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        schema: Schema = {
            "type": "object",
            "properties": {part: {"type": ["string", "null"], "maxLength": LONGEST[part]} for part in self.parts(spec)},
            "additionalProperties": False,
            "example": self.example(spec),
            "description": "A postal address: region levels (province or state, city, district) and a detail line",
        }
        if not shape.write:
            schema["required"] = list(self.parts(spec))
        return schema

    def dump(self, spec: FieldSpec, value: Any) -> Any:
        if value is None:
            return None
        return {part: value.get(part) for part in self.parts(spec)}

    def display(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> str:
        parts = [value[part] for part in PARTS if value.get(part)]
        if t.locale == "en":  # from the door outwards: "15 Keyuan Road, Nanshan, Shenzhen, Guangdong"
            return ", ".join(reversed(parts))
        return " ".join(parts)

    def to_cell(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> Any:
        if not any(value.get(part) for part in REGIONS):
            return value.get("detail") or ""
        return " / ".join(value.get(part) or "" for part in self.parts(spec))

    def from_cell(self, spec: FieldSpec, cell: Any) -> Any:
        """ "广东省 / 深圳市 / 南山区 / 科苑路 15 号": the parts from the province down, the last the detail line."""
        if cell is None or not str(cell).strip():
            return None
        text, asked = str(cell).strip(), self.parts(spec)
        if not CELL_SEPARATOR.search(text):
            return {"detail": text}
        pieces = [piece.strip() for piece in text.split("/", len(asked) - 1)]
        regions, detail = pieces[:-1], pieces[-1]
        return {**dict(zip(asked, regions, strict=False)), "detail": detail}

    def reshape(self, raw: Any) -> Any:
        return self.from_cell(FieldSpec("", "", self.name, "", ""), raw) if isinstance(raw, str) else raw
