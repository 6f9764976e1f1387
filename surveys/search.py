"""Search free-text answers by words, with an index.

Each word of a finished response's free-text answers (text questions and "Other" texts) is kept
in `survey_answer_word`, written and removed with the response's tallies (surveys.tallies), so
that a search reads an index range per word instead of every answer. A search matches answers
in which every word searched for begins a word of the answer, whatever the case ("garden"
finds "Gardening"). The same rule applies where the index cannot answer (unfinished responses),
so that the two never disagree.
"""

from __future__ import annotations

import re

from sqlalchemy import Select, delete, insert, select
from sqlalchemy.orm import Session, aliased

from surveys.definition import walk
from surveys.models import Response, SurveyAnswerWord

WORD = re.compile(r"\w+")
# Longer words are cut to this (and a search word likewise), which keeps the index small.
WORD_LENGTH = 100
# A search uses at most this many words.
SEARCH_WORDS = 10


def words(text: str) -> set[str]:
    return {word[:WORD_LENGTH] for word in WORD.findall(text.casefold())}


def search_terms(search: str) -> list[str]:
    return sorted(words(search))[:SEARCH_WORDS]


def matches(text: str, terms: list[str]) -> bool:
    """Whether every term begins a word of `text`."""
    found = words(text)
    return all(any(word.startswith(term) for word in found) for term in terms)


def text_field_names(definition: dict) -> list[str]:
    """The free-text fields of one version: text questions and "Other" texts."""
    names = []
    for question in walk.questions(definition):
        if question["type"] in walk.TEXT_TYPES:
            names.append(question["id"])
        if question.get("other"):
            names.append(f"{question['id']}_other")
    return names


def text_value(answers: dict, field: str) -> str | None:
    """The answer to a free-text field as staff read it, or None."""
    value = answers.get(field)
    if value in (None, "") or isinstance(value, dict | list):
        return None
    return str(value)


def index_words(session: Session, responses: list[tuple[int, int, list[str], dict]]) -> None:
    """Index (survey id, response id, its version's `text_field_names`, answers) of finished responses."""
    rows = []
    for survey_id, response_id, fields, answers in responses:
        for field in fields:
            text = text_value(answers, field)
            if text is not None:
                rows += [
                    {"survey_id": survey_id, "response_id": response_id, "field": field, "word": word} for word in words(text)
                ]
    if rows:
        # Core rather than the ORM's bulk insert: a million answers make millions of rows.
        session.connection().execute(insert(SurveyAnswerWord.__table__), rows)


def forget_words(session: Session, response_ids: list[int]) -> None:
    session.execute(delete(SurveyAnswerWord).where(SurveyAnswerWord.response_id.in_(response_ids)))


def _has_word(word_table, survey_id: int, field: str, term: str) -> list:
    following = term[:-1] + chr(ord(term[-1]) + 1)
    return [
        word_table.survey_id == survey_id,
        word_table.field == field,
        # A range the index can read; startswith keeps it exact under any collation.
        word_table.word >= term,
        word_table.word < following,
        word_table.word.startswith(term, autoescape=True),
    ]


def matching_responses(survey_id: int, field: str, terms: list[str]) -> Select:
    """The ids of the finished responses whose `field` has every term, read from the index alone
    (one range per term), each once."""
    stmt = select(SurveyAnswerWord.response_id).where(*_has_word(SurveyAnswerWord, survey_id, field, terms[0]))
    for term in terms[1:]:
        other = aliased(SurveyAnswerWord)
        stmt = stmt.where(
            SurveyAnswerWord.response_id.in_(select(other.response_id).where(*_has_word(other, survey_id, field, term)))
        )
    return stmt.distinct()
