"""The paths of an app's OpenAPI document: the records, flow and file routes of each form.

`openapi.py` describes the values; this module lays out the routes that carry them,
with the caller's view of each form (`FormView`) deciding which routes appear.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opsloom.platform.api_document import MAX_ID, problem_refs, problem_responses, problem_schemas
from opsloom.platform.auth import SESSION_COOKIE
from opsloom.runtime.fields import unit_of
from opsloom.runtime.forms import CompiledForm
from opsloom.runtime.imports.openapi import import_components, import_paths
from opsloom.runtime.openapi import Schema, form_components, pascal, ref, text_of


@dataclass(frozen=True)
class FormView:
    """A form as the caller sees it: hidden fields already left out."""

    form: CompiledForm
    read_only: frozenset[str] = frozenset()
    has_flow: bool = False
    can_import: bool = False


READS = ("400", "401", "403", "404", "422")
WRITES = (*READS, "409", "413")


def _responses(ok: Mapping[str, Any], problems: tuple[str, ...]) -> dict[str, Any]:
    return {**ok, **problem_refs(sorted(set(problems)))}


def _json(schema: Schema, description: str, headers: Mapping[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        answer["headers"] = dict(headers)
    return answer


def _body(schema: Schema, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _query(name: str, description: str, schema: Schema | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema or STRING}


STRING: Schema = {"type": "string"}
ETAG = {"ETag": {"description": 'The record version, e.g. "3"', "schema": STRING}}
IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": STRING, "description": "ETag you read"}
IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
    "description": "A retried request with the same key is applied once",
}
ID: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
RECORD_ID = {"name": "record_id", "in": "path", "required": True, "schema": ID}
FILE_ID = {"name": "file_id", "in": "path", "required": True, "schema": ID}
EXPAND = (
    "Link fields (relation, user, users, department) to show as {id, title, access} or {id, name}, comma "
    "separated; a linked record the caller may not read shows title null and access false"
)
COMMENT_ONLY: Schema = {"type": "object", "properties": {"comment": {"type": "string"}}}
ITEMS: Schema = {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object"}}}}


def form_paths(app: str, view: FormView) -> dict[str, Any]:
    form, name = view.form, pascal(view.form.key)
    label, tag = text_of(form.label, form.key), form.key
    base = f"/api/apps/{app}/forms/{form.key}"
    records, record = f"{base}/records", f"{base}/records/{{record_id}}"

    def op(summary: str, operation_id: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
        return {
            "tags": [tag],
            "summary": summary,
            "operationId": f"{operation_id}{name}",
            "responses": responses,
            **more,
        }

    links = [s.key for s in form.fields if unit_of(s).link]
    expand = _query("expand", EXPAND, {"type": "string", "examples": [",".join(links)]} if links else STRING)
    one = _json(ref(name), f"The {label} record", ETAG)
    paths: dict[str, Any] = {
        records: {
            "get": op(
                f"List {label} records",
                "list",
                _responses({"200": _json(ref(f"{name}List"), "A page of records")}, READS),
                parameters=[
                    _query("filter", 'A condition as URL-encoded JSON, e.g. {"field":"x","op":"eq","value":1}'),
                    _query("sort", "Up to 5 field keys, '-' for descending"),
                    _query(
                        "limit",
                        "Page size, 1 to 500; 0 for the count alone",
                        {"type": "integer", "minimum": 0, "maximum": 500},
                    ),
                    _query("cursor", "next_cursor of the previous page"),
                    _query("q", "Search in the title field"),
                    _query("count", "How to count the total", {"type": "string", "enum": ["auto", "exact", "none"]}),
                    expand,
                ],
            ),
            "post": op(
                f"Create a {label} record",
                "create",
                _responses({"201": _json(ref(name), "Created", {**ETAG, "Location": {"schema": STRING}})}, WRITES),
                requestBody=_body(ref(f"{name}Create")),
            ),
        },
        f"{records}/bulk": {
            "post": op(
                f"Create many {label} records, all or nothing",
                "createMany",
                _responses({"201": _json(_items(ref(name)), "Created")}, WRITES),
                requestBody=_body(
                    {
                        "type": "object",
                        "required": ["records"],
                        "properties": {"records": {"type": "array", "items": ref(f"{name}Create"), "maxItems": 1000}},
                    }
                ),
            )
        },
        record: {
            "parameters": [RECORD_ID],
            "get": op(f"Read a {label} record", "get", _responses({"200": one}, READS), parameters=[expand]),
            "patch": op(
                f"Change some fields of a {label} record",
                "update",
                _responses({"200": one}, (*WRITES, "412")),
                parameters=[IF_MATCH],
                requestBody=_body(ref(f"{name}Update")),
            ),
            "delete": op(
                f"Delete a {label} record (it can be restored), or purge a deleted one",
                "delete",
                _responses({"204": {"description": "Deleted"}}, (*READS, "409", "412")),
                parameters=[
                    IF_MATCH,
                    _query("purge", "Remove a deleted record for good, files included", {"type": "boolean"}),
                ],
            ),
        },
        f"{record}/restore": {
            "parameters": [RECORD_ID],
            "post": op(f"Restore a deleted {label} record", "restore", _responses({"200": one}, (*READS, "409"))),
        },
        f"{record}/history": {
            "parameters": [RECORD_ID],
            "get": op("Who changed what, when", "history", _responses({"200": _json(ITEMS, "Changes")}, READS)),
        },
    }
    if view.has_flow:
        paths |= _flow_paths(record, op)
    attachments = [s.key for s in form.fields if unit_of(s).holds_files and s.key not in view.read_only]
    if attachments:
        sizes = sorted({n for s in form.fields if s.key in attachments for n in unit_of(s).renditions})
        paths |= _file_paths(base, attachments, op, sizes, view.has_flow)
    if view.can_import:
        paths |= import_paths(base, op)
    return paths


def _items(schema: Schema) -> Schema:
    return {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": schema}}}


def _flow_paths(record: str, op: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    submit: Schema = {
        "type": "object",
        "properties": {
            "chosen": {
                "type": "object",
                "description": "Approvers the submitter picks, by node id",
                "additionalProperties": {"type": "array", "items": {"type": "integer"}},
            },
            "comment": STRING,
        },
    }
    comment: Schema = {
        "type": "object",
        "required": ["text"],
        "properties": {"text": STRING, "files": {"type": "array", "items": {"type": "integer"}, "maxItems": 20}},
    }
    acted = _json({"type": "object"}, "The flow's state after the action")
    actions = {
        "submit": ("Submit the record to its form's flow", submit),
        "withdraw": ("Withdraw a submitted record (before anyone acted)", COMMENT_ONLY),
        "urge": ("Remind the people whose turn it is", COMMENT_ONLY),
        "comments": ("Comment on the record's flow (with attachments)", comment),
    }
    paths = {
        f"{record}/{action}": {
            "parameters": [RECORD_ID],
            "post": op(
                summary,
                action,
                _responses({"200": acted}, (*WRITES,)),
                parameters=[IDEMPOTENCY],
                requestBody=_body(body, required=action == "comments"),
            ),
        }
        for action, (summary, body) in actions.items()
    }
    paths[f"{record}/timeline"] = {
        "parameters": [RECORD_ID],
        "get": op("The record's flows: who did what, when", "timeline", _responses({"200": _json(ITEMS, "")}, READS)),
    }
    return paths


def _file_paths(
    base: str, fields: list[str], op: Callable[..., dict[str, Any]], sizes: list[str], has_flow: bool
) -> dict[str, Any]:
    task: Schema = {
        "name": "task",
        "in": "query",
        "required": False,
        "description": "Your pending task: upload for a field its step makes editable (a signature)",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    }
    size: list[Schema] = [
        {
            "name": "size",
            "in": "query",
            "required": False,
            "description": "A picture (of an image or signature field) at a smaller size",
            "schema": {"type": "string", "enum": sizes},
        }
    ]
    upload = {
        "type": "object",
        "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary"}},
    }
    return {
        f"{base}/files": {
            "post": op(
                "Upload a file for an attachment field; send its id in the field",
                "upload",
                _responses({"201": _json(ref("UploadedFile"), "Stored")}, (*WRITES, "415")),
                parameters=[
                    {"name": "field", "in": "query", "required": True, "schema": {"type": "string", "enum": fields}},
                    *([task] if has_flow else []),
                ],
                requestBody={"required": True, "content": {"multipart/form-data": {"schema": upload}}},
            )
        },
        f"{base}/files/{{file_id}}": {
            "parameters": [FILE_ID],
            "get": op(
                "Download a file",
                "download",
                _responses(
                    {
                        "200": {
                            "description": "The file",
                            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                        }
                    },
                    READS,
                ),
                **({"parameters": size} if sizes else {}),
            ),
        },
    }


# ------------------------------------------------------------------ the document


def _shared_components() -> dict[str, Schema]:
    file_props = {
        "id": ID,
        "name": STRING,
        "size": {"type": "integer", "minimum": 0},
        "content_type": STRING,
    }
    return {
        **problem_schemas(),
        "RecordLink": {
            "type": "object",
            "description": (
                "A linked record, as expand shows it. Its title only when the caller may read that record "
                "(the read row scope of their roles on the linked form, and its title field not hidden); "
                'otherwise {"id": 7, "title": null, "access": false}'
            ),
            "required": ["id", "title", "access"],
            "properties": {
                "id": ID,
                "title": {"description": "The linked record's title; null when access is false"},
                "access": {"type": "boolean", "description": "Whether the caller may read the linked record"},
            },
        },
        "NamedLink": {
            "type": "object",
            "description": "A user or department, as expand shows it",
            "required": ["id", "name"],
            "properties": {"id": ID, "name": {"type": ["string", "null"]}},
        },
        "File": {"type": "object", "required": list(file_props), "properties": file_props},
        "UploadedFile": {
            "type": "object",
            "required": [*file_props, "sha256"],
            "properties": {**file_props, "sha256": STRING},
        },
    }


def app_document(app: Mapping[str, Any], views: list[FormView]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of an app whose forms the caller sees as `views`."""
    schemas = _shared_components()
    paths: dict[str, Any] = {}
    if any(view.can_import for view in views):
        schemas |= import_components()
    for view in views:
        schemas |= form_components(view.form, view.read_only)
        paths |= form_paths(app["key"], view)
    info: dict[str, Any] = {"title": text_of(app.get("label"), app["key"]), "version": _version(views)}
    if app.get("description"):
        info["description"] = text_of(app["description"])
    return {
        "openapi": "3.1.0",
        "info": info,
        "tags": [{"name": v.form.key, "description": text_of(v.form.label, v.form.key)} for v in views],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": problem_responses(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API token: olt_..."},
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": SESSION_COOKIE,
                    "description": "From POST /api/auth/login; writes also need the X-CSRF-Token header",
                },
            },
        },
        "security": [{"bearer": []}, {"session": []}],
    }


def _version(views: list[FormView]) -> str:
    """Changes whenever a form is published again: form key and version, joined."""
    return ".".join(f"{v.form.key}@{v.form.version}" for v in views) or "0"
