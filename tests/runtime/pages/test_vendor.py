"""Third-party scripts from npm at /vendor/: only the allow-listed names, as JavaScript, cacheable."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from opsloom.app import create_app
from opsloom.platform.settings import Settings
from opsloom.runtime.pages.vendor import VENDOR_FILES


def test_sortable_is_served_as_javascript(client: TestClient) -> None:
    response = client.get("/vendor/sortable.esm.js")
    assert response.status_code == 200, (response.text[:300], client.app.state.settings.vendor_dir)
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "max-age=" in response.headers["cache-control"]
    assert "export default Sortable" in response.text


def test_unknown_names_and_other_npm_files_are_not_found(client: TestClient) -> None:
    for name in ("sortable.js", "..%2Fsortablejs%2Fpackage.json", "package.json"):
        response = client.get(f"/vendor/{name}")
        assert response.status_code == 404, name
    assert client.get("/vendor/sortablejs/package.json").status_code == 404


def test_a_missing_node_modules_is_not_found(settings: Settings, tmp_path: Path) -> None:
    empty = settings.model_copy(update={"vendor_dir": tmp_path / "no-node-modules"})
    with TestClient(create_app(empty), raise_server_exceptions=False) as anonymous:
        response = anonymous.get("/vendor/sortable.esm.js")
    assert response.status_code == 404
    assert "npm ci" in response.json()["detail"]


def test_every_allow_listed_file_is_in_the_lock_file() -> None:
    lock = (Path(__file__).parents[3] / "package-lock.json").read_text()
    for relative in VENDOR_FILES.values():
        package = relative.split("/")[0]
        assert f'"node_modules/{package}"' in lock, package


def test_api_docs_work_offline_with_swagger_ui_from_npm(anonymous: TestClient) -> None:
    page = anonymous.get("/api/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'src="/vendor/swagger-ui-bundle.js"' in page.text and 'href="/vendor/swagger-ui.css"' in page.text
    assert 'data-document="/api/openapi.json"' in page.text
    assert "script-src 'self';" in page.headers["content-security-policy"]  # no CDN, no inline script
    for name, kind in (("swagger-ui-bundle.js", "text/javascript"), ("swagger-ui.css", "text/css")):
        served = anonymous.get(f"/vendor/{name}")
        assert served.status_code == 200 and served.headers["content-type"].startswith(kind), name
    assert "SwaggerUIBundle" in anonymous.get("/vendor/swagger-ui-bundle.js").text


def test_api_docs_show_an_apps_document_and_ignore_a_bad_key(anonymous: TestClient) -> None:
    assert 'data-document="/api/apps/procurement/openapi.json"' in anonymous.get("/api/docs?app=procurement").text
    bad = anonymous.get("/api/docs", params={"app": '"><script>x</script>'})
    assert bad.status_code == 200 and 'data-document="/api/openapi.json"' in bad.text and "<script>x" not in bad.text


def test_the_signature_pad_is_served_as_a_module(client: TestClient) -> None:
    response = client.get("/vendor/signature_pad.js")
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "SignaturePad as default" in response.text


def test_preact_with_htm_is_served_as_a_module(client: TestClient) -> None:
    """Its npm file ends in .mjs: a browser loads a module only when it is served as JavaScript."""
    response = client.get("/vendor/preact-htm.js")
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
