"""Survey fixtures: definitions built as data, surveys imported the real way, and a reader
who goes through the real forms."""

from __future__ import annotations

import copy
from html.parser import HTMLParser
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from sight.db import utcnow
from sight.extensions import db
from surveys.definition import validate_definition
from surveys.models import Response
from surveys.operations import DEFAULT_SURVEY_FILE, import_definition
from surveys.definition import load_definition
from accounts.models import Role, User
from tests.helpers import csrf_token_from, make_user

ALL_TYPES = {
    "slug": "all-types",
    "title": "Every kind of question",
    "intro": "Testing every question type.",
    "closing": "Thanks for testing.",
    "settings": {"one_response_per": "any", "min_seconds": 0},
    "pages": [
        {
            "id": "first",
            "title": "Choices",
            "questions": [
                {"id": "colour", "type": "single_choice", "label": "Favourite colour", "required": True, "other": True,
                 "options": [{"value": "red", "label": "Red"}, {"value": "blue", "label": "Blue"}]},
                {"id": "pets", "type": "multiple_choice", "label": "Pets you have", "other": True, "max_choices": 2,
                 "help": "Up to two.",
                 "options": [{"value": "cat", "label": "Cat"}, {"value": "dog", "label": "Dog"}, {"value": "fish", "label": "Fish"}]},
                {"id": "city", "type": "dropdown", "label": "City",
                 "options": [{"value": "syd", "label": "Sydney"}, {"value": "mel", "label": "Melbourne"}]},
                {"id": "dog_name", "type": "short_text", "label": "Your dog's name",
                 "show_if": {"question": "pets", "equals": "dog"}},
            ],
        },
        {
            "id": "second",
            "title": "Words and numbers",
            "questions": [
                {"id": "postcode", "type": "short_text", "label": "Postcode", "pattern": "[0-9]{4}", "max_length": 4},
                {"id": "story", "type": "long_text", "label": "Tell us a story", "max_length": 50},
                {"id": "email", "type": "email", "label": "Email"},
                {"id": "age", "type": "number", "label": "Age", "min": 0, "max": 120},
                {"id": "score", "type": "rating", "label": "Score", "required": True,
                 "scale": {"min": 0, "max": 10, "min_label": "Bad", "max_label": "Good"}},
                {"id": "grid", "type": "matrix", "label": "How much do you like", "required": True,
                 "rows": [{"value": "news", "label": "News"}, {"value": "sport", "label": "Sport"}],
                 "columns": [{"value": "1", "label": "Not much"}, {"value": "2", "label": "A lot"}]},
            ],
        },
    ],
}


def definition(**changes) -> dict:
    """ALL_TYPES with top-level or settings changes, validated."""
    data = copy.deepcopy(ALL_TYPES)
    settings = changes.pop("settings", {})
    data.update(changes)
    data["settings"].update(settings)
    return validate_definition(data)


@pytest.fixture
def make_survey(app):
    def factory(definition_data: dict | None = None, **changes):
        definition_data = definition_data or definition(**changes)
        with app.app_context():
            result = import_definition(db.session, definition_data, None, utcnow())
            db.session.commit()
            return result.survey.slug

    return factory


@pytest.fixture
def reader_survey(app):
    with app.app_context():
        import_definition(db.session, load_definition(DEFAULT_SURVEY_FILE.read_text()), None, utcnow())
        db.session.commit()
    return "reader-survey"


def responses(app) -> list[Response]:
    with app.app_context():
        found = list(db.session.scalars(select(Response).options(joinedload(Response.version)).order_by(Response.id)))
        db.session.expunge_all()
        return found


def account(app, email: str = "reader@example.com", role: Role = Role.reader) -> User:
    """A user, detached with its id loaded (tests.helpers.make_user)."""
    return make_user(app, email, role=role)


def backdate_responses(app, seconds: int = 3600) -> None:
    """Pretend the reader started a while ago (the minimum fill time is real)."""
    with app.app_context():
        db.session.execute(update(Response).values(started_at=utcnow() - timedelta(seconds=seconds)))
        db.session.commit()


class Reader:
    """A reader using the survey pages through the test client, with real CSRF tokens."""

    def __init__(self, client, slug: str):
        self.client = client
        self.slug = slug
        self.last = None

    def start(self, query: str = ""):
        intro = self.client.get(f"/surveys/{self.slug}{query}")
        html = intro.get_data(as_text=True)
        hidden = dict(re.findall(r'<input id="(utm_\w+|referrer)" name="\w+" type="hidden" value="([^"]*)"', html))
        data = {"csrf_token": csrf_token_from(html), **hidden}
        self.last = self.client.post(f"/surveys/{self.slug}/start", data=data)
        return self.last

    def page_url(self, number: int) -> str:
        return f"/surveys/{self.slug}/page/{number}"

    def send(self, number: int, answers: dict, action: str = "next", token: str | None = None):
        page = self.client.get(self.page_url(number))
        data = {"csrf_token": token or csrf_token_from(page.get_data(as_text=True)), "action": action, **answers}
        self.last = self.client.post(self.page_url(number), data=data)
        return self.last


@pytest.fixture
def reader_for(client):
    def factory(slug: str, the_client=None) -> Reader:
        return Reader(the_client or client, slug)

    return factory


class FormAudit(HTMLParser):
    """Collects every form control with its label and the legend of its fieldset."""

    def __init__(self):
        super().__init__()
        self.labels: dict[str, str] = {}
        self.controls: list[dict] = []
        self.legends: list[list[str]] = []
        self._label_for: str | None = None
        self._in_legend = False
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "fieldset":
            self.legends.append([])
        elif tag == "legend":
            self._in_legend, self._text = True, []
        elif tag == "label":
            self._label_for, self._text = attrs.get("for"), []
        elif tag in ("input", "select", "textarea") and attrs.get("type") not in ("hidden", "submit"):
            self.controls.append({**attrs, "tag": tag, "legends": ["".join(t).strip() for t in self.legends]})

    def handle_endtag(self, tag):
        if tag == "fieldset" and self.legends:
            self.legends.pop()
        elif tag == "legend":
            self._in_legend = False
            if self.legends:
                self.legends[-1].append("".join(self._text))
        elif tag == "label" and self._label_for:
            self.labels[self._label_for] = " ".join("".join(self._text).split())
            self._label_for = None

    def handle_data(self, data):
        if self._in_legend or self._label_for:
            self._text.append(data)


def audit_form(html: str) -> FormAudit:
    audit = FormAudit()
    audit.feed(html)
    return audit


@pytest.fixture
def staff_phone_tab(browser, live_server, staff_client, session):
    """A staff member's tab (the test client's session) at a phone's 390 px."""
    session.rollback()  # the test's own session must not hold SQLite's write lock meanwhile
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.add_cookies([{"name": "session", "value": staff_client.get_cookie("session").value, "url": live_server}])
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    yield tab
    context.close()
