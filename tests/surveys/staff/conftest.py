"""Factories for survey results and exports: surveys, versions made from definition dicts, and
responses written straight to the database (taking a survey is tested in tests/surveys)."""

from __future__ import annotations

import copy
import secrets
from datetime import datetime, timedelta, timezone

from surveys.models import Response, Survey, SurveyVersion

UTC = timezone.utc

V1 = {
    "slug": "reader-survey",
    "title": "Sight reader survey",
    "pages": [
        {
            "id": "reading",
            "title": "Your reading",
            "questions": [
                {
                    "id": "read_frequency",
                    "type": "single_choice",
                    "label": "How often do you read Sight?",
                    "required": True,
                    "options": [
                        {"value": "daily", "label": "Every day"},
                        {"value": "weekly", "label": "Every week"},
                        {"value": "monthly", "label": "Every month"},
                    ],
                },
                {
                    "id": "found_via",
                    "type": "single_choice",
                    "label": "How did you find Sight?",
                    "other": True,
                    "options": [{"value": "search", "label": "A search engine"}, {"value": "social", "label": "Social media"}],
                },
                {
                    "id": "sections",
                    "type": "multiple_choice",
                    "label": "Which sections do you read?",
                    "other": True,
                    "options": [
                        {"value": "news", "label": "News"},
                        {"value": "culture", "label": "Culture"},
                        {"value": "science", "label": "Science"},
                    ],
                },
                {
                    "id": "device",
                    "type": "dropdown",
                    "label": "What do you read on?",
                    "options": [{"value": "phone", "label": "Phone"}, {"value": "desktop", "label": "Computer"}],
                },
            ],
        },
        {
            "id": "about",
            "title": "About you",
            "questions": [
                {"id": "nickname", "type": "short_text", "label": "What should we call you?", "max_length": 100},
                {"id": "comment", "type": "long_text", "label": "Anything else?", "max_length": 2000},
                {"id": "email", "type": "email", "label": "Your email"},
                {"id": "age", "type": "number", "label": "Your age", "min": 0, "max": 120, "integer": True},
                {
                    "id": "recommend",
                    "type": "rating",
                    "label": "How likely are you to recommend Sight?",
                    "scale": {"min": 0, "max": 10, "min_label": "Not at all likely", "max_label": "Extremely likely"},
                },
                {
                    "id": "agree",
                    "type": "matrix",
                    "label": "Sight's coverage is good",
                    "rows": [{"value": "news", "label": "News"}, {"value": "culture", "label": "Culture"}],
                    "columns": [
                        {"value": "1", "label": "Disagree"},
                        {"value": "2", "label": "Neutral"},
                        {"value": "3", "label": "Agree"},
                    ],
                },
                {"id": "old_question", "type": "short_text", "label": "A question version 2 dropped"},
            ],
        },
    ],
}


def _v2() -> dict:
    """Version 2: a relabelled option, new options, a new matrix row, a new question, one dropped."""
    definition = copy.deepcopy(V1)
    reading, about = definition["pages"]
    frequency, _found, sections, _device = reading["questions"]
    frequency["options"][0]["label"] = "Daily"
    frequency["options"].append({"value": "rarely", "label": "Rarely"})
    sections["options"].append({"value": "sport", "label": "Sport"})
    reading["questions"].append(
        {
            "id": "new_question",
            "type": "single_choice",
            "label": "Would you like to hear about Sight+?",
            "options": [{"value": "yes", "label": "Yes please"}, {"value": "no", "label": "No thanks"}],
        }
    )
    about["questions"] = [q for q in about["questions"] if q["id"] != "old_question"]
    about["questions"][-1]["rows"].append({"value": "science", "label": "Science"})
    return definition


V2 = _v2()


def make_survey(session, definitions=(V1,), *, slug: str | None = None, title: str | None = None) -> Survey:
    first = definitions[0]
    survey = Survey(slug=slug or first["slug"], title=title or first["title"])
    session.add(survey)
    for number, definition in enumerate(definitions, start=1):
        session.add(SurveyVersion(survey=survey, number=number, definition=copy.deepcopy(definition)))
    session.commit()
    return survey


def add_response(
    session,
    survey: Survey,
    answers: dict,
    *,
    version: int = 1,
    submitted_at: datetime | None = datetime(2026, 11, 20, 1, 2, 3, tzinfo=UTC),
    seconds: int = 95,
    started_at: datetime | None = None,
    sight_plus: bool | None = None,
    user=None,
    **tracking: str,
) -> Response:
    version_row = next(v for v in survey.versions if v.number == version)
    response = Response(
        survey_id=survey.id,
        version_id=version_row.id,
        resume_token=secrets.token_hex(16),
        user_id=user.id if user else None,
        answers=answers,
        started_at=started_at or (submitted_at - timedelta(seconds=seconds)),
        submitted_at=submitted_at,
        sight_plus=sight_plus,
        **tracking,
    )
    session.add(response)
    session.commit()
    return response
