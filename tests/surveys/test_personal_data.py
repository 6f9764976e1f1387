"""A reader's linked responses in their data download, and what closing the account leaves.

Each step runs in an app context of its own: with one context pushed throughout, the client's
requests would share it, and Flask-Login's user of one request would leak into the next.
"""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from accounts.models import Role
from sight.extensions import db
from surveys.models import Response
from tests.helpers import close_my_account, create_user, download_my_data, sign_in_as
from tests.surveys.conftest import definition
from tests.surveys.staff.conftest import add_response, make_survey

ANSWERS = {"colour": "other", "colour_other": "Teal", "email": "alex@example.com", "score": 7, "grid": {"news": "2"}}


def linked_survey(app, client) -> int:
    with app.app_context():
        user = create_user(db.session, "alex@example.com")
        survey = make_survey(db.session, (definition(),))
        add_response(db.session, survey, dict(ANSWERS), user=user)
        add_response(db.session, survey, {"colour": "red"}, user=user, submitted_at=None, started_at=survey.created_at)
        add_response(db.session, survey, {"colour": "blue", "email": "someone.else@example.com"})
        sign_in_as(client, user)
        return user.id


def test_the_download_holds_the_readers_linked_responses_as_values(app, client):
    linked_survey(app, client)
    responses = download_my_data(client)["surveys"]["responses"]
    assert [(r["survey"], r["version"], r["answers"]) for r in responses] == [
        ("all-types", 1, ANSWERS),
        ("all-types", 1, {"colour": "red"}),
    ]
    assert responses[0]["submitted_at"].startswith("2026-11-20T01:02:03")
    assert responses[1]["submitted_at"] is None
    # Readable without the definition: each question and answer by its label.
    assert responses[0]["answers_labelled"] == [
        {"question_id": "colour", "question": "Favourite colour", "answer": "Other (please specify); Teal"},
        {"question_id": "email", "question": "Email", "answer": "alex@example.com"},
        {"question_id": "score", "question": "Score", "answer": "7"},
        {"question_id": "grid", "question": "How much do you like", "answer": "News: A lot"},
    ]


def test_closing_keeps_submitted_answers_anonymously_without_email_or_free_text(app, client):
    user_id = linked_survey(app, client)
    close_my_account(client)
    with app.app_context():
        stored = db.session.scalars(select(Response).order_by(Response.id)).all()
        assert [(r.user_id, r.answers) for r in stored] == [
            (None, {"colour": "other", "score": 7, "grid": {"news": "2"}}),
            (None, {"colour": "blue", "email": "someone.else@example.com"}),
        ]
        assert db.session.scalar(select(Response).where(Response.user_id == user_id)) is None


def test_staff_exports_still_show_the_anonymous_response(app, client):
    linked_survey(app, client)
    close_my_account(client)
    staff = app.test_client()
    with app.app_context():
        sign_in_as(staff, create_user(db.session, "staff@sight.example", role=Role.staff))
    export = staff.get("/staff/surveys/all-types/export.csv")
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert [(row["colour"], row["colour_other"], row["email"]) for row in rows] == [
        ("Other (please specify)", "", ""),
        ("Blue", "", "someone.else@example.com"),
    ]
