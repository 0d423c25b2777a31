"""The import routes of a form, as its app's OpenAPI document shows them to callers who may import."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opsloom.platform.api_document import MAX_ID, problem_refs
from opsloom.runtime.imports.batches import MODES, POLICIES
from opsloom.runtime.imports.cleaning import CLEANERS

Schema = dict[str, Any]
REF = "#/components/schemas/"
READS = ("400", "401", "403", "404", "422")
IMPORT_ID = {
    "name": "import_id",
    "in": "path",
    "required": True,
    "description": "The import id",
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _json(schema: Schema, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _answer(code: str, description: str, problems: tuple[str, ...] = READS, schema: str = "Import") -> dict[str, Any]:
    return {code: _json({"$ref": REF + schema}, description), **problem_refs(sorted(set(problems)))}


def import_paths(base: str, op: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    imports, one = f"{base}/imports", f"{base}/imports/{{import_id}}"
    upload = {"type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}}
    return {
        imports: {
            "post": op(
                "Upload a spreadsheet (.xlsx, .xls, .ods, .csv) to import: columns are matched to fields",
                "importUpload",
                _answer("201", "The import, not yet committed", (*READS, "413", "415")),
                requestBody={"required": True, "content": {"multipart/form-data": {"schema": upload}}},
            ),
            "get": op(
                "Your imports into the form, newest first",
                "importList",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"items": {"type": "array", "items": {"$ref": REF + "Import"}}},
                        },
                        "Imports",
                    ),
                    **problem_refs(sorted(READS)),
                },
            ),
        },
        f"{imports}/template": {
            "get": op(
                "A template to fill in: the form's columns, an example row, option lists as drop-downs",
                "importTemplate",
                {
                    "200": {
                        "description": "An XLSX file",
                        "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **problem_refs(sorted(READS)),
                },
                parameters=[
                    {
                        "name": "locale",
                        "in": "query",
                        "required": False,
                        "schema": {"enum": ["en", "zh-CN"]},
                        "description": "Language of the headers",
                    }
                ],
            )
        },
        one: {
            "parameters": [IMPORT_ID],
            "get": op(
                "An import: file, mapping, unmatched values, progress", "importGet", _answer("200", "The import")
            ),
            "patch": op(
                "Change how the file is read and imported",
                "importChange",
                _answer("200", "The import", (*READS, "409")),
                requestBody={
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": REF + "ImportSettings"}}},
                },
            ),
        },
        f"{one}/dry-run": {
            "parameters": [IMPORT_ID],
            "post": op(
                "Judge every row as the import would, storing nothing",
                "importDryRun",
                _answer("200", "A report per row", (*READS, "409"), "ImportDryRun"),
            ),
        },
        f"{one}/commit": {
            "parameters": [IMPORT_ID],
            "post": op("Import the rows (a background job)", "importCommit", _answer("202", "Queued", (*READS, "409"))),
        },
        f"{one}/cancel": {
            "parameters": [IMPORT_ID],
            "post": op("Stop a queued or running import", "importCancel", _answer("200", "Stopping", (*READS, "409"))),
        },
        f"{one}/undo": {
            "parameters": [IMPORT_ID],
            "post": op(
                "Delete the records the import created (within a day)",
                "importUndo",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"deleted": {"type": "integer"}, "kept": {"type": "integer"}},
                        },
                        "How many records were deleted, and kept (in review, or linked)",
                    ),
                    **problem_refs(sorted({*READS, "409"})),
                },
            ),
        },
        f"{one}/errors": {
            "parameters": [IMPORT_ID],
            "get": op(
                "The rows the import refused, with their problems",
                "importErrors",
                {
                    "200": {
                        "description": "An XLSX file",
                        "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **problem_refs(sorted(READS)),
                },
            ),
        },
    }


def import_components() -> dict[str, Schema]:
    settings: Schema = {
        "type": "object",
        "properties": {
            "sheet": {"type": ["string", "null"]},
            "header_row": {"type": "integer", "minimum": 0, "maximum": 1000},
            "mapping": {
                "type": "object",
                "description": "Field key -> column index (0 is the first)",
                "additionalProperties": {"type": "integer", "minimum": 0},
            },
            "cleaning": {"type": "array", "items": {"enum": list(CLEANERS)}},
            "values": {
                "type": "object",
                "description": "Field key -> {value in the file: value to store, or null for empty}",
                "additionalProperties": {"type": "object"},
            },
            "mode": {"enum": list(MODES)},
            "key_field": {"type": ["string", "null"]},
            "error_policy": {"enum": list(POLICIES)},
        },
    }
    return {
        "ImportSettings": settings,
        "Import": {
            "type": "object",
            "required": ["id", "state", "columns", "mapping", "unmatched", "rows_done", "counts"],
            "properties": {
                **settings["properties"],
                "cleaning": {
                    "type": "array",
                    "description": "Every cleaning step, and whether this import uses it",
                    "items": {
                        "type": "object",
                        "required": ["name", "enabled"],
                        "properties": {
                            "name": {"enum": list(CLEANERS)},
                            "label": {"type": "object"},
                            "enabled": {"type": "boolean"},
                        },
                    },
                },
                "id": {"type": "integer"},
                "state": {"enum": ["draft", "queued", "running", "done", "failed", "cancelled", "undone"]},
                "file": {"type": "object"},
                "sheets": {"type": "array", "items": {"type": "string"}},
                "columns": {"type": "array", "items": {"type": "object"}},
                "fields": {"type": "array", "items": {"type": "object"}},
                "sample": {"type": "array", "items": {"type": "array"}},
                "total_rows": {"type": "integer"},
                "unmatched": {
                    "type": "object",
                    "description": "Field key -> values that match no option or link: value, count, rows",
                },
                "rows_done": {"type": "integer"},
                "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                "job": {
                    "type": ["object", "null"],
                    "description": "The background job: state, progress (done, total, rows_per_second, seconds_left)",
                },
            },
        },
        "ImportDryRun": {
            "type": "object",
            "properties": {
                "rows": {"type": "integer"},
                "valid": {"type": "integer"},
                "invalid": {"type": "integer"},
                "problems": {"type": "array", "items": {"type": "object"}},
            },
        },
    }
