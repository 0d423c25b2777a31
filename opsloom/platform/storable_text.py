"""Which text a database cannot store, and where it sits in a JSON value.

PostgreSQL's text and JSONB cannot hold U+0000 (NUL), and no database can
hold a lone UTF-16 surrogate such as "\\ud800". SQLite stores NUL, so text
that slipped in there would fail on the move to PostgreSQL: both are refused
wherever text enters (`platform/input_guard.py`, `platform/http.py`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from opsloom.platform.errors import FieldError

NUL_MESSAGE = "contains a NUL character (\\u0000); remove it"
NUL_KEY_MESSAGE = "the key contains a NUL character (\\u0000); remove it"
SURROGATE_MESSAGE = (
    "contains a lone UTF-16 surrogate (such as \\ud800), which no database can store; send valid Unicode"
)
MAX_REPORTED = 20

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def text_problem(text: str) -> str | None:
    """What is wrong with `text` for a database, or None when it can be stored."""
    if "\x00" in text:
        return NUL_MESSAGE
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE_MESSAGE
    return None


def printable(name: str) -> str:
    """A name fit for an error message: a NUL or a lone surrogate shows as its JSON escape."""
    return json.dumps(name)[1:-1] if text_problem(name) else name


def child_path(parent: str, key: str | int) -> str:
    """`items[3].qty`; a key that is not a plain name is quoted: `label["zh-CN"]`, `["a\\u0000"]`."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if _PLAIN_KEY.fullmatch(key):
        return f"{parent}.{key}" if parent else key
    # Unstorable text is shown escaped, so the answer itself can always be encoded.
    return f"{parent}[{json.dumps(key, ensure_ascii=text_problem(key) is not None)}]"


def unstorable_text(value: Any, root: str = "") -> Iterator[FieldError]:
    """Every string (and object key) in a decoded JSON value that no database can store, with its path.

    The root is `$` when it is itself such a string. Iterative, so depth is no limit."""
    pending: list[tuple[str, Any]] = [(root, value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                yield FieldError(path or "$", problem)
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                where = child_path(path, key)
                if text_problem(key):
                    yield FieldError(where, NUL_KEY_MESSAGE if "\x00" in key else SURROGATE_MESSAGE)
                children.append((where, child))
            pending.extend(reversed(children))
        elif isinstance(item, list):
            pending.extend(reversed([(child_path(path, i), child) for i, child in enumerate(item)]))
