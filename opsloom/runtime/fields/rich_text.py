"""rich_text: formatted text (paragraphs, emphasis, lists, links), kept as HTML that nh3
(the Ammonia sanitiser) has cleaned on the way in, so only the tags and attributes
below ever reach the database; anything else (scripts, styles, event handlers,
javascript: links) is dropped.

A record's page shows the markup (`markup`, cleaned again as it is shown); every
other place shows or exports its plain text. `contains` looks in the stored HTML,
for the text as the HTML writes it ("A & B" finds "A &amp; B"); tag names are in
the HTML too, so searching for "strong" finds bold text.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import UTC, tzinfo
from html.parser import HTMLParser
from typing import Any, ClassVar

import nh3
from sqlalchemy import Text as TextColumn
from sqlalchemy.types import TypeEngine

from opsloom.runtime.fields.base import FieldSpec, FieldType, Invalid, Schema, Shape, Translator, kind, refuse_nul

TAGS = frozenset(
    {"p", "br", "strong", "b", "em", "i", "u", "s", "ul", "ol", "li", "a", "blockquote", "code", "pre", "h2", "h3"}
)
ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
BLOCKS = frozenset({"p", "li", "blockquote", "pre", "h2", "h3", "ul", "ol"})
MAX_LENGTH = 20000
MOST_LENGTH = 1_000_000


def sanitise(markup: str) -> str:
    return nh3.clean(
        markup,
        tags=set(TAGS),
        attributes=ATTRIBUTES,
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


class _Lines(HTMLParser):
    """The text of cleaned HTML, a line per paragraph, list item or line break."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "br" or tag in BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_lines(markup: str) -> list[str]:
    reader = _Lines()
    reader.feed(markup)
    reader.close()
    lines = "".join(reader.parts).replace("\xa0", " ").split("\n")
    return [" ".join(line.split()) for line in lines if line.strip()]


class RichText(FieldType):
    name = "rich_text"
    label = {"en": "Rich text", "zh-CN": "富文本"}
    sortable = False
    text_like = True
    operators = frozenset({"contains"})
    widget = "rich_text"
    client_kind = "rich_text"
    not_in_rows = "rows hold plain values; use a textarea column, or put the rich text on the form itself"
    lossless_to = frozenset({"rich_text", "textarea"})
    properties: ClassVar[Schema] = {
        "properties": {
            "max_length": {
                "type": "integer",
                "minimum": 1,
                "maximum": MOST_LENGTH,
                "description": f"Most characters of the cleaned HTML (default {MAX_LENGTH})",
            },
            "unique": {"const": False},
            "index": {"const": False},
        }
    }

    def example(self, spec: FieldSpec) -> Any:
        return "<p>Office chairs</p>"

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return TextColumn()

    def max_length(self, spec: FieldSpec) -> int:
        return int(spec.get("max_length", MAX_LENGTH))

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if not isinstance(value, str):
            raise Invalid(f"expected HTML text such as <p>Hello</p>, got {kind(value)}")
        refuse_nul(value)
        if len(value) > 4 * self.max_length(spec) + 4096:  # far too long to clean down to the limit
            raise Invalid(f"is {len(value)} characters long; the most allowed is {self.max_length(spec)}")
        cleaned = sanitise(value).strip()
        return cleaned if plain_lines(cleaned) else None

    def check(self, spec: FieldSpec, value: str) -> Iterator[str]:
        if len(value) > self.max_length(spec):
            yield f"is {len(value)} characters long as HTML; the most allowed is {self.max_length(spec)}"

    def search_term(self, text: str) -> str:
        return html.escape(text, quote=False)

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        return {
            "type": "string",
            "maxLength": self.max_length(spec),
            "contentMediaType": "text/html",
            "example": self.example(spec),
            "description": "HTML; only " + ", ".join(sorted(TAGS)) + " are kept (links: http, https, mailto)",
        }

    def markup(self, spec: FieldSpec, value: Any) -> str | None:
        return sanitise(value) if isinstance(value, str) else None

    def display(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> str:
        return " ".join(plain_lines(str(value)))

    def to_cell(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> Any:
        return "\n".join(plain_lines(str(value)))

    def from_cell(self, spec: FieldSpec, cell: Any) -> Any:
        """A cell's plain text, a paragraph per line."""
        if cell is None:
            return None
        lines = [line.strip() for line in str(cell).splitlines() if line.strip()]
        return "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in lines) or None
