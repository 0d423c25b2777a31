"""The administration pages under `/admin`: people, departments, API tokens, the audit log, roles.

Only platform admins reach them; anyone else gets the 404 page. They share the end-user pages'
rendering (templates extend `base.html`) and language catalogs; this package brings its own
templates, messages (`admin.json`) and browser modules (served at `/static/admin`).
"""

from __future__ import annotations

from pathlib import Path

from opsloom.runtime.pages.i18n import add_catalog_folder
from opsloom.runtime.pages.rendering import add_template_folder

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"  # served at /static/admin

add_template_folder(HERE / "templates")
add_catalog_folder(HERE / "locales")
