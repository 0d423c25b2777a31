"""attachment: files uploaded with POST .../files?field=KEY, stored as a list of
{"id", "name", "size", "content_type"}.

A value is sent as a list of file ids (or of the objects read back); parsing keeps
the ids, and runtime/attachments.py checks the files and stores their metadata."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, tzinfo
from typing import Any, ClassVar

from sqlalchemy.types import TypeEngine

from opsloom.platform.api_document import MAX_ID
from opsloom.platform.types import Json
from opsloom.runtime.fields.base import FieldSpec, FieldType, Invalid, Schema, Shape, Translator, kind, ref

ACCEPT_PATTERN = r"^(\.[A-Za-z0-9][A-Za-z0-9._+-]{0,31}|[a-z0-9][a-z0-9.+-]{0,63}/(\*|[a-z0-9][a-z0-9.+-]{0,126}))$"


class Attachment(FieldType):
    name = "attachment"
    label = {"en": "Files", "zh-CN": "附件"}
    sortable = False
    multiple = True
    holds_files = True
    operators = frozenset()  # is_empty / not_empty only
    widget = "files"
    client_kind = "files"
    not_in_rows = "rows cannot hold files; put the attachment field on the form itself"
    lossless_to = frozenset({"attachment"})
    MAX_FILES: ClassVar[int] = 10
    SENT_KEYS: ClassVar[frozenset[str]] = frozenset({"id", "name", "size", "content_type", "sha256"})
    properties: ClassVar[Schema] = {
        "properties": {
            "max_files": {
                "type": "integer",
                "minimum": 1,
                "maximum": 100,
                "description": "How many files a record may hold (default 10)",
            },
            "max_size": {
                "type": "integer",
                "minimum": 1,
                "description": "Largest file in bytes; OPSLOOM_MAX_UPLOAD_BYTES caps it",
            },
            "accept": {
                "type": "array",
                "maxItems": 100,
                "items": {"type": "string", "pattern": ACCEPT_PATTERN},
                "description": (
                    'File types taken, by extension or MIME type: [".pdf", "image/*", "application/pdf"]; default any'
                ),
            },
            "default": {"type": "null", "description": "An attachment field takes no default"},
            "unique": {"const": False},
        }
    }

    def example(self, spec: FieldSpec) -> Any:
        return [1]

    def column_type(self, spec: FieldSpec) -> TypeEngine[Any]:
        return Json

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if not isinstance(value, list):
            raise Invalid(f"expected a list of file ids from POST .../files, got {kind(value)}")
        if len(value) > 100:
            raise Invalid(f"holds {len(value)} files; at most 100 fit")
        ids: list[int] = []
        for item in value:
            if isinstance(item, dict) and "id" in item and set(item) <= self.SENT_KEYS:
                item = item["id"]  # a file sent back as it was read
            if isinstance(item, bool) or not isinstance(item, int) or not 0 < item < 2**63:
                raise Invalid(f"expected file ids (numbers) or objects with an id, got {kind(item)}")
            if item not in ids:  # the same file twice is once
                ids.append(item)
        return ids or None

    def check(self, spec: FieldSpec, value: list[Any]) -> Iterator[str]:
        most = self.max_files(spec)
        if len(value) > most:
            yield f"holds {len(value)} files; at most {most} are allowed"

    def max_files(self, spec: FieldSpec) -> int:
        return int(spec.get("max_files", self.MAX_FILES))

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        file_id: Schema = {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_ID,
            "description": "An id from the upload route",
        }
        items = {"anyOf": [file_id, ref("File")]} if shape.write else ref("File")
        return {"type": "array", "items": items, "maxItems": self.max_files(spec)}

    def display(self, t: Translator, zone: tzinfo, spec: FieldSpec, value: Any) -> str:
        return ", ".join(str(f.get("name", "")) for f in value if isinstance(f, dict)) or t(
            "value.files", count=len(value)
        )
