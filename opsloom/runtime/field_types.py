"""Field types: one small unit per type, registered in one table.

A unit knows its column type, how to read a JSON value into Python (`parse`),
how to check the field's rules on that value (`check`), and how to write a
value back to JSON (`dump`). Adding a field type is adding one class here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import urlsplit

import regex
from sqlalchemy import BigInteger, Boolean, Date, String, Text
from sqlalchemy.types import TypeEngine

from opsloom.platform.types import ExactDecimal, Json, UTCDateTime


class Invalid(ValueError):
    """A value that the field cannot take; the message tells the user what to send."""


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


class FieldType:
    name: ClassVar[str]
    sortable: ClassVar[bool] = True
    # People fill it in (False: the system computes or gives it, e.g. formula, autonumber).
    entered: ClassVar[bool] = True
    # Operators of the condition language this type answers (besides is_empty/not_empty).
    operators: ClassVar[frozenset[str]] = frozenset({"eq", "ne", "in", "not_in"})

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        raise NotImplementedError

    def operators_for(self, spec: FieldSpec) -> frozenset[str]:
        return self.operators

    def sortable_for(self, spec: FieldSpec) -> bool:
        return self.sortable

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        """JSON value -> Python value, or `Invalid`."""
        raise NotImplementedError

    def check(self, spec: FieldSpec, value: Any) -> Iterator[str]:
        """Rule violations of a parsed, non-empty value."""
        return iter(())

    def dump(self, spec: FieldSpec, value: Any) -> Any:
        return value

    def is_empty(self, value: Any) -> bool:
        return value is None or value == ""


COMPARISONS = frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "between"})
TEXT_OPERATORS = frozenset({"eq", "ne", "in", "not_in", "contains", "starts_with"})
DATE_OPERATORS = COMPARISONS | {"today", "this_week", "this_month", "last_n_days"}


class Text_(FieldType):
    name = "text"
    operators = TEXT_OPERATORS | {"gt", "gte", "lt", "lte", "between"}
    default_length = 255
    expected = "a text"

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return String(spec.get("max_length", self.default_length))

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if not isinstance(value, str):
            raise Invalid(f"expected {self.expected}, got {_kind(value)}")
        _refuse_nul(value)
        value = value.strip()
        return value or None

    def check(self, spec: FieldSpec, value: str) -> Iterator[str]:
        max_length = spec.get("max_length", self.default_length)
        if max_length and len(value) > max_length:
            yield f"is {len(value)} characters long; the most allowed is {max_length}"
        min_length = spec.get("min_length")
        if min_length and len(value) < min_length:
            yield f"is {len(value)} characters long; at least {min_length} are needed"
        pattern = spec.get("pattern")
        if pattern and not _matches(pattern, value):
            yield f"does not match the pattern {pattern}"


class Textarea(Text_):
    name = "textarea"
    sortable = False
    default_length = 0  # unlimited text column; a max_length is still enforced when given

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return Text()

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if not isinstance(value, str):
            raise Invalid(f"expected a text, got {_kind(value)}")
        _refuse_nul(value)
        return value if value.strip() else None


class Email(Text_):
    name = "email"
    default_length = 254
    expected = "an e-mail address"
    _shape = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        text = super().parse(spec, value)
        if text is None:
            return None
        if not self._shape.match(text):
            raise Invalid(f"{text!r} is not an e-mail address like name@example.com")
        local, _, domain = text.rpartition("@")
        return f"{local}@{domain.lower()}"


class Phone(Text_):
    name = "phone"
    default_length = 32
    expected = "a phone number"
    _shape = re.compile(r"^\+?[0-9][0-9 ()\-]{2,30}$")

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        text = super().parse(spec, value)
        if text is not None and not self._shape.match(text):
            raise Invalid(f"{text!r} is not a phone number (digits, spaces, +, -, parentheses)")
        return text


class Url(Text_):
    name = "url"
    default_length = 2048
    expected = "a web address"

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        text = super().parse(spec, value)
        if text is None:
            return None
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc or " " in text:
            raise Invalid(f"{text!r} is not a web address starting with http:// or https://")
        return text


class Integer(FieldType):
    name = "integer"
    operators = COMPARISONS
    LIMIT = 2**63 - 1

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return BigInteger()

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if isinstance(value, bool):
            raise Invalid("expected a whole number, got true/false")
        if isinstance(value, int):
            number = value
        elif isinstance(value, Decimal | float) and _is_whole(value):
            number = int(value)
        elif isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,19}\s*", value):
            number = int(value.strip())
        else:
            raise Invalid(f"expected a whole number, got {_kind(value)}")
        if abs(number) > self.LIMIT:
            raise Invalid(f"{number} is too large; numbers up to {self.LIMIT} fit")
        return number

    def check(self, spec: FieldSpec, value: int) -> Iterator[str]:
        yield from _range(spec, value)


class Decimal_(FieldType):
    name = "decimal"
    operators = COMPARISONS

    @staticmethod
    def shape(spec: FieldSpec) -> tuple[int, int]:
        precision = spec.get("precision", 18)
        return precision, min(spec.get("scale", 2), precision)

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return ExactDecimal(*self.shape(spec))

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise Invalid(f'expected a decimal number such as "1200.50", got {_kind(value)}')
        try:
            number = Decimal(value.strip() if isinstance(value, str) else str(value))
        except InvalidOperation:
            raise Invalid(f'{value!r} is not a decimal number such as "1200.50"') from None
        if not number.is_finite():
            raise Invalid("expected a finite decimal number")
        precision, scale = self.shape(spec)
        # Size first: quantize() of a huge number overflows the decimal context.
        if number and number.adjusted() >= precision - scale:
            raise Invalid(f"is too large; at most {precision - scale} digits before the point fit")
        if number != number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_DOWN):
            raise Invalid(f"has more than {scale} decimal places")
        return number.quantize(Decimal(1).scaleb(-scale))

    def check(self, spec: FieldSpec, value: Decimal) -> Iterator[str]:
        yield from _range(spec, value, Decimal)

    def dump(self, spec: FieldSpec, value: Any) -> Any:
        return None if value is None else str(value)


class Boolean_(FieldType):
    name = "boolean"
    operators = frozenset({"eq", "ne"})

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return Boolean()

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if not isinstance(value, bool):
            raise Invalid(f"expected true or false, got {_kind(value)}")
        return value


class Date_(FieldType):
    name = "date"
    operators = DATE_OPERATORS

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return Date()

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise Invalid(f'expected a date like "2026-01-31", got {_kind(value)}')

    def check(self, spec: FieldSpec, value: date) -> Iterator[str]:
        yield from _range(spec, value, date.fromisoformat)

    def dump(self, spec: FieldSpec, value: Any) -> Any:
        return None if value is None else value.isoformat()


class DateTime_(FieldType):
    name = "datetime"
    operators = DATE_OPERATORS

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return UTCDateTime()

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value.strip())
            except ValueError:
                raise Invalid(f'expected a date and time like "2026-01-31T09:30:00+08:00", got {value!r}') from None
        else:
            raise Invalid(f"expected a date and time in ISO 8601, got {_kind(value)}")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        try:
            return moment.astimezone(UTC)
        except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is past the last UTC day
            raise Invalid(f"{value!r} is outside the years 0001 to 9999 in UTC") from None

    def check(self, spec: FieldSpec, value: datetime) -> Iterator[str]:
        yield from _range(spec, value, lambda s: self.parse(spec, s))

    def dump(self, spec: FieldSpec, value: Any) -> Any:
        return None if value is None else dump_datetime(value)


class Select(FieldType):
    name = "select"
    operators = frozenset({"eq", "ne", "in", "not_in"})

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return String(64)

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if value == "":
            return None
        allowed = spec.option_values()
        if not isinstance(value, str) or value not in allowed:
            raise Invalid(f"{value!r} is not an option; choose one of {', '.join(allowed)}")
        return value


class MultiSelect(FieldType):
    name = "multiselect"
    sortable = False
    operators = frozenset({"contains", "in", "eq", "ne"})

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return Json

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if not isinstance(value, list):
            raise Invalid(f"expected a list of options, got {_kind(value)}")
        allowed = spec.option_values()
        wrong = [v for v in value if not isinstance(v, str) or v not in allowed]
        if wrong:
            raise Invalid(f"{wrong[0]!r} is not an option; choose from {', '.join(allowed)}")
        # Keep the options' own order, without repeats, so equal choices compare equal.
        chosen = [v for v in allowed if v in value]
        return chosen or None

    def check(self, spec: FieldSpec, value: list[str]) -> Iterator[str]:
        if (low := spec.get("min_items")) is not None and len(value) < low:
            yield f"needs at least {low} choices"
        if (high := spec.get("max_items")) is not None and len(value) > high:
            yield f"allows at most {high} choices"

    def is_empty(self, value: Any) -> bool:
        return value is None or value == []


class Autonumber(Text_):
    """A running number such as PR-202611-0042, given by the system on create."""

    name = "autonumber"
    default_length = 64
    entered = False

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return String(64)

    def check(self, spec: FieldSpec, value: str) -> Iterator[str]:
        return iter(())


class Relation(FieldType):
    """A link to a record of another form of the same app, stored as that record's id.

    Filters may compare the id (eq, in, ...) or the linked record's title
    (contains, starts_with)."""

    name = "relation"
    operators = frozenset({"eq", "ne", "in", "not_in", "contains", "starts_with"})

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return BigInteger()

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if isinstance(value, dict) and set(value) <= {"id", "title", "name"} and "id" in value:
            value = value["id"]  # an expanded link sent back as it was read
        if isinstance(value, Decimal) and value == value.to_integral_value() and value.is_finite():
            value = int(value)  # e.g. a CURRENT_USER() default
        shaped = isinstance(value, int | str) and not isinstance(value, bool)
        if not shaped or not re.fullmatch(r"\s*\d{1,18}\s*", str(value)):
            raise Invalid(f"expected the id of {self.target_name(spec)}, got {_kind(value)}")
        number = int(str(value).strip())
        if number < 1:
            raise Invalid(f"expected the id of {self.target_name(spec)}")
        return number

    def target_name(self, spec: FieldSpec) -> str:
        return f"a {spec.get('form')} record"


class User(Relation):
    """A person of the organisation, stored as the user's id. `{"var": "current_user.id"}` filters work."""

    name = "user"
    operators = frozenset({"eq", "ne", "in", "not_in"})

    def target_name(self, spec: FieldSpec) -> str:
        return "a user"


class Department(Relation):
    """A department of the organisation, stored as its id."""

    name = "department"
    operators = frozenset({"eq", "ne", "in", "not_in"})

    def target_name(self, spec: FieldSpec) -> str:
        return "a department"


class Users(FieldType):
    """Several people of the organisation, stored as a list of user ids.

    `contains` asks whether a given person is among them (`{"var": "current_user.id"}` works)."""

    name = "users"
    sortable = False
    operators = frozenset({"contains"})
    MAX = 200

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return Json

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if not isinstance(value, list):
            raise Invalid(f"expected a list of user ids, got {_kind(value)}")
        if len(value) > self.MAX:
            raise Invalid(f"holds {len(value)} people; at most {self.MAX} fit")
        person = FIELD_TYPES["user"]
        ids: list[int] = []
        for item in value:
            number = person.parse(spec, item, zone)
            if number not in ids:  # the same person twice is once
                ids.append(number)
        return ids or None

    def check(self, spec: FieldSpec, value: list[int]) -> Iterator[str]:
        if (low := spec.get("min_items")) is not None and len(value) < low:
            yield f"needs at least {low} people"
        if (high := spec.get("max_items")) is not None and len(value) > high:
            yield f"allows at most {high} people"

    def is_empty(self, value: Any) -> bool:
        return value is None or value == []


class Subform(FieldType):
    """Child rows (order lines) kept in a real child table with `parent_id` and `position`.

    The parent's table has no column for it; `runtime/subforms.py` reads and writes the rows.
    Conditions reach it through aggregates: `{"field": "items.qty", "agg": "sum", ...}`."""

    name = "subform"
    sortable = False
    operators = frozenset()

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        raise TypeError("a subform has no column of its own")

    def is_empty(self, value: Any) -> bool:
        return value is None or value == []


class Attachment(FieldType):
    """Files uploaded with POST .../files?field=KEY, stored as a list of
    {"id", "name", "size", "content_type"}.

    A value is sent as a list of file ids (or of the objects read back); parsing keeps
    the ids, and runtime/attachments.py checks the files and stores their metadata."""

    name = "attachment"
    sortable = False
    operators = frozenset()  # is_empty / not_empty only
    MAX_FILES = 10
    SENT_KEYS = frozenset({"id", "name", "size", "content_type", "sha256"})

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return Json

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if not isinstance(value, list):
            raise Invalid(f"expected a list of file ids from POST .../files, got {_kind(value)}")
        if len(value) > 100:
            raise Invalid(f"holds {len(value)} files; at most 100 fit")
        ids: list[int] = []
        for item in value:
            if isinstance(item, dict) and "id" in item and set(item) <= self.SENT_KEYS:
                item = item["id"]  # a file sent back as it was read
            if isinstance(item, bool) or not isinstance(item, int) or not 0 < item < 2**63:
                raise Invalid(f"expected file ids (numbers) or objects with an id, got {_kind(item)}")
            if item not in ids:  # the same file twice is once
                ids.append(item)
        return ids or None

    def check(self, spec: FieldSpec, value: list[Any]) -> Iterator[str]:
        most = spec.get("max_files", self.MAX_FILES)
        if len(value) > most:
            yield f"holds {len(value)} files; at most {most} are allowed"

    def is_empty(self, value: Any) -> bool:
        return value is None or value == []


class ComputedText(Text_):
    """Text a formula produced: any length, sortable."""

    name = "computed_text"
    default_length = 0

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return Text()


class Formula(FieldType):
    """A value computed on save from the record (see runtime/formulas.py) and stored,
    so it can be filtered, sorted and reported. It behaves as the type it produces."""

    name = "formula"
    entered = False
    RESULTS: ClassVar[dict[str, FieldType]] = {}

    def result(self, spec: FieldSpec) -> FieldType:
        return self.RESULTS[spec.get("result", "number")]

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return self.result(spec).column_type(spec)

    def operators_for(self, spec: FieldSpec) -> frozenset[str]:
        return self.result(spec).operators_for(spec)

    def sortable_for(self, spec: FieldSpec) -> bool:
        return self.result(spec).sortable_for(spec)

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        return self.result(spec).parse(spec, value, zone)

    def dump(self, spec: FieldSpec, value: Any) -> Any:
        return self.result(spec).dump(spec, value)


Formula.RESULTS.update(number=Decimal_(), text=ComputedText(), date=Date_(), datetime=DateTime_(), boolean=Boolean_())

FIELD_TYPES: dict[str, FieldType] = {
    unit.name: unit
    for unit in (
        Text_(),
        Textarea(),
        Email(),
        Phone(),
        Url(),
        Integer(),
        Decimal_(),
        Boolean_(),
        Date_(),
        DateTime_(),
        Select(),
        MultiSelect(),
        Formula(),
        Autonumber(),
        Relation(),
        User(),
        Users(),
        Department(),
        Subform(),
        Attachment(),
    )
}


def _refuse_nul(text: str) -> None:
    # PostgreSQL text cannot hold U+0000; refuse it on every database alike.
    if "\x00" in text:
        raise Invalid("contains a NUL character (\\u0000), which text cannot hold; remove it")


def _is_whole(value: Decimal | float) -> bool:
    """A finite whole number small enough to convert to int quickly (1e999999999 is not)."""
    number = Decimal(value) if isinstance(value, float) and math.isfinite(value) else value
    if not isinstance(number, Decimal) or not number.is_finite():
        return False
    if number.adjusted() > 19:
        raise Invalid(f"is too large; numbers up to {Integer.LIMIT} fit")
    return number == number.to_integral_value()


def dump_datetime(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _range(spec: FieldSpec, value: Any, parse: Any = None) -> Iterator[str]:
    low, high = spec.get("min"), spec.get("max")
    if low is not None and value < (parse(low) if parse else low):
        yield f"must be at least {low}"
    if high is not None and value > (parse(high) if parse else high):
        yield f"must be at most {high}"


def _matches(pattern: str, value: str) -> bool:
    try:
        return regex.fullmatch(pattern, value, timeout=0.05) is not None
    except TimeoutError:
        return False


def _kind(value: Any) -> str:
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
