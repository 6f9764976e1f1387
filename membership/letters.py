"""Mail of the donor's year (lapse reminders, giving statements): the plain text and the HTML of
each message come from a pair of templates of its own, `templates/membership/email/<name>.txt`
and `.html`, filled with the same values (already written for the reader: dates, amounts).

Written outside any request, so with an environment of its own on the app's templates;
autoescaping is on for the HTML, off for the text."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader

_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_html = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=True)
_text = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=False, keep_trailing_newline=True)


def render_letter(letter: str, /, **values) -> tuple[str, str]:
    """(plain text, HTML) of `templates/membership/email/<name>`."""
    path = f"membership/email/{letter}"
    return _text.get_template(f"{path}.txt").render(**values), _html.get_template(f"{path}.html").render(**values)
