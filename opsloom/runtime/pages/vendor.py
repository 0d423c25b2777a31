"""Third-party browser scripts from npm (`package.json`), served at `/vendor/{name}`.

Only the files named in `VENDOR_FILES` are served, from the `vendor_dir`
setting (the repository's `node_modules` after `npm ci`), so nothing else in
that folder is reachable. Pages must work without them: a page script that
imports one treats it as an enhancement, and a missing file is a plain 404.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response

from opsloom.platform.errors import NotFound
from opsloom.platform.http import settings_of

router = APIRouter(include_in_schema=False)

VENDOR_FILES = {  # URL name -> path under node_modules
    "echarts.esm.js": "echarts/dist/echarts.esm.min.js",  # charts of the report and dashboard pages only
    "preact-htm.js": "htm/preact/standalone.mjs",  # Preact, its hooks and htm in one module, no eval
    "signature_pad.js": "signature_pad/dist/signature_pad.js",
    "sortable.esm.js": "sortablejs/modular/sortable.esm.js",
    "swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
    "swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
}
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
CACHE_CONTROL = "public, max-age=86400"  # the names carry no version; a day keeps an upgrade visible soon


def vendor_file(vendor_dir: Path | None, name: str) -> Path | None:
    """The file behind an allow-listed name, or None when the name is unknown or npm has not put it there."""
    relative = VENDOR_FILES.get(name)
    if relative is None or vendor_dir is None:
        return None
    path = vendor_dir / relative
    return path if path.is_file() else None


@router.get("/vendor/{name}")
def vendor(request: Request, name: str) -> Response:  # sync: the file checks run in the thread pool
    path = vendor_file(settings_of(request).vendor_dir, name)
    if path is None:
        raise NotFound(f"There is no vendor file '{name}'; run `npm ci` (or `make install`) to fetch the npm packages")
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": CACHE_CONTROL}
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"), headers=headers)
