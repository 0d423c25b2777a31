"""multipart/form-data read as a stream of events, so that a file goes to disk as it arrives.

Starlette's `request.form()` reads a whole body before the route sees any of
it; an upload route needs the file's name first (to refuse a wrong type before
storing a byte) and its bytes one chunk at a time (to stop at the size limit).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from opsloom.platform.errors import BadRequest, FieldError, UnsupportedMediaType


@dataclass(frozen=True)
class PartStart:
    name: str
    filename: str | None  # None for a plain form field


@dataclass(frozen=True)
class PartData:
    data: bytes


@dataclass(frozen=True)
class PartEnd:
    pass


Event = PartStart | PartData | PartEnd


def _malformed(detail: str) -> BadRequest:
    return BadRequest(detail, [FieldError("$", "send a multipart/form-data body, e.g. curl -F file=@report.pdf")])


class PartHeaders:
    """python-multipart's header callbacks, gathering each part's Content-Disposition: a reader of
    parts subclasses it and reads `disposition()` when a part's headers are finished."""

    def __init__(self) -> None:
        self._field = self._value = self._disposition = b""

    def header_callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
        }

    def disposition(self) -> dict[bytes, bytes]:
        """The part's Content-Disposition parameters: `name`, and `filename` for a file."""
        _, options = parse_options_header(self._disposition)
        return options

    def _part_begin(self) -> None:
        self._disposition = b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        if self._field.lower() == b"content-disposition":
            self._disposition = self._value
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        raise NotImplementedError


class _Collector(PartHeaders):
    """The parser's callbacks, turned into events for the async reader to hand out."""

    def __init__(self, charset: str) -> None:
        super().__init__()
        self.charset = charset
        self.events: list[Event] = []
        self.complete = False

    def callbacks(self) -> Any:
        return {
            **self.header_callbacks(),
            "on_part_data": self._part_data,
            "on_part_end": lambda: self.events.append(PartEnd()),
            "on_end": self._end,
        }

    def _headers_finished(self) -> None:
        options = self.disposition()
        if b"name" not in options:
            raise _malformed("A part of the multipart body has no name")
        filename = options.get(b"filename")
        self.events.append(
            PartStart(self._decode(options[b"name"]), None if filename is None else self._decode(filename))
        )

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        self.events.append(PartData(bytes(data[start:end])))

    def _end(self) -> None:
        self.complete = True

    def _decode(self, raw: bytes) -> str:
        # Browsers and HTTP clients send names as raw UTF-8 (RFC 7578); the header arrives as latin-1.
        try:
            return raw.decode(self.charset)
        except (UnicodeDecodeError, LookupError):
            return raw.decode("latin-1")


async def multipart_events(content_type: str, body: AsyncIterator[bytes]) -> AsyncGenerator[Event, None]:
    """The parts of a multipart/form-data body: each a PartStart, its data, and a PartEnd."""
    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        raise UnsupportedMediaType(
            "Send the file as multipart/form-data",
            [FieldError("file", "send a multipart/form-data body with a part named file")],
        )
    boundary = params.get(b"boundary")
    if not boundary:
        raise _malformed("The multipart body has no boundary in its Content-Type")
    collector = _Collector(params.get(b"charset", b"utf-8").decode("latin-1"))
    parser = MultipartParser(boundary, collector.callbacks())
    async for chunk in body:
        try:
            parser.write(chunk)
        except FormParserError:
            raise _malformed("The multipart body is malformed") from None
        for item in collector.events:
            yield item
        collector.events.clear()
    if not collector.complete:
        raise _malformed("The multipart body ended before its closing boundary; send it again")
