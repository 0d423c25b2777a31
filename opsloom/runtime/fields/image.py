"""image: pictures (JPEG, PNG, WebP, GIF) uploaded with POST .../files?field=KEY and kept,
like an attachment's, as a list of {"id", "name", "size", "content_type"}.

An upload is judged by its content with Pillow, never by its name or declared type.
It is then written again without its metadata (EXIF with its GPS position, XMP,
comments), the orientation the EXIF gave applied to the pixels first, so a photo
keeps the way up it was taken and nothing else about where or how. Smaller copies
(`renditions`) are made on the first request for them and kept next to the file.
A picture of more pixels than Pillow's MAX_IMAGE_PIXELS (a decompression bomb) is
refused before its pixels are read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image as Pillow
from PIL import ImageSequence, UnidentifiedImageError

from opsloom.runtime.fields.attachment import Attachment
from opsloom.runtime.fields.base import FieldSpec, Invalid, NotTaken, Schema

# Pillow's format name -> (content type, the extension a kept name ends with, the extensions that mean it).
FORMATS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "JPEG": ("image/jpeg", ".jpg", (".jpg", ".jpeg", ".jpe", ".jfif")),
    "PNG": ("image/png", ".png", (".png",)),
    "WEBP": ("image/webp", ".webp", (".webp",)),
    "GIF": ("image/gif", ".gif", (".gif",)),
}
BY_TYPE = {content_type: fmt for fmt, (content_type, _, _) in FORMATS.items()}
# Formats Pillow names apart that are kept as one of FORMATS: a phone's JPEG with a depth map or preview is MPO.
SAME_AS = {"MPO": "JPEG"}
# The format of a picture's smaller copies, by its own format: PNG and GIF become PNG.
RENDITION_FORMATS = {"JPEG": "JPEG", "WEBP": "WEBP", "PNG": "PNG", "GIF": "PNG"}
# Per-frame keys that are part of the picture itself (palette transparency, animation, the colour
# profile its pixels are in); every other key goes.
KEPT_INFO = ("transparency", "duration", "loop", "background", "disposal", "icc_profile")
MAX_FRAMES = 500


class Image(Attachment):
    name = "image"
    label = {"en": "Images", "zh-CN": "图片"}
    widget = "images"
    judges_content = True
    upload_bytes = 10 * 1024 * 1024
    renditions: ClassVar[Mapping[str, int]] = {"thumb": 240, "medium": 1024}
    not_in_rows = "rows cannot hold files; put the image field on the form itself"
    lossless_to = frozenset({"image", "attachment"})
    what: ClassVar[str] = "a picture (JPEG, PNG, WebP or GIF)"
    properties: ClassVar[Schema] = {
        "properties": {
            "max_files": {
                "type": "integer",
                "minimum": 1,
                "maximum": 100,
                "description": "How many pictures a record may hold (default 10)",
            },
            "max_size": {
                "type": "integer",
                "minimum": 1,
                "description": "Largest picture in bytes (default 10 MiB); OPSLOOM_MAX_UPLOAD_BYTES caps it",
            },
            "default": {"type": "null", "description": "An image field takes no default"},
            "unique": {"const": False},
        }
    }

    # ------------------------------------------------------------ uploads

    def receive(self, spec: FieldSpec, path: Path, name: str) -> tuple[str, str] | None:
        with open_picture(path, self.what) as picture:
            fmt = SAME_AS.get(str(picture.format), str(picture.format))
            if fmt not in self.formats():
                raise NotTaken(f"is a {fmt} picture; {spec.key} takes {self.what}")
            self.check_picture(picture)
            frames = clean_frames(picture, still=fmt == "JPEG")
        write_atomically(path, lambda out: save(frames, fmt, out))
        content_type, extension, extensions = FORMATS[fmt]
        return named(name, extension, extensions), content_type

    def formats(self) -> tuple[str, ...]:
        return tuple(FORMATS)

    def check_picture(self, picture: Pillow.Image) -> None:
        """Limits of this type beyond the format (a signature's size in pixels)."""

    def rendition_type(self, content_type: str) -> str:
        return FORMATS[RENDITION_FORMATS.get(BY_TYPE.get(content_type, "PNG"), "PNG")][0]

    def render(self, source: Path, target: Path, longest: int) -> None:
        with open_picture(source, self.what) as picture:
            own = SAME_AS.get(str(picture.format), str(picture.format))
            fmt = RENDITION_FORMATS.get(own, "PNG")
            try:
                picture.seek(0)
                frame = picture.convert("RGB") if fmt == "JPEG" else _with_alpha(picture)
                frame.thumbnail((longest, longest), Pillow.Resampling.LANCZOS)
            except (OSError, ValueError, SyntaxError, EOFError):
                raise Invalid("is a picture that cannot be read in full") from None
        write_atomically(target, lambda out: frame.save(out, fmt, **SAVE_OPTIONS[fmt]))


SAVE_OPTIONS: dict[str, dict[str, Any]] = {
    "JPEG": {"quality": 88, "optimize": True},
    "PNG": {"optimize": True},
    "WEBP": {"quality": 88},
    "GIF": {},
}


class open_picture:  # noqa: N801 - used as a context manager, like open()
    """A file opened as a picture, its header read; `Invalid` when it is none or too large to decode."""

    def __init__(self, path: Path, what: str) -> None:
        self.path, self.what = path, what
        self.picture: Pillow.Image | None = None

    def __enter__(self) -> Pillow.Image:
        try:
            self.picture = Pillow.open(self.path)
        except (Pillow.DecompressionBombError, Pillow.DecompressionBombWarning):
            raise Invalid(too_many_pixels()) from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            raise NotTaken(f"is not {self.what}; choose a picture file") from None
        width, height = self.picture.size
        if Pillow.MAX_IMAGE_PIXELS and width * height > Pillow.MAX_IMAGE_PIXELS:
            self.picture.close()
            raise Invalid(too_many_pixels(width, height))
        return self.picture

    def __exit__(self, *exc: object) -> None:
        if self.picture is not None:
            self.picture.close()


def too_many_pixels(width: int | None = None, height: int | None = None) -> str:
    size = f" ({width} × {height})" if width else ""
    return f"has too many pixels{size}; pictures of at most {Pillow.MAX_IMAGE_PIXELS} pixels are taken"


def clean_frames(picture: Pillow.Image, *, still: bool = False) -> list[Pillow.Image]:
    """The picture's frames (the first alone when `still`), turned the way its EXIF orientation says,
    as new images that carry no metadata (only palette transparency and the animation's timing)."""
    frames = []
    try:
        orientation = picture.getexif().get(0x0112)
        for i, frame in enumerate(ImageSequence.Iterator(picture)):
            if still and i > 0:
                break
            if i >= MAX_FRAMES:
                raise Invalid(f"has more than {MAX_FRAMES} frames")
            frame.load()
            copy = Pillow.frombytes(frame.mode, frame.size, frame.tobytes())
            if frame.mode in ("P", "PA") and (palette := frame.getpalette()):
                copy.putpalette(palette)
            if orientation in TURNS:
                copy = copy.transpose(TURNS[orientation])
            copy.info.update({k: frame.info[k] for k in KEPT_INFO if k in frame.info})
            frames.append(copy)
    except (Pillow.DecompressionBombError, Pillow.DecompressionBombWarning):
        raise Invalid(too_many_pixels()) from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise Invalid("is a damaged picture that cannot be read in full; choose another file") from None
    return frames


TURNS = {
    2: Pillow.Transpose.FLIP_LEFT_RIGHT,
    3: Pillow.Transpose.ROTATE_180,
    4: Pillow.Transpose.FLIP_TOP_BOTTOM,
    5: Pillow.Transpose.TRANSPOSE,
    6: Pillow.Transpose.ROTATE_270,
    7: Pillow.Transpose.TRANSVERSE,
    8: Pillow.Transpose.ROTATE_90,
}


def save(frames: list[Pillow.Image], fmt: str, out: Any) -> None:
    first, rest = frames[0], frames[1:]
    options: dict[str, Any] = dict(SAVE_OPTIONS[fmt])
    options |= {k: first.info[k] for k in ("transparency", "icc_profile") if k in first.info}
    if rest and fmt in ("GIF", "WEBP", "PNG"):
        options |= {"save_all": True, "append_images": rest}
        options |= {k: first.info[k] for k in ("duration", "loop") if k in first.info}
    if fmt == "JPEG" and first.mode not in ("RGB", "L", "CMYK"):
        first = first.convert("RGB")
    first.save(out, fmt, **options)


def _with_alpha(picture: Pillow.Image) -> Pillow.Image:
    return picture.convert(
        "RGBA" if picture.mode in ("P", "PA", "LA", "RGBA") or "transparency" in picture.info else "RGB"
    )


def named(name: str, extension: str, extensions: tuple[str, ...]) -> str:
    """The uploaded name, ending with an extension that says what the content is."""
    stem, current = os.path.splitext(name)
    if current.lower() in extensions:
        return name
    return (name if current.lower() not in KNOWN_IMAGE_EXTENSIONS else stem)[: 255 - len(extension)] + extension


KNOWN_IMAGE_EXTENSIONS = frozenset(e for _, _, es in FORMATS.values() for e in es) | {".bmp", ".tif", ".tiff", ".heic"}


def write_atomically(path: Path, write: Any) -> None:
    """Write a file through a temporary one moved into place, so a reader never sees half of it."""
    partial = path.with_name(path.name + ".tmp" + os.urandom(4).hex())
    try:
        with open(partial, "xb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
