"""Staff pages for managing surveys: list, create, edit (with validation messages and a
preview), duplicate, open and close, set dates, import and download definitions.

The results page of a survey, /staff/surveys/<slug>, lives in staff_views.py."""

from __future__ import annotations


from flask import Response as HttpResponse
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from accounts.roles import staff_required
from sight.db import utcnow
from sight.extensions import db
from surveys.definition import DefinitionError, dump_definition, load_definition, validate_definition
from surveys.forms import ActionForm, DatesForm, DefinitionForm, DuplicateForm, ImportForm, RetentionForm
from surveys.models import Response, Survey, SurveyStatus, SurveyVersion
from surveys.operations import (
    availability,
    create_survey,
    definition_for_download,
    duplicate_survey,
    import_definition,
    set_survey_dates,
    set_survey_status,
    survey_by_slug,
    update_definition,
)
from surveys.retention import Retention, personal_data_ids, set_retention
from surveys.staff_pages import display_zone

OUTCOMES = {
    "created": "Survey created (version {n}).",
    "new_version": "Saved as version {n}. The earlier version has responses, which keep their questions and labels.",
    "updated": "Saved: version {n} was updated in place (it has no responses yet).",
    "unchanged": "Nothing changed (version {n}).",
}

STARTER = """\
slug: new-survey
title: A new survey
intro: |
  What this survey is about, and how long it takes.
closing: |
  Thank you for your answers.
settings:
  one_response_per: browser
  resume_days: 14
  min_seconds: 10
pages:
  - id: first
    title: First page
    questions:
      - id: first_question
        type: single_choice
        label: The first question
        required: true
        options:
          - {value: "yes", label: "Yes"}
          - {value: "no", label: "No"}
"""


def _survey_or_404(slug: str) -> Survey:
    survey = survey_by_slug(db.session, slug)
    if survey is None:
        abort(404)
    return survey


def _check_definition(form: DefinitionForm) -> dict | None:
    """The form's definition validated, or None with every problem added to the field's errors."""
    if not form.validate():
        return None
    try:
        return load_definition(form.definition.data)
    except DefinitionError as exc:
        form.definition.errors = list(form.definition.errors) + exc.problems
        return None


def _version_token(survey: Survey) -> str:
    return f"{survey.current_version.number}:{survey.updated_at.isoformat()}"


@staff_required
def manage_list():
    counts = dict(
        db.session.execute(
            select(Response.survey_id, func.count(Response.id))
            .where(Response.submitted_at.is_not(None))
            .group_by(Response.survey_id)
        ).all()
    )
    surveys = list(db.session.scalars(select(Survey).order_by(Survey.created_at.desc(), Survey.id.desc())))
    now = utcnow()
    rows = [
        {"survey": s, "state": availability(s, now), "responses": counts.get(s.id, 0), "version": s.current_version.number}
        for s in surveys
    ]
    return render_template("surveys/manage/list.html", rows=rows, action_form=ActionForm())


@staff_required
def manage_new():
    form = DefinitionForm()
    if request.method == "GET":
        form.definition.data = STARTER
    preview = None
    if form.is_submitted():
        definition = _check_definition(form)
        if definition is not None and survey_by_slug(db.session, definition["slug"]) is not None:
            form.definition.errors = list(form.definition.errors) + [
                f"slug: a survey called {definition['slug']!r} exists already; choose another slug"
            ]
            definition = None
        if definition is not None and request.form.get("action") == "save":
            result = create_survey(
                db.session,
                definition,
                current_user,
                utcnow(),
                status=SurveyStatus.closed,
                retention=Retention.from_config(current_app.config),
            )
            db.session.commit()
            flash("Survey created. It is closed until you open it.", "success")
            return redirect(url_for("surveys.manage_edit", slug=result.survey.slug))
        preview = definition
    status = 422 if form.definition.errors else 200
    return render_template("surveys/manage/editor.html", form=form, survey=None, preview=preview), status


@staff_required
def manage_edit(slug: str):
    survey = _survey_or_404(slug)
    form = DefinitionForm()
    if request.method == "GET":
        form.definition.data = dump_definition(survey.current_version.definition)
        form.based_on.data = _version_token(survey)
    preview = None
    if form.is_submitted():
        definition = _check_definition(form)
        if definition is not None and definition["slug"] != survey.slug:
            form.definition.errors = list(form.definition.errors) + [
                f"slug: this survey's slug is {survey.slug!r}; to use another, duplicate the survey"
            ]
            definition = None
        if definition is not None and request.form.get("action") == "save":
            if form.based_on.data != _version_token(survey):
                form.definition.errors = list(form.definition.errors) + [
                    "Someone else changed this survey since you opened it. Copy your changes, "
                    "reload the page, and make them again."
                ]
            else:
                result = update_definition(db.session, survey, definition, current_user, utcnow())
                db.session.commit()
                flash(OUTCOMES[result.outcome].format(n=result.version.number), "success")
                return redirect(url_for("surveys.manage_edit", slug=slug))
        preview = definition
    status = 422 if form.definition.errors else 200
    return _edit_page(survey, form, preview=preview, status=status)


def _edit_page(
    survey: Survey,
    form: DefinitionForm,
    *,
    dates_form: DatesForm | None = None,
    retention_form: RetentionForm | None = None,
    preview=None,
    status=200,
):
    zone = display_zone()
    if retention_form is None:
        retention_form = RetentionForm(
            formdata=None, text_months=survey.text_retention_months, unfinished_days=survey.unfinished_retention_days
        )
    if dates_form is None:
        dates_form = DatesForm(
            formdata=None,
            opens_at=survey.opens_at.astimezone(zone).replace(tzinfo=None) if survey.opens_at else None,
            closes_at=survey.closes_at.astimezone(zone).replace(tzinfo=None) if survey.closes_at else None,
        )
    counts = dict(
        db.session.execute(
            select(Response.version_id, func.count(Response.id))
            .where(Response.survey_id == survey.id)
            .group_by(Response.version_id)
        ).all()
    )
    versions = [{"version": v, "responses": counts.get(v.id, 0)} for v in reversed(survey.versions)]
    return (
        render_template(
            "surveys/manage/editor.html",
            survey=survey,
            state=availability(survey, utcnow()),
            form=form,
            dates_form=dates_form,
            retention_form=retention_form,
            personal_data_ids=personal_data_ids(survey),
            action_form=ActionForm(),
            versions=versions,
            preview=preview,
            zone_name=current_app.config["DISPLAY_TIMEZONE"],
        ),
        status,
    )


@staff_required
def manage_dates(slug: str):
    survey = _survey_or_404(slug)
    dates_form = DatesForm()
    if not dates_form.validate():
        form = DefinitionForm(formdata=None, definition=dump_definition(survey.current_version.definition), based_on=_version_token(survey))
        return _edit_page(survey, form, dates_form=dates_form, status=422)
    opens_at, closes_at = dates_form.moments(display_zone())
    set_survey_dates(db.session, survey, opens_at, closes_at, current_user, utcnow())
    db.session.commit()
    flash("Dates saved.", "success")
    return redirect(url_for("surveys.manage_edit", slug=slug))


@staff_required
def manage_retention(slug: str):
    survey = _survey_or_404(slug)
    retention_form = RetentionForm()
    if not retention_form.validate():
        form = DefinitionForm(formdata=None, definition=dump_definition(survey.current_version.definition), based_on=_version_token(survey))
        return _edit_page(survey, form, retention_form=retention_form, status=422)
    retention = Retention(retention_form.text_months.data, retention_form.unfinished_days.data)
    set_retention(db.session, survey, retention, current_user, utcnow())
    db.session.commit()
    flash("Retention saved: flask surveys purge applies it.", "success")
    return redirect(url_for("surveys.manage_edit", slug=slug))


@staff_required
def manage_status(slug: str, change: str):
    survey = _survey_or_404(slug)
    if not ActionForm().validate():
        abort(400)
    status = SurveyStatus.open if change == "open" else SurveyStatus.closed
    set_survey_status(db.session, survey, status, current_user, utcnow())
    db.session.commit()
    state = availability(survey, utcnow())
    if status is SurveyStatus.open and state != "open":
        flash("Survey opened, but its dates keep it from taking answers now: check the dates.", "info")
    else:
        flash("Survey opened: readers can answer it." if status is SurveyStatus.open else "Survey closed: it takes no more answers.", "success")
    if request.form.get("back") == "list":
        return redirect(url_for("surveys.manage_list"))
    return redirect(url_for("surveys.manage_edit", slug=slug))


@staff_required
def manage_duplicate(slug: str):
    survey = _survey_or_404(slug)
    form = DuplicateForm()
    if request.method == "GET":
        form.slug.data = f"{survey.slug}-copy"[:80]
        form.title.data = f"{survey.title} (copy)"[:200]
    if form.validate_on_submit():
        copy = dict(survey.current_version.definition, slug=form.slug.data, title=form.title.data.strip())
        try:
            validate_definition(copy)
        except DefinitionError as exc:
            form.slug.errors = list(form.slug.errors) + [p.split(": ", 1)[-1] for p in exc.problems if p.startswith("slug")]
        if survey_by_slug(db.session, form.slug.data) is not None:
            form.slug.errors = list(form.slug.errors) + ["A survey with this slug exists already."]
        if not form.slug.errors:
            new = duplicate_survey(db.session, survey, form.slug.data, form.title.data.strip(), current_user, utcnow())
            db.session.commit()
            flash("Copy made. It is closed until you open it.", "success")
            return redirect(url_for("surveys.manage_edit", slug=new.slug))
    status = 422 if form.errors else 200
    return render_template("surveys/manage/duplicate.html", survey=survey, form=form), status


@staff_required
def manage_download(slug: str, fmt: str):
    survey = _survey_or_404(slug)
    version = survey.current_version
    if request.args.get("version"):
        number = request.args.get("version", type=int)
        version = db.session.scalar(
            select(SurveyVersion).where(SurveyVersion.survey_id == survey.id, SurveyVersion.number == number)
        )
        if version is None:
            abort(404)
    body = dump_definition(definition_for_download(survey, version), fmt)
    mimetype = "application/json" if fmt == "json" else "application/yaml"
    return HttpResponse(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{survey.slug}-v{version.number}.{fmt}"'},
    )


@staff_required
def manage_import():
    form = ImportForm()
    problems: list[str] = []
    if form.validate_on_submit():
        upload = form.file.data
        if not upload or not upload.filename:
            problems = ["Please choose a file."]
        else:
            try:
                definition = load_definition(upload.read().decode("utf-8"))
            except UnicodeDecodeError:
                problems = ["The file isn't UTF-8 text. Please save it as UTF-8 and try again."]
            except DefinitionError as exc:
                problems = exc.problems
            else:
                result = import_definition(
                    db.session,
                    definition,
                    current_user,
                    utcnow(),
                    source=f"upload:{upload.filename[:100]}",
                    # Like New and Duplicate: closed until staff have looked at it and open it.
                    new_status=SurveyStatus.closed,
                    retention=Retention.from_config(current_app.config),
                )
                db.session.commit()
                closed = " It is closed until you open it." if result.outcome == "created" else ""
                flash(OUTCOMES[result.outcome].format(n=result.version.number) + closed, "success")
                return redirect(url_for("surveys.manage_edit", slug=result.survey.slug))
        form.file.errors = list(form.file.errors) + problems
    status = 422 if form.errors else 200
    return render_template("surveys/manage/import.html", form=form), status
