"""One guard at the door for text no database can store (see `storable_text.py`).

A pure ASGI middleware, so it sees every request before routing, whatever
the route reads its input with (pydantic models, `read_json`, `request.form()`,
a multipart stream): the URL path, the query string, JSON and urlencoded
bodies, and the part names, filenames and plain fields of multipart bodies.
Refused input answers 422 problem+json naming the parameter or JSON path;
pages get an HTML answer from `refuse_page` instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from itertools import islice
from typing import Any
from urllib.parse import parse_qsl

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opsloom.platform.errors import FieldError, ValidationFailed
from opsloom.platform.http import problem_response
from opsloom.platform.multipart import PartHeaders
from opsloom.platform.routing import matching_routes
from opsloom.platform.storable_text import MAX_REPORTED, NUL_MESSAGE, printable, text_problem, unstorable_text

PageRefusal = Callable[[Request, ValidationFailed], Awaitable[Response]]

# Only a body holding one of these escapes can decode to a NUL or a lone surrogate.
_SUSPECT_JSON = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def refusal(errors: list[FieldError]) -> ValidationFailed:
    return ValidationFailed.of(
        errors[:MAX_REPORTED],
        "The request holds text that cannot be stored (a NUL character or a lone surrogate); see 'errors'",
    )


class _Refused(Exception):
    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors


class InputGuard:
    """Refuse a request carrying unstorable text anywhere, before any route runs.

    `router` names path parameters in the answer (`{"path": "app"}`); `refuse_page`
    answers requests outside `/api` (browsers' pages and forms) with HTML."""

    def __init__(self, app: ASGIApp, router: Router | None = None, refuse_page: PageRefusal | None = None) -> None:
        self.app = app
        self.router = router
        self.refuse_page = refuse_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        errors = self._url_problems(scope)
        if errors:
            await self._refuse(scope, receive, send, errors)
            return
        kind, options = parse_options_header(_header(scope, b"content-type"))
        if kind == b"multipart/form-data":
            await self._multipart(scope, receive, send, options.get(b"boundary"))
            return
        body, replay = await _buffer(receive)
        errors = _body_problems(kind, body)
        if errors:
            await self._refuse(scope, replay, send, errors)
            return
        await self.app(scope, replay, send)

    def _url_problems(self, scope: Scope) -> list[FieldError]:
        errors: list[FieldError] = []
        if text_problem(scope["path"]):
            errors.extend(self._path_problems(scope))
        query = scope.get("query_string", b"").decode("latin-1")
        if "%00" in query or "\x00" in query:
            errors.extend(_pairs_problems(parse_qsl(query, keep_blank_values=True)))
        return errors

    def _path_problems(self, scope: Scope) -> list[FieldError]:
        """Name the path parameter that holds the text, when a route matches; else the path itself."""
        for _, params in matching_routes(self.router.routes, scope) if self.router is not None else []:
            named = [
                FieldError(name, problem)
                for name, value in params.items()
                if isinstance(value, str) and (problem := text_problem(value))
            ]
            if named:
                return named
        return [FieldError("path", f"the URL path {NUL_MESSAGE}")]

    async def _multipart(self, scope: Scope, receive: Receive, send: Send, boundary: bytes | None) -> None:
        """Check each part's headers (and plain fields) as the body streams past, before the route reads them."""
        if not boundary:
            await self.app(scope, receive, send)
            return
        scanner = _PartScanner(boundary)
        started = False

        async def scanned_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                scanner.write(message.get("body", b""))
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, scanned_receive, watched_send)
        except _Refused as refused:
            if started:
                raise
            await self._refuse(scope, receive, send, refused.errors)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, errors: list[FieldError]) -> None:
        error = refusal(errors)
        request = Request(scope, receive)
        path = scope["path"]
        if self.refuse_page is not None and not (path == "/api" or path.startswith("/api/")):
            response = await self.refuse_page(request, error)
        else:
            response = problem_response(error, request)
        await response(scope, receive, send)


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return b""


async def _buffer(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body (the body-size middleware outside caps it), and a receive that hands it over again."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), _replay(b"".join(chunks), receive, message)
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), _replay(b"".join(chunks), receive)


def _replay(body: bytes, receive: Receive, final: Message | None = None) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return final if final is not None else await receive()

    return replay


def _body_problems(kind: bytes, body: bytes) -> list[FieldError]:
    if not body:
        return []
    if kind == b"application/x-www-form-urlencoded":
        text = body.decode("latin-1")
        if "%00" not in text and "\x00" not in text:
            return []
        return _pairs_problems(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    if not _SUSPECT_JSON.search(body):
        return []  # a raw NUL byte makes the JSON invalid, which its reader refuses
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return []  # not JSON: the route's reader says what is wrong with it
    return list(islice(unstorable_text(value), MAX_REPORTED))


def _pairs_problems(pairs: list[tuple[str, str]]) -> list[FieldError]:
    errors = []
    for name, value in pairs:
        if "\x00" in name:
            errors.append(FieldError(printable(name), f"the parameter name {NUL_MESSAGE}"))
        elif "\x00" in value:
            errors.append(FieldError(name, NUL_MESSAGE))
    return errors


class _PartScanner(PartHeaders):
    """python-multipart's parser with callbacks that look only at names, filenames and plain fields."""

    def __init__(self, boundary: bytes) -> None:
        super().__init__()
        self._name = ""
        self._plain = False
        callbacks: Any = {**self.header_callbacks(), "on_part_data": self._part_data}
        self._parser = MultipartParser(boundary, callbacks)
        self._broken = False

    def write(self, chunk: bytes) -> None:
        if self._broken or not chunk:
            return
        try:
            self._parser.write(chunk)
        except FormParserError:
            self._broken = True  # malformed: the route's reader says so

    def _headers_finished(self) -> None:
        options = self.disposition()
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        self._name, self._plain = printable(name), filename is None
        if "\x00" in name:
            raise _Refused([FieldError(self._name, f"the part name {NUL_MESSAGE}")])
        if filename is not None and b"\x00" in filename:
            raise _Refused([FieldError(self._name, f"the file name {NUL_MESSAGE}")])

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._plain and b"\x00" in data[start:end]:
            raise _Refused([FieldError(self._name, NUL_MESSAGE)])
