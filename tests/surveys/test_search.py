"""Searching free-text answers by words: every word searched for must begin a word of the
answer, whatever its case; the word index and a read of every answer agree; words follow
answers that change or go."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, select

from surveys.models import Response, SurveyAnswerWord
from surveys.results import ResponseFilter, text_answers
from surveys.search import matches, search_terms
from surveys.tallies import refresh_tallies, untally
from tests.surveys.staff.conftest import V1, add_response, make_survey

UTC = timezone.utc
WORDS = ["garden", "gardening", "Podcast", "podcasts", "housing", "the", "news", "élection", "data-driven", "42"]


@pytest.fixture
def survey(session):
    survey = make_survey(session, (V1,))
    rng = random.Random(5)
    for n in range(120):
        comment = " ".join(rng.choices(WORDS, k=rng.randint(1, 6)))
        add_response(
            session,
            survey,
            {"comment": comment, "nickname": rng.choice(["Ann", "Bo"]), "sections": ["other"], "sections_other": comment.upper()},
            submitted_at=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=n) if n % 10 else None,
            started_at=datetime(2026, 10, 31, tzinfo=UTC) + timedelta(hours=n),
            sight_plus=rng.choice([None, True, False]),
        )
    # Another survey with the same words, which no search of the first may find.
    other = make_survey(session, (V1,), slug="other-survey")
    for n in range(10):
        add_response(session, other, {"comment": "garden housing podcast the news 42"}, submitted_at=datetime(2026, 11, 2, n, tzinfo=UTC))
    for each in (survey, other):
        refresh_tallies(session, each.id, "Australia/Sydney")
    session.commit()
    return survey


def every_match(session, survey, field: str, search: str, flt: ResponseFilter) -> list[tuple[int, str]]:
    """The answers a reading of every response finds, newest first."""
    terms = search_terms(search)
    found = []
    for response in session.scalars(select(Response).where(Response.survey_id == survey.id).order_by(Response.id.desc())):
        finished = response.submitted_at is not None
        if flt.status == "finished" and not finished or flt.status == "unfinished" and finished:
            continue
        when = response.submitted_at or response.started_at
        if flt.since is not None and when < flt.since or flt.until is not None and when >= flt.until:
            continue
        if flt.sight_plus is not None and response.sight_plus is not flt.sight_plus:
            continue
        text = response.answers.get(field)
        if text and matches(text, terms):
            found.append((response.id, text))
    return found


@pytest.mark.parametrize("search", ["garden", "GARDENING", "pod house", "élect", "data driven", "4", "den", "zzz"])
@pytest.mark.parametrize("field", ["comment", "sections_other"])
@pytest.mark.parametrize("status", ["finished", "all"])
def test_the_index_finds_what_reading_every_answer_finds(session, survey, search, field, status):
    flt = ResponseFilter(status=status)
    expected = every_match(session, survey, field, search, flt)
    pages = [text_answers(session, survey.id, flt, field, search, page, per_page=7) for page in range(1, 30)]
    assert pages[0].total == len(expected)
    assert [(a.response_id, a.text) for p in pages for a in p.answers] == expected


@pytest.mark.parametrize("search", ["garden", "pod house", "4", "zzz"])
@pytest.mark.parametrize(
    "flt",
    [
        ResponseFilter(sight_plus=True),
        ResponseFilter(since=datetime(2026, 11, 2, 5, tzinfo=UTC), until=datetime(2026, 11, 4, 17, tzinfo=UTC)),
        ResponseFilter(version=1, sight_plus=False, since=datetime(2026, 11, 3, tzinfo=UTC)),
        ResponseFilter(status="all", sight_plus=True),
    ],
)
def test_the_index_finds_what_reading_every_answer_finds_under_filters(session, survey, search, flt):
    expected = every_match(session, survey, "comment", search, flt)
    pages = [text_answers(session, survey.id, flt, "comment", search, page, per_page=4) for page in range(1, 30)]
    assert pages[0].total == len(expected)
    assert [(a.response_id, a.text) for p in pages for a in p.answers] == expected


def test_words_begin_words_and_case_does_not_matter():
    assert matches("Gardening and the Podcasts", search_terms("garden POD"))
    assert not matches("Gardening", search_terms("den"))
    assert not matches("Gardening", search_terms("garden news"))


def test_words_go_with_the_answers_they_came_from(session, survey):
    finished = session.scalars(select(Response).where(Response.submitted_at.is_not(None)).order_by(Response.id)).all()
    changed, gone = finished[0], finished[1]
    untally(session, [changed.id, gone.id])
    changed.answers = {"comment": "Completely different words"}
    session.execute(delete(Response).where(Response.id == gone.id))
    session.commit()
    refresh_tallies(session, survey.id, "Australia/Sydney")
    session.commit()
    found = text_answers(session, survey.id, ResponseFilter(), "comment", "completely", 1)
    assert [a.response_id for a in found.answers] == [changed.id]
    assert session.scalar(select(func.count()).where(SurveyAnswerWord.response_id == gone.id)) == 0
    for search in ["garden", "housing"]:
        assert text_answers(session, survey.id, ResponseFilter(), "comment", search, 1, per_page=500).total == len(
            every_match(session, survey, "comment", search, ResponseFilter())
        )
