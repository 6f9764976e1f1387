"""Staff erase a reader's response on request: find it (by its number, by the reader's resume
link or code, or by the email address a survey asked for), then delete it after a confirmation.

The response goes in one transaction with everything it left behind: its answers (on its row),
its counts in the results' tallies (taken back out first), the words of its free-text answers
(the search index) and where it came from (utm_*, referring article, the link to an account, all
on its row). The audit log keeps who erased which response number, and when; never what it said.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from sight.audit import Actor, record_audit
from surveys.models import Response, Survey, SurveyAnswerWord
from surveys.retention import personal_data_ids
from surveys.tallies import untally

# A search finds at most this many responses (one email address may have answered several times).
MOST_FOUND = 50
# A resume link ends with its code: /surveys/<slug>/resume/<code>.
_RESUME_CODE = re.compile(r"(?:/resume/)?([A-Za-z0-9_-]{16,100})/?$")


@dataclass
class Lookup:
    """What a staff search found: `by` says how the search was read ("number", "code" or
    "email"); `problem` says why nothing could be looked for."""

    by: str | None = None
    responses: list[Response] = field(default_factory=list)
    problem: str | None = None


def find_responses(session: Session, survey: Survey, query: str) -> Lookup:
    """The survey's responses (finished or not) that `query` names: a response number, a resume
    link or its code, or (for a survey that asks for one) an email address, in any case."""
    query = query.strip()
    if not query:
        return Lookup(problem="Type a response number, the reader's resume link or code, or their email address.")
    chosen = select(Response).where(Response.survey_id == survey.id).order_by(Response.id).limit(MOST_FOUND)
    if query.isdigit():
        return Lookup("number", list(session.scalars(chosen.where(Response.id == int(query[:18])))))
    if "@" in query and "/" not in query:
        ids = personal_data_ids(survey)
        if not ids:
            return Lookup(
                "email",
                problem="This survey asks for no email address, so a response cannot be found by one. "
                "Ask the reader for their resume link, or the response number.",
            )
        address = query.lower()
        matches = [func.lower(Response.answers[qid].as_string()) == address for qid in ids]
        return Lookup("email", list(session.scalars(chosen.where(or_(*matches)))))
    code = _RESUME_CODE.search(query.split("?", 1)[0].split("#", 1)[0])
    if code is None:
        return Lookup(
            problem="That is not a response number, a resume link or code, or an email address. "
            "A resume link looks like https://…/surveys/<survey>/resume/<code>."
        )
    return Lookup("code", list(session.scalars(chosen.where(Response.resume_token == code.group(1)))))


def response_to_erase(session: Session, survey: Survey, response_id: int) -> Response | None:
    return session.scalar(select(Response).where(Response.id == response_id, Response.survey_id == survey.id))


def erase_response(session: Session, response: Response, actor: Actor, now: datetime) -> None:
    """Delete the response and all it left behind; the caller commits, once."""
    record_audit(
        session,
        actor=actor,
        action="survey.response_erased",
        target=f"survey:{response.survey.slug}",
        details={"response": response.id, "by": "staff", "finished": response.submitted_at is not None},
        now=now,
    )
    # Its counts come out of the tallies (and its words out of the index) while its answers
    # are still there to say what they were.
    untally(session, [response.id])
    session.execute(delete(SurveyAnswerWord).where(SurveyAnswerWord.response_id == response.id))
    session.delete(response)
    session.flush()
