"""url: a web address starting with http:// or https://."""

from __future__ import annotations

from datetime import UTC, tzinfo
from typing import Any
from urllib.parse import urlsplit

from opsloom.runtime.fields.base import FieldSpec, Invalid, Schema, Shape
from opsloom.runtime.fields.text import TEXT_FAMILY, Text


class Url(Text):
    name = "url"
    label = {"en": "Web address", "zh-CN": "网址"}
    default_length = 2048
    expected = "a web address"
    widget = "url"
    client_kind = "url"
    lossless_to = TEXT_FAMILY - {"email", "phone"}

    def example(self, spec: FieldSpec) -> Any:
        return "https://example.com/quote"

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        text = super().parse(spec, value)
        if text is None:
            return None
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc or " " in text:
            raise Invalid(f"{text!r} is not a web address starting with http:// or https://")
        return text

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        return {**super().openapi_schema(spec, shape), "format": "uri", "pattern": "^https?://"}
