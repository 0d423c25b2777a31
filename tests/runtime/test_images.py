"""Image fields: pictures judged by content, their metadata dropped, served at smaller sizes."""

from __future__ import annotations

import csv
import io
import re
import struct
import zlib
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image as Pillow
from sqlalchemy import select

from opsloom.platform import tables
from tests.builders import create, field, form, message_at, problem, publish_app, records_url
from tests.conftest import query

APP = "site"
URL = records_url(APP, "visit")
FILES = f"/api/apps/{APP}/forms/visit/files"
GPS_LATITUDE = 2  # GPSLatitude in the GPS IFD
GPS_IFD = 0x8825
ORIENTATION = 0x0112


def publish(client: TestClient, **photos: Any) -> None:
    visit = form(
        "visit",
        field("title", required=True),
        field("photos", "image", **photos),
        field("docs", "attachment"),
        title_field="title",
    )
    publish_app(client, APP, visit)


def picture(fmt: str = "PNG", size: tuple[int, int] = (40, 20), **save: Any) -> bytes:
    image = Pillow.new("RGB", size, (200, 30, 30))
    image.paste((20, 20, 220), (0, 0, size[0] // 2, size[1]))  # left half blue: shows which way is up
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def photo_with_gps(orientation: int = 6) -> bytes:
    """A JPEG 40 × 20 as stored, whose EXIF says: turn it 90° (6) and it was taken at a place."""
    exif = Pillow.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(GPS_IFD)[GPS_LATITUDE] = (31.0, 14.0, 0.0)
    exif.get_ifd(GPS_IFD)[1] = "N"
    return picture("JPEG", exif=exif.tobytes(), comment=b"secret place")


def upload(client: TestClient, content: bytes, name: str = "photo.png", key: str = "photos") -> Any:
    return client.post(FILES, params={"field": key}, files={"file": (name, content, "application/octet-stream")})


def uploaded(client: TestClient, content: bytes, name: str = "photo.png") -> dict[str, Any]:
    response = upload(client, content, name)
    assert response.status_code == 201, response.text
    return response.json()


def opened(content: bytes) -> Pillow.Image:
    image = Pillow.open(io.BytesIO(content))
    image.load()
    return image


def test_a_picture_is_judged_by_its_content_and_named_for_it(client):
    publish(client)
    png = uploaded(client, picture("PNG"), "holiday.jpg")  # the name lies; the content decides
    assert png["content_type"] == "image/png" and png["name"] == "holiday.png"
    webp = uploaded(client, picture("WEBP"), "scan")
    assert webp["content_type"] == "image/webp" and webp["name"] == "scan.webp"
    gif = uploaded(client, picture("GIF"), "anim.gif")
    assert gif["content_type"] == "image/gif" and gif["name"] == "anim.gif"
    jpeg = uploaded(client, picture("JPEG"), "IMG_1.JPEG")
    assert jpeg["content_type"] == "image/jpeg" and jpeg["name"] == "IMG_1.JPEG"

    record = create(client, URL, title="Site visit", photos=[png["id"], jpeg["id"]])
    assert [p["content_type"] for p in record["photos"]] == ["image/png", "image/jpeg"]
    download = client.get(f"{FILES}/{png['id']}")
    assert download.status_code == 200 and download.headers["content-type"] == "image/png"
    assert opened(download.content).size == (40, 20)


def test_what_is_not_a_picture_is_refused_whatever_its_name(client):
    publish(client)
    body = problem(upload(client, b"%PDF-1.4\n" + bytes(range(256)), "scan.png"), 415, "photos")
    assert "JPEG, PNG, WebP or GIF" in message_at(body, "photos")
    problem(upload(client, picture("BMP"), "scan.bmp"), 415, "photos")
    problem(upload(client, picture("TIFF"), "scan.png"), 415, "photos")
    problem(upload(client, picture("PNG")[:60], "cut.png"), 422, "photos")  # a damaged picture
    assert query(client, select(tables.files)) == []


def test_exif_and_other_metadata_are_dropped_and_the_orientation_applied(client):
    publish(client)
    raw = photo_with_gps()
    assert opened(raw).getexif().get_ifd(GPS_IFD)  # the test picture does carry a position
    file = uploaded(client, raw, "IMG_0001.jpg")
    stored = client.get(f"{FILES}/{file['id']}").content
    assert file["size"] == len(stored) and file["sha256"] != ""
    image = opened(stored)
    assert image.format == "JPEG"
    assert image.size == (20, 40)  # turned upright, as the camera said
    assert not image.getexif() and "exif" not in image.info and "comment" not in image.info
    assert b"PhoneMaker" not in stored and b"secret place" not in stored
    top, bottom = image.getpixel((10, 2)), image.getpixel((10, 37))
    assert top[2] > 150 and bottom[0] > 150  # blue (the left half) is now on top: turned 90° clockwise


def test_the_colour_profile_is_kept(client):
    from PIL import ImageCms

    publish(client)
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Pillow.Exif()
    exif[0x010F] = "PhoneMaker"
    file = uploaded(client, picture("JPEG", icc_profile=profile, exif=exif.tobytes()), "p3.jpg")
    image = opened(client.get(f"{FILES}/{file['id']}").content)
    assert image.info.get("icc_profile") == profile and not image.getexif()


def test_png_text_chunks_and_webp_exif_are_dropped_too(client):
    from PIL import PngImagePlugin

    publish(client)
    chunks = PngImagePlugin.PngInfo()
    chunks.add_text("Comment", "taken at home")
    png = client.get(f"{FILES}/{uploaded(client, picture('PNG', pnginfo=chunks))['id']}").content
    assert b"taken at home" not in png and opened(png).text == {}
    exif = Pillow.Exif()
    exif[0x010F] = "PhoneMaker"
    webp = client.get(f"{FILES}/{uploaded(client, picture('WEBP', exif=exif.tobytes()), 'a.webp')['id']}").content
    assert b"PhoneMaker" not in webp


def test_smaller_sizes_are_made_once_kept_next_to_the_file_and_bounded(client):
    publish(client)
    file = uploaded(client, picture("JPEG", size=(3000, 1500)), "wide.jpg")
    thumb = client.get(f"{FILES}/{file['id']}", params={"size": "thumb"})
    assert thumb.status_code == 200, thumb.text
    assert thumb.headers["content-type"] == "image/jpeg"
    assert thumb.headers["content-disposition"].startswith("inline;")
    assert opened(thumb.content).size == (240, 120)
    medium = client.get(f"{FILES}/{file['id']}", params={"size": "medium"})
    assert opened(medium.content).size == (1024, 512)
    root = client.app.state.settings.files_dir
    variants = sorted(p.name.split("~")[1] for p in root.rglob("*~*"))
    assert variants == ["medium", "thumb"]
    again = client.get(f"{FILES}/{file['id']}", params={"size": "thumb"})
    assert again.content == thumb.content
    problem(client.get(f"{FILES}/{file['id']}", params={"size": "huge"}), 422, "size")
    problem(client.get(f"{FILES}/{file['id']}", params={"size": "../../x"}), 400, "size")
    small = uploaded(client, picture("GIF"), "small.gif")
    shown = client.get(f"{FILES}/{small['id']}", params={"size": "medium"})
    assert shown.headers["content-type"] == "image/png" and opened(shown.content).size == (40, 20)  # never enlarged


def test_an_attachment_file_has_no_smaller_sizes(client):
    publish(client)
    doc = client.post(FILES, params={"field": "docs"}, files={"file": ("a.png", picture("PNG"))}).json()
    problem(client.get(f"{FILES}/{doc['id']}", params={"size": "thumb"}), 422, "size")


def test_too_many_pixels_is_a_clear_422_never_a_500(client, monkeypatch):
    publish(client)
    monkeypatch.setattr(Pillow, "MAX_IMAGE_PIXELS", 1000)
    for pixels in ((40, 30), (100, 100)):  # over the limit, and over twice the limit (Pillow's own error)
        body = problem(upload(client, picture("PNG", size=pixels)), 422, "photos")
        assert "too many pixels" in message_at(body, "photos")
    assert query(client, select(tables.files)) == []


def test_a_picture_claiming_to_be_huge_is_refused_before_its_pixels_are_read(client):
    publish(client)
    body = problem(upload(client, png_header_only(100_000, 100_000), "bomb.png"), 422, "photos")
    assert "too many pixels" in message_at(body, "photos")


def png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_the_size_limit_and_the_number_of_pictures(client):
    publish(client, max_size=2000, max_files=2)
    problem(upload(client, picture("PNG", size=(400, 400), compress_level=0)), 413, "photos")
    ids = [uploaded(client, picture("PNG"))["id"] for _ in range(3)]
    body = problem(client.post(URL, json={"title": "Three", "photos": ids}), 422, "photos")
    assert "at most 2" in message_at(body, "photos")
    problem(client.post(URL, json={"title": "Bad", "photos": "x"}), 422, "photos")


def test_the_form_schema_and_checks_know_the_image_field(client):
    client.put(f"/api/design/apps/{APP}", json={"key": APP, "label": "Site"})
    draft = form("visit", field("title"), field("photos", "image", max_files=0, accept=[".png"], default=[1]))
    saved = client.put(f"/api/design/apps/{APP}/forms/visit", json=draft)
    assert saved.status_code == 200, saved.text
    paths = {p["path"] for p in saved.json()["problems"]}
    assert {"fields[1].max_files", "fields[1].default"} <= paths, paths


def test_export_writes_file_names_and_openapi_describes_the_sizes(client):
    publish(client)
    file = uploaded(client, picture("PNG"), "front.png")
    create(client, URL, title="Visit", photos=[file["id"]])
    exported = client.get(f"/api/apps/{APP}/forms/visit/export", params={"format": "csv", "locale": "en"})
    assert exported.status_code == 200, exported.text
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert "front.png" in rows[1]
    document = client.get(f"/api/apps/{APP}/openapi.json").json()
    schema = document["components"]["schemas"]
    visit = next(s for name, s in schema.items() if "photos" in s.get("properties", {}))
    assert "array" in visit["properties"]["photos"]["type"]
    download = document["paths"][f"/api/apps/{APP}/forms/visit/files/{{file_id}}"]["get"]
    assert {"name": "size", "in": "query"}.items() <= download["parameters"][0].items()
    assert download["parameters"][0]["schema"]["enum"] == ["medium", "thumb"]
    assert "422" in download["responses"]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_an_animated_or_transparent_picture_keeps_what_it_shows(client, fmt):
    publish(client)
    frames = [Pillow.new("RGBA", (16, 16), (255, 0, 0, 0)), Pillow.new("RGBA", (16, 16), (0, 255, 0, 255))]
    out = io.BytesIO()
    if fmt == "JPEG":
        frames[1].convert("RGB").save(out, fmt)
    else:
        frames[0].save(out, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    file = uploaded(client, out.getvalue(), f"a.{fmt.lower()}")
    image = opened(client.get(f"{FILES}/{file['id']}").content)
    if fmt != "JPEG":
        assert getattr(image, "n_frames", 1) == 2
    assert client.get(f"{FILES}/{file['id']}", params={"size": "thumb"}).status_code == 200


def test_purging_a_record_removes_its_pictures_and_their_smaller_copies(client):
    publish(client)
    file = uploaded(client, picture("JPEG", size=(600, 300)), "a.jpg")
    record = create(client, URL, title="Gone", photos=[file["id"]])
    assert client.get(f"{FILES}/{file['id']}", params={"size": "thumb"}).status_code == 200
    root = client.app.state.settings.files_dir
    assert len([p for p in root.rglob("*") if p.is_file()]) == 2
    assert client.delete(f"{URL}/{record['id']}").status_code in (200, 204)
    purged = client.delete(f"{URL}/{record['id']}", params={"purge": "true"})
    assert purged.status_code in (200, 204), purged.text
    assert [p for p in root.rglob("*") if p.is_file()] == []


def test_a_phones_jpeg_with_a_second_picture_inside_is_kept_as_one_jpeg(client):
    publish(client)
    main, depth = Pillow.new("RGB", (64, 48), (10, 120, 10)), Pillow.new("RGB", (32, 24), (0, 0, 0))
    out = io.BytesIO()
    main.save(out, "MPO", save_all=True, append_images=[depth])
    assert opened(out.getvalue()).format == "MPO"
    file = uploaded(client, out.getvalue(), "IMG_2001.JPG")
    assert file["content_type"] == "image/jpeg" and file["name"] == "IMG_2001.JPG"
    stored = opened(client.get(f"{FILES}/{file['id']}").content)
    assert stored.format == "JPEG" and stored.size == (64, 48) and getattr(stored, "n_frames", 1) == 1
    thumb = client.get(f"{FILES}/{file['id']}", params={"size": "thumb"})
    assert thumb.headers["content-type"] == "image/jpeg"


def test_the_list_shows_pictures_as_small_thumbnails_not_file_names(client):
    publish(client)
    files = [uploaded(client, picture("JPEG", size=(600, 300)), f"shot{i}.jpg") for i in range(5)]
    many = create(client, URL, title="Many", photos=[f["id"] for f in files])
    create(client, URL, title="None")
    client.cookies.set("opsloom_locale", "en")
    page = client.get(f"/apps/{APP}/forms/visit")
    assert page.status_code == 200, page.text
    html = page.text
    shown = re.findall(r'<li class="thumb"><img src="([^"]+)" alt="([^"]+)" loading="lazy"></li>', html)
    assert shown == [(f"{FILES}/{f['id']}?size=thumb", f["name"]) for f in files[:3]]
    assert 'aria-label="2 more pictures">+2</li>' in html
    assert "shot0.jpg, shot1.jpg" not in html  # the names are the pictures' alt text, not the cell
    thumb = client.get(shown[0][0])  # what the list's <img> loads: the kept small copy
    assert thumb.status_code == 200 and opened(thumb.content).size == (240, 120)
    assert f'href="/apps/{APP}/forms/visit/records/{many["id"]}"' in html
