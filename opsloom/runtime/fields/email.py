"""email: an e-mail address; the domain is kept in lower case."""

from __future__ import annotations

import re
from datetime import UTC, tzinfo
from typing import Any

from opsloom.runtime.fields.base import FieldSpec, Invalid, Schema, Shape
from opsloom.runtime.fields.text import TEXT_FAMILY, Text

SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


class Email(Text):
    name = "email"
    label = {"en": "E-mail", "zh-CN": "邮箱"}
    default_length = 254
    expected = "an e-mail address"
    widget = "email"
    client_kind = "email"
    lossless_to = TEXT_FAMILY - {"phone", "url"}

    def example(self, spec: FieldSpec) -> Any:
        return "li.lei@example.com"

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        text = super().parse(spec, value)
        if text is None:
            return None
        if not SHAPE.match(text):
            raise Invalid(f"{text!r} is not an e-mail address like name@example.com")
        local, _, domain = text.rpartition("@")
        return f"{local}@{domain.lower()}"

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        return {**super().openapi_schema(spec, shape), "format": "email"}
