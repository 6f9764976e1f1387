"""Staff erase a response on a reader's request: a search page, then a confirmation page whose
POST (with its CSRF token) erases. The writes are in surveys.erasure; URLs in surveys/blueprint.py."""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from accounts.roles import staff_required
from sight.db import utcnow
from sight.errors import render_error
from sight.extensions import db
from surveys.erasure import erase_response, find_responses, response_to_erase
from surveys.forms import ActionForm
from surveys.models import Response, Survey
from surveys.operations import survey_by_slug
from surveys.retention import personal_data_ids
from surveys.staff_forms import FindResponseForm


def _survey(slug: str) -> Survey:
    survey = survey_by_slug(db.session, slug)
    if survey is None:
        abort(make_response(render_error(404, "No such survey", f"There is no survey with the address “{slug}”.")))
    return survey


def _response(survey: Survey, response_id: int) -> Response:
    response = response_to_erase(db.session, survey, response_id)
    if response is None:
        abort(
            make_response(
                render_error(
                    404,
                    "No such response",
                    f"This survey has no response number {response_id}: it may have been erased already.",
                )
            )
        )
    return response


@staff_required
def staff_find_to_erase(slug: str):
    survey = _survey(slug)
    form = FindResponseForm(request.args)
    lookup = None
    status = 200
    if "q" in request.args:
        if form.validate():
            lookup = find_responses(db.session, survey, form.q.data or "")
            if lookup.problem:
                form.q.errors = [lookup.problem]
                status = 400
        else:
            status = 400
    return (
        render_template(
            "surveys/staff/erase_find.html",
            survey=survey,
            form=form,
            lookup=lookup,
            asks_email=bool(personal_data_ids(survey)),
        ),
        status,
    )


@staff_required
def staff_erase(slug: str, response_id: int):
    survey = _survey(slug)
    response = _response(survey, response_id)
    form = ActionForm()
    if request.method == "POST":
        if not form.validate():
            flash("Nothing was erased: the form had expired. Please confirm again.", "error")
            return render_template("surveys/staff/erase_confirm.html", survey=survey, response=response, form=form), 400
        erase_response(db.session, response, current_user._get_current_object(), utcnow())
        db.session.commit()
        flash(
            f"Response {response_id} is erased: its answers, counts and where it came from are gone. "
            "The audit log keeps only that you erased it, and when.",
            "success",
        )
        return redirect(url_for("surveys.staff_find_to_erase", slug=slug))
    return render_template("surveys/staff/erase_confirm.html", survey=survey, response=response, form=form)
