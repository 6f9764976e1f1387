"""What every staff survey page needs: the display zone, a refusal page, the survey by its address,
and the count of what finished since the last look before a page reads its tallies."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import abort, current_app, make_response
from sqlalchemy import select
from sqlalchemy.orm import Session

from sight.errors import render_error
from sight.extensions import db
from surveys.models import Survey
from surveys.operations import survey_by_slug
from surveys.tallies import refresh_tallies


def display_zone_name() -> str:
    return current_app.config["DISPLAY_TIMEZONE"]


def display_zone() -> ZoneInfo:
    return ZoneInfo(display_zone_name())


def refuse(code: int, title: str, message: str):
    abort(make_response(render_error(code, title, message)))


def survey_or_refuse(session: Session, slug: str) -> Survey:
    survey = survey_by_slug(session, slug)
    if survey is None:
        refuse(404, "No such survey", f"There is no survey with the address “{slug}”.")
    return survey


def refresh_tallies_of(slug: str) -> None:
    """Count (and index the words of) the responses finished since the last look: a short write,
    committed before the page reads in its own snapshot."""
    survey_id = db.session.scalar(select(Survey.id).where(Survey.slug == slug))
    if survey_id is not None:
        refresh_tallies(db.session, survey_id, display_zone_name())
    db.session.commit()
