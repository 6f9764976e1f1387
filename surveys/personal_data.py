"""A reader's linked survey responses: in their data download, and what closing the account does.

Closing keeps a submitted response's chosen answers, which were given for the survey and count in
its results, but unlinks it from the account and drops its free-text and email answers, which may
say who answered. An unfinished response counts nowhere, so it goes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from accounts.models import User
from surveys.definition.walk import free_text_keys, labelled_answers
from surveys.models import Response
from surveys.tallies import untally


def _linked(session: Session, user: User) -> list[Response]:
    return list(
        session.scalars(select(Response).where(Response.user_id == user.id).order_by(Response.started_at))
    )


def survey_responses_section(session: Session, user: User) -> dict:
    return {
        "responses": [
            {
                "survey": response.survey.slug,
                "version": response.version.number,
                "started_at": response.started_at.isoformat(),
                "submitted_at": response.submitted_at.isoformat() if response.submitted_at else None,
                "answers": response.answers,
                "answers_labelled": labelled_answers(response.version.definition, response.answers),
            }
            for response in _linked(session, user)
        ]
    }


def unlink_survey_responses(session: Session, user: User, now: datetime) -> None:
    session.execute(
        delete(Response)
        .where(Response.user_id == user.id, Response.submitted_at.is_(None))
        .execution_options(synchronize_session="fetch")
    )
    linked = _linked(session, user)
    # Their counts come out of the results' tallies, and go back in without what was typed.
    untally(session, [response.id for response in linked])
    for response in linked:
        typed = free_text_keys(response.version.definition)
        response.answers = {key: value for key, value in response.answers.items() if key not in typed}
        response.user_id = None
    session.flush()
