"""The template gallery through HTTP: the bundled templates, the plan before an install, the install, an upgrade
offered when a newer bundled version exists, conflicts chosen on the page."""

from __future__ import annotations

import copy
import re

import pytest
from fastapi.testclient import TestClient

from opsloom.designer.pages import template_gallery
from opsloom.designer.pages.template_gallery import Template, bundled_templates
from tests.conftest import another_client, create_user, log_in
from tests.runtime.pages.test_pages import assert_secure, token_in


def test_the_gallery_lists_the_bundled_templates_and_installs_one_after_its_plan(client: TestClient) -> None:
    client.cookies.set("opsloom_locale", "en")
    gallery = client.get("/design/templates")
    assert gallery.status_code == 200
    assert_secure(gallery)
    for name in ("CRM", "Projects", "Inventory", "Procurement"):
        assert f">{name}</h2>" in gallery.text
    crm = next(t for t in bundled_templates() if t.key == "crm").package
    reports, automations = len(crm["reports"]), len(crm["automations"])
    counts = (
        f"9 forms · 3 roles · 2 flows · {reports} reports · {automations} automations · Version {crm['app']['version']}"
    )
    assert counts in gallery.text
    assert "Dashboards: <span>Collections</span>, <span>Sales</span>" in gallery.text
    assert 'href="/design/templates/crm"' in gallery.text
    assert 'href="/design/templates"' in client.get("/design").text  # "start from a template"

    plan = client.get("/design/templates/crm")
    assert plan.status_code == 200 and "Install CRM: what will happen" in plan.text
    assert "New form Customer" in plan.text and "New flow Large deal review" in plan.text
    assert "3 sample records of Customer" in plan.text
    assert client.get("/api/design/apps/crm").status_code == 404  # the plan changed nothing

    token = token_in(plan.text)
    done = client.post(
        "/design/templates/crm",
        data={"csrf_token": token, "action": "apply", "sample_data": "on"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/design/templates?done=crm"
    after = client.get("/design/templates?done=crm").text
    assert "CRM is installed." in after and 'href="/apps/crm"' in after
    assert f"Installed: version {crm['app']['version']}" in after
    assert len(client.get("/api/apps/crm/forms/customer/records").json()["items"]) == 3


def test_without_sample_data_no_records_are_added(client: TestClient) -> None:
    token = token_in(client.get("/design/templates/inventory").text)
    done = client.post("/design/templates/inventory", data={"csrf_token": token, "action": "apply"})
    assert done.status_code == 200  # followed to the gallery
    assert client.get("/api/apps/inventory/forms/item/records").json()["items"] == []


def test_only_platform_admins_install_and_a_token_is_required(client: TestClient) -> None:
    create_user(client, "maker@example.com", "a-long-password-1")
    other = another_client(client)
    log_in(other, "maker@example.com", "a-long-password-1")
    other.cookies.set("opsloom_locale", "en")
    assert "Only platform admins may install templates" in other.get("/design/templates").text
    assert other.get("/design/templates/crm").status_code == 403
    refused = client.post("/design/templates/crm", data={"csrf_token": "nope", "action": "apply"})
    assert refused.status_code == 403
    assert client.get("/design/templates/nothing").status_code == 404


@pytest.fixture
def newer_crm(monkeypatch: pytest.MonkeyPatch) -> Template:
    """A bundled CRM 1.2.0 that renames the customer's name field."""
    templates = bundled_templates()
    crm = next(t for t in templates if t.key == "crm")
    package = copy.deepcopy(crm.package)
    package["manifest"] = {"key": "crm", "version": "1.2.0"}
    customer = next(f for f in package["forms"] if f["key"] == "customer")
    customer["fields"][0]["label"] = {"zh-CN": "客户全称", "en": "Company name"}
    newer = Template("crm", "1.2.0", package, crm.folder)
    monkeypatch.setattr(
        template_gallery, "bundled_templates", lambda: [newer if t.key == "crm" else t for t in templates]
    )
    return newer


def test_a_newer_bundled_version_is_offered_as_an_upgrade_with_its_conflicts(client: TestClient, newer_crm) -> None:
    client.cookies.set("opsloom_locale", "en")
    assert client.post("/api/packages/import", json=next(t for t in bundled_templates() if t.key == "crm").package)
    draft = client.get("/api/design/apps/crm/forms/customer").json()["draft"]
    draft["fields"][0]["label"]["en"] = "Client"
    assert client.put("/api/design/apps/crm/forms/customer", json=draft).status_code == 200
    assert client.post("/api/design/apps/crm/forms/customer/publish").status_code == 200

    gallery = client.get("/design/templates").text
    assert "Upgrade to 1.2.0…" in gallery
    plan = client.get("/design/templates/crm")
    assert "Upgrade CRM from 1.1.1 to 1.2.0: what will happen" in plan.text
    assert "At forms.customer.fields[cu_name].label.en" in plan.text
    assert re.search(r"Keep mine: Client", plan.text) and "Take the template&#39;s: Company name" in plan.text
    assert re.search(r'value="apply" class="button primary" disabled', plan.text)

    token = token_in(plan.text)
    path = "forms.customer.fields[cu_name].label.en"
    checked = client.post(
        "/design/templates/crm", data={"csrf_token": token, "action": "check", "p0": path, "r0": "keep_mine"}
    )
    assert checked.status_code == 200 and "At forms.customer" not in checked.text
    assert f'name="p100" value="{path}"' in checked.text
    done = client.post(
        "/design/templates/crm",
        data={"csrf_token": token, "action": "apply", "p100": path, "r100": "keep_mine"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    label = client.get("/api/design/apps/crm/forms/customer").json()["draft"]["fields"][0]["label"]
    assert label == {"zh-CN": "客户全称", "en": "Client"}  # theirs in Chinese, mine in English
    assert "Installed: version 1.2.0" in client.get("/design/templates").text


def test_each_template_shows_its_screenshots_in_the_pages_language(client: TestClient) -> None:
    for locale in ("en", "zh-CN"):
        client.cookies.set("opsloom_locale", locale)
        gallery = client.get("/design/templates").text
        for template in bundled_templates():
            shots = re.findall(rf'<img src="(/design/templates/{template.key}/screenshots/[^"]+)"', gallery)
            assert shots == [f"/design/templates/{template.key}/screenshots/{n}.{locale}.jpg" for n in (1, 2)]
            image = client.get(shots[0])
            assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
            assert image.content[:3] == b"\xff\xd8\xff"  # a JPEG
    # nothing but a template's own screenshots is served
    for name in ("../app.json", "1.fr.jpg", "app.json", "9.en.jpg"):
        assert client.get(f"/design/templates/crm/screenshots/{name}").status_code == 404
    assert client.get("/design/templates/nope/screenshots/1.en.jpg").status_code == 404


def test_screenshots_need_a_login_like_the_gallery(client: TestClient) -> None:
    visitor = another_client(client)
    answer = visitor.get("/design/templates/crm/screenshots/1.en.jpg", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
