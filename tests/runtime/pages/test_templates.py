"""What the strict Content-Security-Policy needs of every template, checked on the sources themselves."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = sorted((Path(__file__).parents[3] / "opsloom" / "runtime" / "pages" / "templates").glob("*.html"))


def test_there_are_templates_to_check() -> None:
    assert len(TEMPLATES) >= 10


def test_no_template_has_inline_script_handlers_or_styles() -> None:
    for template in TEMPLATES:
        html = template.read_text("utf-8")
        for tag in re.findall(r"<script\b[^>]*>", html):
            # module scripts come from /static or /vendor; data travels as application/json
            assert "src=" in tag or 'type="application/json"' in tag, (template.name, tag)
        assert not re.search(r"\son[a-z]+\s*=", html), template.name  # onclick= and friends
        assert not re.search(r"\sstyle\s*=", html), template.name  # style-src 'self' refuses style attributes
        assert "javascript:" not in html, template.name


def test_no_template_turns_escaping_off() -> None:
    for template in TEMPLATES:
        html = template.read_text("utf-8")
        assert "|safe" not in html.replace(" ", "") and "autoescape false" not in html, template.name
        assert "Markup(" not in html, template.name
