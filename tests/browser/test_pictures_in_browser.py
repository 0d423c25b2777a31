"""Pictures in a real browser: an image field's picker uploads and shows thumbnails (on the record's page
too), and an approver signs on a pad, by drawing with the pointer or by typing their name; at desktop
and phone widths, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image as Pillow
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.browser.conftest import ADMIN, DEPARTMENT_HEAD, DESKTOP, PASSWORD, PHONE, BrowserLog, LiveServer, log_in
from tests.builders import field, form, publish_app

pytestmark = pytest.mark.xdist_group("browser")

Screenshot = Callable[[Page, str], Path]
APP = "site"
RECORDS = f"/api/apps/{APP}/forms/visit/records"


def photo(colour: tuple[int, int, int], size: tuple[int, int] = (1200, 800)) -> bytes:
    image = Pillow.new("RGB", size, colour)
    image.paste((255, 255, 255), (0, 0, size[0] // 3, size[1] // 3))
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def admin(live_server: LiveServer) -> Iterator[httpx.Client]:
    """The demo's admin on the API, with a form of pictures and a flow whose step needs a signature."""
    with httpx.Client(base_url=live_server.url) as client:
        login = client.post("/api/auth/login", json={"email": ADMIN, "password": PASSWORD})
        assert login.status_code == 200, login.text
        client.headers["X-CSRF-Token"] = login.json()["csrf_token"]
        visit = form(
            "visit",
            field("title", required=True, label={"en": "Title", "zh-CN": "标题"}),
            field("photos", "image", label={"en": "Photos", "zh-CN": "照片"}),
            field("sign", "signature", label={"en": "Signature", "zh-CN": "签名"}),
            title_field="title",
        )
        publish_app(client, APP, visit)  # type: ignore[arg-type]
        yield client


def publish_signing_flow(admin: httpx.Client) -> None:
    head = admin.get("/api/users", params={"q": DEPARTMENT_HEAD}).json()["items"][0]["id"]
    # the head reads and edits visits (the form's live preview asks for that); the task lets them upload
    grant = {"create": "all", "read": "all", "update": "all"}
    role = {"app": APP, "key": "reviewer", "label": "Reviewer", "permissions": {"visit": grant}}
    assert admin.post("/api/roles", json=role).status_code == 200
    assert admin.post(f"/api/roles/{APP}/reviewer/members", json={"add": [head]}).status_code == 200
    flow = {
        "key": "visit_approval",
        "label": "Visit approval",
        "form": "visit",
        "nodes": [
            {"id": "start", "type": "start", "next": "head"},
            {
                "id": "head",
                "type": "approval",
                "label": {"en": "Head", "zh-CN": "负责人"},
                "approvers": [{"kind": "users", "users": [head]}],
                "signature": "required",
                "fields": {"sign": "editable"},
                "next": "end",
            },
            {"id": "end", "type": "end"},
        ],
    }
    saved = admin.put(f"/api/design/apps/{APP}/flows/visit_approval", json=flow)
    assert saved.status_code == 200 and saved.json()["problems"] == [], saved.text
    assert admin.post(f"/api/design/apps/{APP}/flows/visit_approval/publish").status_code == 200


def submitted(admin: httpx.Client, title: str) -> int:
    record = admin.post(RECORDS, json={"title": title})
    assert record.status_code == 201, record.text
    answer = admin.post(f"{RECORDS}/{record.json()['id']}/submit", json={})
    assert answer.status_code == 200, answer.text
    return int(record.json()["id"])


def loaded_images(page: Page, scope: str) -> int:
    """How many pictures under `scope` the browser has decoded (a broken thumbnail has no width)."""
    return page.eval_on_selector_all(
        f"{scope} img", "images => images.filter(i => i.complete && i.naturalWidth > 0).length"
    )


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_pictures_are_chosen_shown_as_thumbnails_and_saved(
    admin: httpx.Client,
    open_page: Callable[..., Page],
    screenshot: Screenshot,
    browser_log: BrowserLog,
    viewport: ViewportSize,
) -> None:
    page = open_page(viewport=viewport, locale="en")
    log_in(page, ADMIN)
    page.goto(f"/apps/{APP}/forms/visit/new")
    page.get_by_label("Title").fill("Site visit")
    photos = page.locator('[data-field="photos"]')
    photos.locator("input[type=file]").set_input_files(
        [
            {"name": "front.jpg", "mimeType": "image/jpeg", "buffer": photo((200, 40, 40))},
            {"name": "back.jpg", "mimeType": "image/jpeg", "buffer": photo((40, 40, 200))},
        ]
    )
    expect(photos.locator("[data-file-id] img")).to_have_count(2)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-field=photos] [data-file-id] img')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    screenshot(page, "chosen")
    photos.get_by_role("button", name="Remove back.jpg").click()
    expect(photos.locator("[data-file-id]")).to_have_count(1)
    with page.expect_navigation(url=lambda url: "/records/" in url):
        page.get_by_role("button", name="Save").click()

    record_id = int(page.url.split("/records/")[1].split("?")[0])
    saved = admin.get(f"{RECORDS}/{record_id}").json()
    assert [p["name"] for p in saved["photos"]] == ["front.jpg"]
    shown = page.locator('.record-field[data-field="photos"]')
    expect(shown.locator("img")).to_have_count(1)
    page.wait_for_function("() => document.querySelector('.record-field[data-field=photos] img').naturalWidth > 0")
    box = shown.locator("img").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]  # nothing sticks out
    screenshot(page, "record-page")
    assert browser_log.problems == [] and browser_log.csp_violations() == []


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_an_approver_signs_by_drawing_or_by_typing_their_name(
    admin: httpx.Client,
    open_page: Callable[..., Page],
    screenshot: Screenshot,
    browser_log: BrowserLog,
    viewport: ViewportSize,
) -> None:
    publish_signing_flow(admin)
    drawn_id = submitted(admin, "Drawn signature")
    typed_id = submitted(admin, "Typed signature")

    head = open_page(viewport=viewport, locale="en")
    log_in(head, DEPARTMENT_HEAD)
    open_task(head, "Drawn signature")
    sign = head.locator('[data-task-record] [data-field="sign"]')
    pad = sign.locator("canvas[data-pad]")
    expect(pad).to_be_visible()
    expect(sign.locator("[data-signature][data-pad-ready]")).to_have_count(1)

    # approving unsigned is refused at the field
    open_dialog(head, "approve").locator("[data-submit]").click()
    expect(sign.locator("[data-error]")).to_contain_text("is needed to approve at this step")

    head.locator("#dialog-approve [data-close]").click()
    pad.evaluate("canvas => canvas.scrollIntoView({block: 'center'})")  # above a phone's action bar
    box = pad.bounding_box()
    assert box is not None
    head.mouse.move(box["x"] + 20, box["y"] + box["height"] / 2)
    head.mouse.down()
    for step in range(1, 30):
        head.mouse.move(
            box["x"] + 20 + step * (box["width"] - 40) / 30, box["y"] + box["height"] / 2 + (step % 6 - 3) * 8
        )
    head.mouse.up()
    screenshot(head, "drawing")
    expect(sign.locator("[data-file-id]")).to_have_count(1)
    screenshot(head, "drawn")
    open_dialog(head, "approve").locator("[data-submit]").click()
    head.wait_for_url(re.compile(r"/tasks\?done=approved"))
    signed = admin.get(f"{RECORDS}/{drawn_id}").json()
    assert signed["status"] == "approved" and signed["sign"][0]["content_type"] == "image/png"

    # the keyboard alternative: the typed name is drawn and kept as the signature
    open_task(head, "Typed signature")
    sign = head.locator('[data-task-record] [data-field="sign"]')
    typed = sign.get_by_label("Or type your name to sign")
    typed.press_sequentially("Li Na")
    expect(sign.locator("[data-file-id]")).to_have_count(1)
    first = sign.locator("[data-file-id]").get_attribute("data-file-id")
    sign.get_by_role("button", name="Clear").click()
    expect(sign.locator("[data-file-id]")).to_have_count(0)
    expect(typed).to_have_value("")
    typed.press_sequentially("Li Na")
    expect(sign.locator("[data-file-id]")).to_have_count(1)
    assert sign.locator("[data-file-id]").get_attribute("data-file-id") != first
    screenshot(head, "typed")
    open_dialog(head, "approve").locator("[data-submit]").click()
    head.wait_for_url(re.compile(r"/tasks\?done=approved"))
    assert admin.get(f"{RECORDS}/{typed_id}").json()["status"] == "approved"

    # the record's page shows the signature as a picture
    head.goto(f"/apps/{APP}/forms/visit/records/{typed_id}")
    shown = head.locator('.record-field[data-field="sign"] img')
    expect(shown).to_have_count(1)
    head.wait_for_function("() => document.querySelector('.record-field[data-field=sign] img').naturalWidth > 0")
    signed_step = head.locator('.timeline [data-event="approved"] img')  # the approval shows what was signed
    expect(signed_step).to_have_count(1)
    head.wait_for_function("() => document.querySelector('.timeline [data-event=approved] img').naturalWidth > 0")
    assert head.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    screenshot(head, "record-with-signature")
    refused = [p for p in browser_log.problems if "status of 422" in p]
    assert len(refused) == 1 and [p for p in browser_log.problems if p not in refused] == [], browser_log.problems
    assert browser_log.csp_violations() == []


def open_task(page: Page, title: str) -> None:
    page.goto("/tasks")
    page.locator(".todo-item").filter(has_text=title).get_by_role("link", name=title).click()
    expect(page.locator("[data-task]")).to_be_visible()


def open_dialog(page: Page, action: str) -> object:
    page.locator(f"[data-open-dialog={action}]").click()
    dialog = page.locator(f"#dialog-{action}")
    expect(dialog).to_be_visible()
    return dialog


def test_the_picture_widgets_pass_axe(admin: httpx.Client, browser: Browser, live_server: LiveServer) -> None:
    from tests.browser.test_accessibility import violations

    for viewport in (DESKTOP, PHONE):
        context = browser.new_context(base_url=live_server.url, viewport=viewport, bypass_csp=True, locale="zh-CN")
        page = context.new_page()
        log_in(page, ADMIN)
        page.goto(f"/apps/{APP}/forms/visit/new")
        expect(page.locator("[data-signature][data-pad-ready]")).to_have_count(1)
        page.locator('[data-field="photos"] input[type=file]').set_input_files(
            [{"name": "front.jpg", "mimeType": "image/jpeg", "buffer": photo((200, 40, 40))}]
        )
        expect(page.locator('[data-field="photos"] [data-file-id] img')).to_have_count(1)
        assert violations(page) == [], viewport
        context.close()
