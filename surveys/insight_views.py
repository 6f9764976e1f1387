"""Staff insight pages: cross-tabs (with their CSV), Sight+ members beside other readers, one
whole response with previous and next, each survey's promise, and every chart as SVG or PNG.

Reads run in a read session (sight.db.read_session), like the results page. URLs are
in surveys/blueprint.py."""

from __future__ import annotations


from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from accounts.roles import staff_required
from sight.audit import record_audit
from sight.db import read_session, utcnow
from sight.extensions import db
from surveys import charts, insight
from surveys.builder_forms import PromiseForm
from surveys.crosstabs import crosstab_sheet
from surveys.drafts import set_promise
from surveys.export import FORMATS, csv_chunks, export_filename, neutralised_rows
from surveys.insight_forms import CrossTabForm
from surveys.models import Survey
from surveys.staff_pages import display_zone, display_zone_name, refresh_tallies_of, refuse, survey_or_refuse
from surveys.tallies import tallied_crosstab, tallied_results, tallied_side_by_side
from surveys.staff_forms import ResultFilterForm


def _bad(form) -> None:
    refuse(400, "Those choices don't work", "Please check: " + " ".join(form.error_messages()))


def _reader():
    return read_session(db.engine)


# --- cross-tabs -------------------------------------------------------------------------------------


def _crosstab(reader, slug: str):
    survey = survey_or_refuse(reader, slug)
    form = CrossTabForm(request.args, survey)
    form.offer(insight.dimensions_for(survey))
    if not form.validate():
        return survey, form, None
    table = tallied_crosstab(
        reader, survey, form.response_filter(display_zone()), form.rows.data, form.columns.data, display_zone(), display_zone_name()
    )
    return survey, form, table


@staff_required
def staff_crosstab(slug: str):
    refresh_tallies_of(slug)
    with _reader() as reader:
        survey, form, table = _crosstab(reader, slug)
        chart = insight.crosstab_chart(table, f"{table.rows.label} by {table.columns.label}") if table else None
        return (
            render_template(
                "surveys/staff/crosstab.html",
                survey=survey,
                form=form,
                table=table,
                chart=charts.to_svg(chart, in_page=True) if chart else None,
                args=form.query_args() | {"rows": form.rows.data},
            ),
            200 if table else 400,
        )


@staff_required
def staff_crosstab_csv(slug: str):
    refresh_tallies_of(slug)
    with _reader() as reader:
        survey, form, table = _crosstab(reader, slug)
        if table is None:
            _bad(form)
        headers, numeric, rows = crosstab_sheet(table)
        body = b"".join(csv_chunks(neutralised_rows(headers, numeric, rows)))
    now = utcnow()
    record_audit(
        db.session,
        actor=current_user._get_current_object(),
        action="survey.export",
        target=f"survey:{slug}",
        details={"what": "crosstab", "rows": len(table.table), "filters": form.query_args() | {"rows": form.rows.data}},
        now=now,
    )
    db.session.commit()
    response = Response(body, mimetype=FORMATS["csv"])
    filename = export_filename(slug, f"crosstab-{form.rows.data}-by-{form.columns.data}", "csv", now.astimezone(display_zone()))
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# --- Sight+ members beside other readers ---------------------------------------------------------


@staff_required
def staff_side_by_side(slug: str):
    refresh_tallies_of(slug)
    with _reader() as reader:
        survey = survey_or_refuse(reader, slug)
        form = ResultFilterForm(request.args, survey)
        if not form.validate():
            return render_template("surveys/staff/side_by_side.html", survey=survey, form=form, tables=None), 400
        tables = tallied_side_by_side(reader, survey, form.response_filter(display_zone()), display_zone(), display_zone_name())
        return render_template(
            "surveys/staff/side_by_side.html", survey=survey, form=form, tables=tables, filters=form.query_args()
        )


# --- one response --------------------------------------------------------------------------------


def _selection(reader, slug: str) -> tuple[Survey, ResultFilterForm]:
    """The survey and the filters of the query string, which must be valid."""
    survey = survey_or_refuse(reader, slug)
    form = ResultFilterForm(request.args, survey)
    if not form.validate():
        _bad(form)
    return survey, form


@staff_required
def staff_first_response(slug: str):
    with _reader() as reader:
        survey, form = _selection(reader, slug)
        first = insight.first_response_id(reader, survey, form.response_filter(display_zone()))
    if first is None:
        flash("No responses match these filters.", "info")
        return redirect(url_for("surveys.staff_results", slug=slug, **form.query_args()))
    return redirect(url_for("surveys.staff_response", slug=slug, response_id=first, **form.query_args()))


@staff_required
def staff_response(slug: str, response_id: int):
    with _reader() as reader:
        survey, form = _selection(reader, slug)
        detail = insight.response_detail(reader, survey, response_id, form.response_filter(display_zone()))
        if detail is None:
            refuse(404, "No such response", f"This survey has no response number {response_id}.")
        return render_template("surveys/staff/response.html", survey=survey, detail=detail, filters=form.query_args())


# --- charts as files -----------------------------------------------------------------------------


def _chart(reader, survey: Survey, name: str) -> charts.Chart | None:
    if name.startswith("crosstab"):
        _, form, table = _crosstab(reader, survey.slug)
        if table is None:
            _bad(form)
        return insight.crosstab_chart(table, f"{survey.title}: {table.rows.label} by {table.columns.label}")
    _, form = _selection(reader, survey.slug)
    results = tallied_results(reader, survey, form.response_filter(display_zone()), display_zone(), display_zone_name())
    if name == "days":
        return insight.days_chart(results, f"{survey.title}: responses per day")
    kind, _, qid = name.partition("-")
    found = insight.question_insights(results, {v.number: v.definition for v in survey.versions}).get(qid)
    question = insight.question_result(results, qid)
    if found is None or question is None:
        return None
    if kind == "q":
        return found.chart(f"{question.label} (n = {found.base:,})")
    if kind == "nps":
        return found.nps_chart(f"{question.label}: Net Promoter Score {found.nps.score:+.0f}") if found.nps else None
    return None


@staff_required
def staff_chart(slug: str, name: str, fmt: str):
    refresh_tallies_of(slug)
    with read_session(db.engine) as reader:
        survey = survey_or_refuse(reader, slug)
        chart = _chart(reader, survey, name)
    if chart is None:
        refuse(404, "No such chart", "This survey has no chart by that name.")
    framed = charts.with_title(chart)
    if fmt == "png":
        response = Response(charts.to_png(framed), mimetype="image/png")
    else:
        response = Response(str(charts.to_svg(framed)), mimetype="image/svg+xml")
    response.headers["Content-Disposition"] = f'attachment; filename="{slug}-{name}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the promise ---------------------------------------------------------------------------------


@staff_required
def manage_promise(slug: str):
    survey = survey_or_refuse(db.session, slug)
    form = PromiseForm()
    if request.method == "GET":
        form.minutes.data = survey.promise_minutes
    if form.validate_on_submit():
        set_promise(db.session, survey, form.minutes.data, current_user._get_current_object(), utcnow())
        db.session.commit()
        flash(f"Saved: the survey promises {form.minutes.data} minute{'s' if form.minutes.data != 1 else ''}.", "success")
        return redirect(url_for("surveys.manage_edit", slug=slug))
    return render_template("surveys/staff/promise.html", survey=survey, form=form), 422 if form.errors else 200
