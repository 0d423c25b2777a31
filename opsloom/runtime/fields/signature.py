"""signature: a handwritten signature drawn in the browser, uploaded as one PNG with
POST .../files?field=KEY and kept as a list of at most one file.

The upload is judged as an image's is (by content, its metadata dropped), and must
be a PNG of bounded size in bytes and pixels. An approval step can require one
(`"signature": "required"` on the node; runtime/flow/signing.py).
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from typing import Any, ClassVar

from PIL import Image as Pillow

from opsloom.runtime.fields.base import FieldSpec, Invalid, Schema, Shape
from opsloom.runtime.fields.image import Image


class Signature(Image):
    name = "signature"
    label = {"en": "Signature", "zh-CN": "手写签名"}
    signs = True
    widget = "signature"
    upload_bytes = 256 * 1024
    renditions = {"thumb": 240}
    not_in_rows = "rows cannot hold files; put the signature field on the form itself"
    lossless_to = frozenset({"signature", "image", "attachment"})
    what = "a PNG picture"
    MAX_WIDTH: ClassVar[int] = 2400
    MAX_HEIGHT: ClassVar[int] = 1200
    properties: ClassVar[Schema] = {
        "properties": {
            "max_size": {
                "type": "integer",
                "minimum": 1,
                "maximum": 256 * 1024,
                "description": "Largest signature in bytes (default and most: 256 KiB)",
            },
            "default": {"type": "null", "description": "A signature field takes no default"},
            "unique": {"const": False},
        }
    }

    def parse(self, spec: FieldSpec, value: Any, zone: tzinfo = UTC) -> Any:
        if not isinstance(value, list):
            value = [value]  # one signature: its id (or the object read back) alone is taken too
        return super().parse(spec, value, zone)

    def max_files(self, spec: FieldSpec) -> int:
        return 1

    def formats(self) -> tuple[str, ...]:
        return ("PNG",)

    def check_picture(self, picture: Pillow.Image) -> None:
        width, height = picture.size
        if width > self.MAX_WIDTH or height > self.MAX_HEIGHT:
            raise Invalid(f"is {width} × {height} pixels; a signature is at most {self.MAX_WIDTH} × {self.MAX_HEIGHT}")
        if getattr(picture, "n_frames", 1) > 1:
            raise Invalid("is an animated PNG; a signature is one still picture")

    def openapi_schema(self, spec: FieldSpec, shape: Shape) -> Schema:
        schema = super().openapi_schema(spec, shape)
        schema["description"] = "The signature: one PNG uploaded with POST .../files (its id alone is taken too)"
        return schema
