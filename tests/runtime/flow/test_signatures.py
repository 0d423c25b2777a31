"""Signature fields, and approval steps that require a signature."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image as Pillow

from tests.builders import admin_client, field, message_at, problem
from tests.conftest import DATABASES
from tests.runtime.flow.office import REQUEST_FIELDS, Office, Person, approval, users


@pytest.fixture(scope="module", params=DATABASES)
def api(request, tmp_path_factory):
    with admin_client(request.param, tmp_path_factory.mktemp("signatures")) as client:
        yield client


@pytest.fixture
def office(api):
    office = Office(api)
    office.publish_form(*REQUEST_FIELDS, field("sign", "signature"), field("photos", "image"))
    return office


def drawn(size: tuple[int, int] = (600, 200), fmt: str = "PNG") -> bytes:
    image = Pillow.new("RGBA", size, (0, 0, 0, 0))
    for x in range(20, size[0] - 20):
        image.putpixel((x, size[1] // 2 + (x % 40) - 20), (0, 0, 0, 255))
    out = io.BytesIO()
    (image if fmt != "JPEG" else image.convert("RGB")).save(out, fmt)
    return out.getvalue()


def files_url(office: Office) -> str:
    return office.url.replace("/records", "/files")


def upload(office: Office, person: Person, content: bytes, **params: Any) -> Any:
    params = {"field": "sign", **params}
    return person.client.post(files_url(office), params=params, files={"file": ("signature.png", content)})


def signing_flow(office: Office, boss: Person) -> None:
    office.publish_flow(approval("head", users(boss), signature="required", fields={"sign": "editable"}))


# ------------------------------------------------------------------ the field


def test_a_signature_is_one_small_png(office):
    clerk = office.person("clerk")
    office.grant(clerk)
    file = upload(office, clerk, drawn())
    assert file.status_code == 201, file.text
    assert file.json()["content_type"] == "image/png"
    record = office.record(clerk, sign=file.json()["id"])  # one id alone is taken
    assert [f["id"] for f in record["sign"]] == [file.json()["id"]]

    problem(upload(office, clerk, drawn(fmt="JPEG")), 415, "sign")
    problem(upload(office, clerk, drawn(fmt="GIF")), 415, "sign")
    body = problem(upload(office, clerk, drawn((3000, 200))), 422, "sign")
    assert "at most 2400 × 1200" in message_at(body, "sign")
    noisy = Pillow.frombytes("RGB", (800, 400), bytes(range(256)) * 3750)
    big = io.BytesIO()
    noisy.save(big, "PNG", compress_level=0)
    problem(upload(office, clerk, big.getvalue()), 413, "sign")

    two = [upload(office, clerk, drawn()).json()["id"] for _ in range(2)]
    body = problem(clerk.client.post(office.url, json={"title": "Two", "sign": two}), 422, "sign")
    assert "at most 1" in message_at(body, "sign")


def test_a_signature_is_served_small_too(office):
    clerk = office.person("clerk")
    office.grant(clerk)
    file = upload(office, clerk, drawn()).json()
    thumb = clerk.client.get(f"{files_url(office)}/{file['id']}", params={"size": "thumb"})
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/png"
    assert Pillow.open(io.BytesIO(thumb.content)).size == (240, 80)
    problem(clerk.client.get(f"{files_url(office)}/{file['id']}", params={"size": "medium"}), 422, "size")


# ------------------------------------------------------------------ approval steps


def test_an_approval_that_requires_a_signature_is_refused_without_one_and_shows_it_when_signed(office):
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)  # the boss holds no role on the form: the task lets them upload
    signing_flow(office, boss)
    record = office.submitted(clerk)
    task = boss.task()

    body = problem(boss.act("approve", {"comment": "ok"}, task=task), 422, "values.sign")
    assert f"task={task}" in message_at(body, "values.sign")
    problem(boss.act("approve", {"values": {"note": "x"}}, task=task), 403, "values.note")
    problem(upload(office, boss, drawn()), 403)  # without the task, no role lets them upload
    problem(upload(office, boss, drawn(), field="photos", task=task), 403, "photos")  # not editable here
    problem(upload(office, boss, drawn(), task=task + 1000), 404)

    signature = upload(office, boss, drawn(), task=task)
    assert signature.status_code == 201, signature.text
    sign_id = signature.json()["id"]
    assert office.status(record) == "in_review"
    answer = boss.act("approve", {"comment": "signed", "values": {"sign": [sign_id]}}, task=task)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "approved"

    done = office.read(record)
    assert [f["id"] for f in done["sign"]] == [sign_id]
    [approved] = [e for e in office.events(record) if e["action"] == "approved" and e["actor_id"]]
    after = approved["detail"]["changes"]["sign"]["after"]
    assert [(f["id"], f["content_type"]) for f in after] == [(sign_id, "image/png")]
    shown = clerk.client.get(f"{files_url(office)}/{sign_id}", params={"size": "thumb"})
    assert shown.status_code == 200, shown.text  # readers of the record see the signature


def test_reject_needs_no_signature_and_an_old_signature_does_not_sign_again(office):
    boss, other, clerk = office.people("boss", "other", "clerk")
    office.grant(clerk)
    office.publish_flow(
        approval("first", users(boss), signature="required", fields={"sign": "editable"}),
        approval("second", users(other), signature="required", fields={"sign": "editable"}),
    )
    record = office.submitted(clerk)
    first = boss.task()
    sign_id = upload(office, boss, drawn(), task=first).json()["id"]
    assert boss.act("approve", {"values": {"sign": sign_id}}, task=first).status_code == 200
    second = other.task()
    problem(other.act("approve", {"values": {"sign": [sign_id]}}, task=second), 422, "values.sign")
    problem(other.act("approve", None, task=second), 422, "values.sign")
    assert other.act("reject", {"comment": "no"}, task=second).status_code == 200
    assert office.status(record) == "rejected"


def test_a_step_that_requires_a_signature_must_name_one_signature_field(office):
    boss = office.person("boss")
    for fields in ({}, {"note": "editable"}, {"sign": "readonly"}):
        saved = office.save_flow(
            [
                {"id": "start", "type": "start", "next": "head"},
                approval("head", users(boss), signature="required", fields=fields, next="end"),
                {"id": "end", "type": "end"},
            ]
        )
        assert "nodes[1].signature" in {p["path"] for p in saved["problems"]}, saved["problems"]
    bad = office.admin.put(
        office.flow_url(),
        json=office.flow_document(
            [
                {"id": "start", "type": "start", "next": "head"},
                approval("head", users(boss), signature="maybe", next="end"),
                {"id": "end", "type": "end"},
            ]
        ),
    )
    assert bad.status_code == 200, bad.text
    assert "nodes[1].signature" in {p["path"] for p in bad.json()["problems"]}


def test_the_task_page_offers_a_signature_pad_that_uploads_for_the_task(office):
    boss, clerk = office.people("boss", "clerk")
    office.grant(clerk)
    signing_flow(office, boss)
    record = office.submitted(clerk)
    task = boss.task()
    page = boss.client.get(f"/tasks/{task}")
    assert page.status_code == 200, page.text
    html = page.text
    assert 'data-widget="signature"' in html and "<canvas" in html
    assert f'data-upload="{files_url(office)}?field=sign&amp;task={task}"' in html
    sign_id = upload(office, boss, drawn(), task=task).json()["id"]
    assert boss.act("approve", {"values": {"sign": [sign_id]}}, task=task).status_code == 200
    shown = office.admin.get(f"/apps/office/forms/{office.form_key}/records/{record['id']}")
    assert shown.status_code == 200, shown.text
    thumb = f"{files_url(office)}/{sign_id}?size=thumb"
    assert shown.text.count(f'src="{thumb}"') == 2  # the field, and the approval in the timeline


def test_the_apps_openapi_document_offers_the_task_parameter_for_uploads(office):
    signing_flow(office, office.person("boss"))
    document = office.admin.get("/api/apps/office/openapi.json").json()
    upload = document["paths"][f"{files_url(office)}"]["post"]
    names = [p["name"] for p in upload["parameters"]]
    assert names == ["field", "task"]
    assert "sign" in upload["parameters"][0]["schema"]["enum"]
