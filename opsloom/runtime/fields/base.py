"""The field-type protocol: every question the platform asks about a kind of field.

A field type is one unit (one module of this package) that answers them all: how
its value is read, checked and written (codec), where it is stored, whether it
links and to what, how conditions and formulas see it, its OpenAPI schema, its
widget and its text in the pages, its spreadsheet cells, which conversions to
other types keep every value, where it may be used, and the properties the
designer offers for it. The rest of the platform asks the unit; it never tests
a type's name (`__init__.py` is the one place types are named).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Protocol

import orjson
import regex
from sqlalchemy.types import TypeEngine

Schema = dict[str, Any]
REF = "#/components/schemas/"


class Invalid(ValueError):
    """A value that the field cannot take; the message tells the user what to send."""


class NotTaken(Invalid):
    """An upload of a kind of file the field does not take (answered 415, not 422)."""


@dataclass(frozen=True)
class FieldSpec:
    """A field of a published form, as the runtime sees it."""

    id: str
    key: str
    type: str
    column: str
    label: Any
    required: bool = False
    unique: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict)

    def get(self, name: str, default: Any = None) -> Any:
        return self.raw.get(name, default)

    def option_values(self) -> tuple[str, ...]:
        return tuple(o["value"] for o in self.raw.get("options", ()))


@dataclass(frozen=True)
class Shape:
    """What an OpenAPI schema is asked for: the value as read or as sent, and the form's component name."""

    component: str
    write: bool = False
    creating: bool = False


class Translator(Protocol):
    """The pages' translator, as a unit uses it to name values (`runtime/pages/i18n.py`)."""

    @property
    def locale(self) -> str: ...

    def __call__(self, key: str, **params: Any) -> str: ...

    def label(self, value: Any) -> str: ...


def ref(name: str) -> Schema:
    return {"$ref": REF + name}


def pascal(key: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in key.split("_") if part)


def row_component(component: str, key: str, suffix: str) -> str:
    return f"{component}_{pascal(key)}{suffix}"


COMPARISONS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "between"})
TEXT_OPERATORS = frozenset({"eq", "ne", "in", "not_in", "contains", "starts_with"})
DATE_OPERATORS = COMPARISONS | {"today", "this_week", "this_month", "last_n_days"}
FORMULA_NUMBER, FORMULA_TEXT, FORMULA_BOOLEAN, FORMULA_DATE, FORMULA_DATETIME = (
    "number",
    "text",
    "boolean",
    "date",
    "datetime",
)


class FieldType:
    """The answers every field type gives; a unit overrides what differs for its kind."""

    name: ClassVar[str]
    # What the designer's palette calls it, in each language.
    label: ClassVar[Mapping[str, str]] = {}

    # ------------------------------------------------------------ storage
    # Its value sits in a column of the record's table (False: a subform's child table).
    has_column: ClassVar[bool] = True
    # Its value is rows of a child table (a subform).
    child_rows: ClassVar[bool] = False

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        raise NotImplementedError

    @property
    def one_value(self) -> bool:
        """It holds one value per record (stored or read-time): a list column, an export column."""
        return self.has_column or self.read_time

    # ------------------------------------------------------------ read-time values
    # Computed as it is read, in the statement that reads the record (a rollup): no column, never sent.
    read_time: ClassVar[bool] = False

    def sources(self, field: FieldSpec | Mapping[str, Any]) -> frozenset[str]:
        """Forms whose records its value is read from (bound with the form, as relation targets are);
        a reader who may not read one of them does not see the field."""
        return frozenset()

    def read_expression(self, spec: FieldSpec, form: Any) -> Any:
        """A read-time value as an SQL expression correlated to a row of `form`'s table (a CompiledForm
        with its sources in `related`); None when it cannot be read (a source is missing or changed)."""
        return None

    def source_problems(
        self, field: Mapping[str, Any], form_key: str, sources: Mapping[str, Mapping[str, Any] | None]
    ) -> Iterator[tuple[str, str]]:
        """(property, message) for what its sources (published form documents by key, None when
        missing) say is wrong with a field document of form `form_key`; checked at publish."""
        return iter(())

    # ------------------------------------------------------------ input
    # People fill it in; False: the system computes or gives it (formula, autonumber).
    entered: ClassVar[bool] = True
    # Computed from the record by its formula on every save.
    computed: ClassVar[bool] = False
    # Why a value sent for a field that is not entered is refused.
    leave_out: ClassVar[str] = ""
    # The system numbers a new record with it (an autonumber).
    numbered: ClassVar[bool] = False
    # Its value is a list (of options, people, files or rows).
    multiple: ClassVar[bool] = False
    # Its value is chosen from the field's `options`.
    options: ClassVar[bool] = False
    # Its value is files uploaded first (POST .../files), kept as metadata by runtime/attachments.py.
    holds_files: ClassVar[bool] = False
    # What a required field that is empty is told.
    missing: ClassVar[str] = "is required"

    # ------------------------------------------------------------ uploads (types that hold files)
    # The largest upload in bytes when the field sets no max_size (None: the server's limit).
    upload_bytes: ClassVar[int | None] = None
    # It holds a handwritten signature: an approval step may require one (runtime/flow/signing.py).
    signs: ClassVar[bool] = False
    # Its uploads are judged by content (`receive`), so the field's `accept` list does not apply.
    judges_content: ClassVar[bool] = False
    # Smaller sizes a file is served at (GET .../files/{id}?size=NAME): name -> longest side in pixels.
    renditions: ClassVar[Mapping[str, int]] = {}

    def receive(self, spec: FieldSpec, path: Path, name: str) -> tuple[str, str] | None:
        """An upload stored at `path`, judged by its content and rewritten in place if need be:
        (the name to keep, its content type), or None to keep what its name says; `Invalid` refuses it."""
        return None

    def rendition_type(self, content_type: str) -> str:
        """The content type of a smaller size of a file of this content type."""
        return content_type

    def render(self, source: Path, target: Path, longest: int) -> None:
        """Write a copy of the file at `source` no larger than `longest` pixels a side to `target`."""
        raise NotImplementedError

    # ------------------------------------------------------------ links
    # What its value points at: "record" (of `spec["form"]`), "user" or "department"; None for none.
    link: ClassVar[str | None] = None

    # ------------------------------------------------------------ codec
    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        """JSON value -> Python value, or `Invalid`."""
        raise NotImplementedError

    def check(self, spec: FieldSpec, value: Any) -> Iterator[str]:
        """Rule violations of a parsed, non-empty value."""
        return iter(())

    def dump(self, spec: FieldSpec, value: Any) -> Any:
        """Python value -> JSON value."""
        return value

    def value_dump(self, spec: FieldSpec) -> Callable[[Any], Any] | None:
        """`dump` as a function of a present value alone, for the rows of a page (`dump_row`): None
        when a value is its own JSON. A type whose dump needs no spec gives a function of one
        argument, a C one where it can: a call fewer for each value of each row."""
        return None if type(self).dump is FieldType.dump else partial(self.dump, spec)

    def is_empty(self, value: Any) -> bool:
        return value is None or value == "" or value == []

    def fit(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        """A value a formula computed, as the field stores it (a decimal rounded to its scale)."""
        return self.parse(spec, value, zone)

    # ------------------------------------------------------------ conditions and formulas
    # Operators of the condition language this type answers (besides is_empty/not_empty).
    operators: ClassVar[frozenset[str]] = frozenset({"eq", "ne", "in", "not_in"})
    sortable: ClassVar[bool] = True
    # Text: "" counts as empty, order is by code point, contains/starts_with fold A-Z.
    text_like: ClassVar[bool] = False
    # "date" (a calendar day) or "moment" (a point in time) for the period operators.
    temporal: ClassVar[str | None] = None
    # A number: it can be summed, averaged and compared with numbers.
    numeric: ClassVar[bool] = False
    # Whole numbers only.
    integral: ClassVar[bool] = False
    # A relation filtered by the linked record's title (contains/starts_with).
    title_search: ClassVar[bool] = False
    # Its value type in the formula language (None: formulas cannot read it).
    formula: ClassVar[str | None] = None

    def operators_for(self, spec: FieldSpec) -> frozenset[str]:
        return self.operators

    def sortable_for(self, spec: FieldSpec) -> bool:
        return self.sortable

    def shown_as(self, spec: FieldSpec) -> FieldType:
        """The unit its values behave as (a formula: the type it produces)."""
        return self

    def shown_as_choices(self) -> tuple[str, str, Mapping[str, FieldType]] | None:
        """When `shown_as` depends on a property: its name, its default and the unit for each value
        (for editors that must know before a form is published: which operators a condition offers)."""
        return None

    def choices(self, spec: FieldSpec) -> frozenset[Any] | None:
        """Every value the field can take, when they are few (options, yes/no); None otherwise."""
        return None

    def element(self, spec: FieldSpec) -> FieldType:
        """For a list value: the unit of one item (`contains` names one); else itself."""
        return self

    def storage_kind(self, spec: FieldSpec) -> tuple[Any, ...]:
        """Two fields compare with each other when their storage kinds are equal."""
        return (self.name,)

    def formula_type(self, spec: Mapping[str, Any]) -> str | None:
        """What a formula reading this field (a field document) gets."""
        return self.formula

    # `contains` and `starts_with` look for a text in what `searched` makes of the column (SQL)
    # and `search_text` of the value (Python); the two must give the same text.
    def searched(self, column: Any) -> Any:
        """The SQL text that contains/starts_with look in (the column itself unless the value is structured)."""
        return column

    def search_text(self, value: Any) -> Any:
        """The same text for a value held in Python."""
        return value

    def search_term(self, text: str) -> str:
        """A contains/starts_with operand as it is written in the stored value (HTML escapes it)."""
        return text

    # ------------------------------------------------------------ OpenAPI
    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        raise NotImplementedError

    # ------------------------------------------------------------ pages
    # The widget that edits it: runtime/pages/templates/widgets/<widget>.html (its `control` macro).
    widget: ClassVar[str] = "text"
    # The value kind the browser reads and compares: a key of static/js/conditions.js's TYPES
    # (form_meta sends it as each field's `kind`; a kind missing there cannot be used in browser rules).
    client_kind: ClassVar[str] = "text"
    # What a filter value of this type is typed into: text, number, select, boolean, date, datetime-local.
    filter_input: ClassVar[str] = "text"

    def browser_meta(self, spec: FieldSpec) -> dict[str, Any]:
        """What the browser needs besides the kind to read, compare and show values as the server does
        (form_meta sends it with the field: a decimal's scale, a percentage's places)."""
        return {}

    def filter_input_for(self, op: str) -> str:
        return self.filter_input

    def filter_value(self, text: str) -> Any:
        """What a filter bar's text means for this type (left for the condition parser to judge)."""
        return text

    def markup(self, spec: FieldSpec, value: Any) -> str | None:
        """Safe HTML that a record's page shows instead of `display` (sanitised rich text); None: text."""
        return None

    def display(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> str:
        """A value as the API writes it (links expanded) as one line of text for people."""
        if isinstance(value, dict):
            return linked_label(t, value)
        if isinstance(value, list):
            return ", ".join(linked_label(t, v) if isinstance(v, dict) else str(v) for v in value)
        return str(value)

    # ------------------------------------------------------------ spreadsheets
    def to_cell(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> Any:
        """A value as the API writes it -> a spreadsheet cell (Decimal, date, datetime or text)."""
        return self.display(t, zone, spec, value)

    def from_cell(self, spec: FieldSpec, cell: Any) -> Any:
        """A spreadsheet cell -> the JSON value `parse` takes."""
        if isinstance(cell, str):
            return cell.strip() or None
        return cell

    # ------------------------------------------------------------ schema changes
    # Types a stored value converts to without loss, whatever it is.
    lossless_to: ClassVar[frozenset[str]] = frozenset()

    def column_shape(self, field: Mapping[str, Any]) -> tuple[Any, ...]:
        """What its column depends on besides the type (a field document): a change rewrites the values."""
        return ()

    def reshape(self, raw: Any) -> Any:
        """A JSON value another type wrote, made into what this type parses (a field changes type)."""
        return raw

    # ------------------------------------------------------------ where it may be used
    # It may name a record (a form's title_field).
    title: ClassVar[bool] = False
    # Why a subform row cannot hold it ("" when it can).
    not_in_rows: ClassVar[str] = ""
    # A report may group by it / sum it.
    dimension: ClassVar[bool] = False
    measure: ClassVar[bool] = False
    # A list may group its rows by it (one value per row, from a short known set: an option, a person).
    groupable: ClassVar[bool] = False

    # ------------------------------------------------------------ designer
    # The type's own properties, as a JSON Schema fragment ({"properties": ..., "required": [...]}).
    properties: ClassVar[Schema] = {}
    # The properties a new field of this type starts with (those its schema requires, filled in).
    starts_with: ClassVar[Schema] = {}

    def example(self, spec: FieldSpec) -> Any:
        """A JSON value the field takes (API documents show it; tests send it)."""
        raise NotImplementedError

    def design_problems(self, field: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        """(property, message) for properties of a field document that its schema cannot judge."""
        return iter(())


def linked_label(t: Translator, linked: Mapping[str, Any]) -> str:
    """A linked record by its title (or "no access" when the reader may not read it), a person by name."""
    if linked.get("access") is False:
        return t("value.no_access")
    shown = linked.get("title", linked.get("name"))
    return str(shown) if shown not in (None, "") else f"#{linked.get('id')}"


def refuse_nul(text: str) -> None:
    # PostgreSQL text cannot hold U+0000; refuse it on every database alike.
    if "\x00" in text:
        raise Invalid("contains a NUL character (\\u0000), which text cannot hold; remove it")


def is_whole(value: Decimal | float, limit: int) -> bool:
    """A finite whole number small enough to convert to int quickly (1e999999999 is not)."""
    number = Decimal(value) if isinstance(value, float) and math.isfinite(value) else value
    if not isinstance(number, Decimal) or not number.is_finite():
        return False
    if number.adjusted() > 19:
        raise Invalid(f"is too large; numbers up to {limit} fit")
    return number == number.to_integral_value()


def dump_datetime(value: datetime) -> str:
    """ISO 8601 in UTC, ending in Z (`2026-03-04T05:06:07.123456Z`; no fraction when it is zero).

    orjson writes it in C: a 100-row page formats 200 of these (created_at, updated_at), and
    `isoformat` of an aware datetime took three times as long."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return orjson.dumps(value, option=orjson.OPT_UTC_Z)[1:-1].decode()


def in_range(spec: FieldSpec, value: Any, parse: Any = None) -> Iterator[str]:
    low, high = spec.get("min"), spec.get("max")
    if low is not None and value < (parse(low) if parse else low):
        yield f"must be at least {low}"
    if high is not None and value > (parse(high) if parse else high):
        yield f"must be at most {high}"


def matches(pattern: str, value: str) -> bool:
    try:
        return regex.fullmatch(pattern, value, timeout=0.05) is not None
    except TimeoutError:
        return False


def counted(spec: FieldSpec, schema: Schema, *, unique: bool) -> Schema:
    """An array schema with the field's min_items/max_items."""
    if unique:
        schema["uniqueItems"] = True
    if spec.get("min_items") is not None:
        schema["minItems"] = spec.get("min_items")
    if spec.get("max_items") is not None:
        schema["maxItems"] = min(spec.get("max_items"), schema.get("maxItems", spec.get("max_items")))
    return schema


def count_problems(spec: FieldSpec, value: list[Any], what: str) -> Iterator[str]:
    if (low := spec.get("min_items")) is not None and len(value) < low:
        yield f"needs at least {low} {what}"
    if (high := spec.get("max_items")) is not None and len(value) > high:
        yield f"allows at most {high} {what}"


def kind(value: Any) -> str:
    """A value named for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float | Decimal):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def parse_iso_date(value: Any) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


SHAPE_OF_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{2,30}$")
