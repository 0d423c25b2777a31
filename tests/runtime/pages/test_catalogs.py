"""The message catalogs: every message in both languages, and every message a template asks for exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

from opsloom.runtime.pages.i18n import LOCALES, Translator, catalog

PAGES = Path(__file__).parents[3] / "opsloom" / "runtime" / "pages"


def test_every_area_has_the_same_messages_in_every_language() -> None:
    areas = {path.name for locale in LOCALES for path in (PAGES / "locales" / locale).glob("*.json")}
    for area in sorted(areas):
        keys = {locale: set(json.loads((PAGES / "locales" / locale / area).read_text("utf-8"))) for locale in LOCALES}
        assert keys["en"] == keys["zh-CN"], (area, keys["en"] ^ keys["zh-CN"])


def test_no_message_is_defined_twice_across_areas() -> None:
    for locale in LOCALES:
        seen: dict[str, str] = {}
        for path in sorted((PAGES / "locales" / locale).glob("*.json")):
            for key in json.loads(path.read_text("utf-8")):
                assert key not in seen, f"{key} is in both {seen[key]} and {path.name} ({locale})"
                seen[key] = path.name


def test_every_literal_message_key_in_the_templates_exists() -> None:
    used = set()
    for template in (PAGES / "templates").glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+(?:\.[a-z_0-9]+)+)["']\s*[,)]""", template.read_text("utf-8")))
    assert used, "the pattern found no message keys"
    for locale in LOCALES:
        missing = sorted(key for key in used if key not in catalog(locale))
        assert missing == [], (locale, missing)


def test_a_count_picks_the_plural_form_of_the_readers_language() -> None:
    english, chinese = Translator("en"), Translator("zh-CN")
    assert english("value.rows", count=1) == "1 row" and english("value.rows", count=2) == "2 rows"
    assert english("list.total", count=0) == "0 records" and english("tasks.count", count=1) == "1 item"
    assert chinese("value.rows", count=1) == "1 行" and chinese("value.rows", count=5) == "5 行"


def test_every_plural_message_has_its_other_form() -> None:
    """`other` always shows the count; English `one` may say "it" instead of "1" ("Leave it empty")."""
    for locale in LOCALES:
        for key, message in catalog(locale).items():
            if isinstance(message, dict):
                assert "other" in message and "{count}" in message["other"], (locale, key)
                assert set(message) <= {"zero", "one", "two", "few", "many", "other"}, (locale, key)
