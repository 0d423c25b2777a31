"""rich_text: formatted text (paragraphs, emphasis, lists, links), kept as HTML that nh3
(the Ammonia sanitiser) has cleaned on the way in, so only the tags and attributes
below ever reach the database; anything else (scripts, styles, event handlers,
javascript: links) is dropped.

A record's page shows the markup (`markup`, cleaned again as it is shown); every
other place shows or exports its plain text. `contains` looks in the text, never in
the markup: searching "strong" does not find bold text, "A & B" finds "A &amp; B",
and "bold" finds "<strong>bo</strong>ld". The searched text is derived from the
stored HTML where it is searched, the same way in SQL, Python and the browser
(static/js/conditions.js): a block tag (paragraph, list item, line break...) becomes
a line break, any other tag is dropped, and the few entities nh3 writes are decoded.
That works because nh3 writes "<" and ">" escaped everywhere but around tags, so a
tag is exactly `<[^>]*>`. PostgreSQL derives it with regexp_replace; SQLite, which has
no regular expressions, calls `search_text` itself (a function each connection gets).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, tzinfo
from html.parser import HTMLParser
from typing import Any, ClassVar

import nh3
from sqlalchemy import String
from sqlalchemy import Text as TextColumn
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeEngine

from opsloom.platform.database import sqlite_function
from opsloom.runtime.fields.base import FieldSpec, FieldType, Invalid, Schema, Shape, Translator, kind, refuse_nul

TAGS = frozenset(
    {"p", "br", "strong", "b", "em", "i", "u", "s", "ul", "ol", "li", "a", "blockquote", "code", "pre", "h2", "h3"}
)
ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
BLOCKS = frozenset({"p", "li", "blockquote", "pre", "h2", "h3", "ul", "ol"})
MAX_LENGTH = 20000
MOST_LENGTH = 1_000_000

# How the searched text is made from cleaned HTML (kept alike in SQL, Python and conditions.js).
BLOCK_TAG = "</?(p|li|blockquote|pre|h2|h3|ul|ol|br)>"
ANY_TAG = "<[^>]*>"
ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#39;", "'"), ("&nbsp;", "\xa0"), ("&amp;", "&"))
_BLOCK_TAG, _ANY_TAG = re.compile(BLOCK_TAG), re.compile(ANY_TAG)
SQLITE_SEARCH_TEXT = "opsloom_rich_text_search"


def search_text(markup: str | None) -> str | None:
    """The text `contains` looks in: tags gone (a block's a line break), entities decoded."""
    if markup is None:
        return None
    text = _ANY_TAG.sub("", _BLOCK_TAG.sub("\n", markup))
    for entity, character in ENTITIES:
        text = text.replace(entity, character)
    return text


sqlite_function(SQLITE_SEARCH_TEXT, 1, search_text)


class rich_text_search(FunctionElement[str]):
    """`search_text` of a rich text column, in SQL (NULL stays NULL)."""

    type = String()
    inherit_cache = True


@compiles(rich_text_search)
def _search_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"{SQLITE_SEARCH_TEXT}({compiler.process(element.clauses, **kw)})"


@compiles(rich_text_search, "postgresql")
def _search_pg(element: Any, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    text = f"regexp_replace(regexp_replace({column}, '{BLOCK_TAG}', chr(10), 'g'), '{ANY_TAG}', '', 'g')"
    for entity, character in ENTITIES:
        text = f"replace({text}, '{entity}', chr({ord(character)}))"
    return text


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

    def searched(self, column: Any) -> Any:
        return rich_text_search(column)

    def search_text(self, value: Any) -> Any:
        return search_text(value)

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
