"""The designer's pages under `/design`: apps, their forms, flows and permissions, built in the browser.

They share the end-user pages' rendering (templates may extend `base.html`) and language catalogs; this
package brings its own templates, messages and browser modules.
"""

from __future__ import annotations

from pathlib import Path

from opsloom.runtime.pages.i18n import add_catalog_folder
from opsloom.runtime.pages.rendering import add_template_folder

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"  # served at /static/design

add_template_folder(HERE / "templates")
add_catalog_folder(HERE / "locales")
