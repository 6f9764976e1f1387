"""Staff pages: results, free-text answers, exports and the codebook."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, Response, render_template, request, stream_with_context, url_for
from flask_login import current_user
from sqlalchemy.orm import Session

from accounts.roles import staff_required
from membership import gifts_from_source
from sight.db import read_session, utcnow
from sight.extensions import db
from sight.staff import DashboardPanel, register_dashboard_panel
from surveys.export import EXTENSIONS, FORMATS, codebook_chunks, export_chunks, export_filename, plan_export, record_export
from surveys.insight import results_insight
from surveys.operations import ask_source
from surveys.results import ask_figures, asks_by_slug, text_answers, text_fields
from surveys.retention import personal_data_ids
from surveys.tallies import refresh_every_survey, survey_activity, tallied_origins, tallied_results
from surveys.staff_pages import display_zone, display_zone_name, refresh_tallies_of, refuse, survey_or_refuse
from surveys.staff_forms import ExportForm, ResultFilterForm, TextAnswersForm

DEFAULT_SURVEY = "reader-survey"


def _bad_filters(form: ResultFilterForm):
    refuse(400, "Those filters don't work", "Please check: " + " ".join(form.error_messages()))


@staff_required
def staff_results(slug: str):
    refresh_tallies_of(slug)
    with read_session(db.engine) as reader:
        survey = survey_or_refuse(reader, slug)
        form = ResultFilterForm(request.args, survey)
        export_form = ExportForm(request.args, survey)
        if not form.validate():
            return (
                render_template(
                    "surveys/staff/results.html",
                    survey=survey,
                    form=form,
                    export_form=export_form,
                    results=None,
                    personal_data_ids=personal_data_ids(survey),
                ),
                400,
            )
        results = tallied_results(reader, survey, form.response_filter(display_zone()), display_zone(), display_zone_name())
        definitions = {v.number: v.definition for v in survey.versions}
        origins = tallied_origins(reader, survey, form.response_filter(display_zone()), display_zone(), display_zone_name())
        ask = ask_figures(reader, survey.id)
        # Surveys asks membership through its one public function.
        ask.gifts = gifts_from_source(ask_source(survey))
        return render_template(
            "surveys/staff/results.html",
            survey=survey,
            form=form,
            export_form=export_form,
            results=results,
            origins=origins,
            ask=ask,
            personal_data_ids=personal_data_ids(survey),
            filters=form.query_args(),
            text_fields=text_fields(survey),
            insight=results_insight(results, definitions),
        )


@staff_required
def staff_text_answers(slug: str, field_name: str):
    refresh_tallies_of(slug)
    with read_session(db.engine) as reader:
        survey = survey_or_refuse(reader, slug)
        fields = text_fields(survey)
        if field_name not in fields:
            refuse(404, "No such question", f"This survey has no free-text question “{field_name}”.")
        form = TextAnswersForm(request.args, survey)
        context = dict(survey=survey, form=form, field_name=field_name, field_label=fields[field_name])
        if not form.validate():
            return render_template("surveys/staff/text_answers.html", page=None, results_filters={}, **context), 400
        page = text_answers(
            reader, survey.id, form.response_filter(display_zone()), field_name, form.q.data or "", form.page.data or 1
        )
        filters = {name: value for name, value in form.query_args().items() if name != "page"}
        results_filters = {name: value for name, value in filters.items() if name != "q"}
        return render_template(
            "surveys/staff/text_answers.html", page=page, filters=filters, results_filters=results_filters, **context
        )


def _closing(chunks, reader: Session):
    """Give the snapshot's connection back as soon as the last chunk is out."""
    try:
        yield from chunks
    finally:
        reader.close()


def _start_download(slug: str, what: str, make_chunks, mimetype: str, extension: str):
    """Plan the download in a snapshot, write the audit entry, then stream from that snapshot."""
    reader = read_session(db.engine)
    try:
        survey = survey_or_refuse(reader, slug)
        form = ExportForm(request.args, survey)
        if not form.validate():
            _bad_filters(form)
        zone = display_zone()
        plan = plan_export(reader, survey, form.response_filter(zone), form.layout.data, form.values.data, zone=zone)
        now = utcnow()
        record_export(
            db.session,
            plan=plan,
            what=what,
            rows=len(plan.codebook) if what == "codebook" else plan.row_count,
            filters=form.query_args(),
            actor=current_user._get_current_object(),
            via="web",
            now=now,
        )
        db.session.commit()
        chunks = make_chunks(reader, plan, form.bom.data == "1")
    except BaseException:
        reader.close()
        raise
    # content_type as given: a mimetype would get a second "; charset=utf-8".
    response = Response(stream_with_context(_closing(chunks, reader)), content_type=mimetype)
    # Also when the client goes away before the end, and the generator never finishes.
    response.call_on_close(reader.close)
    filename = export_filename(slug, what, extension, now.astimezone(display_zone()))
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@staff_required
def staff_export(slug: str, fmt: str):
    if fmt not in FORMATS:
        refuse(404, "We don't make that kind of file", "Exports come as .csv, .xlsx or .json (JSON Lines).")
    return _start_download(
        slug, fmt, lambda reader, plan, bom: export_chunks(reader, plan, fmt, bom), FORMATS[fmt], EXTENSIONS[fmt]
    )


@staff_required
def staff_codebook(slug: str):
    return _start_download(
        slug, "codebook", lambda reader, plan, bom: codebook_chunks(plan, bom), FORMATS["csv"], "csv"
    )


def survey_panel(session: Session, now: datetime) -> DashboardPanel:
    """Responses per survey, in total and this week, and whether a response really takes the
    couple of minutes the invitation promises."""
    refresh_every_survey(session, display_zone_name())
    activity = survey_activity(session, now, display_zone(), display_zone_name())
    asks = asks_by_slug(session)
    panel = DashboardPanel(title="Reader surveys")
    for survey in activity:
        panel.figures += [
            (f"{survey.title}: finished responses", f"{survey.total:,}"),
            (f"{survey.title}: this week (from Monday)", f"{survey.this_week:,}"),
            (f"{survey.title}: median time to finish", survey.duration_text),
            (
                f"{survey.title}: Sight+ ask clicked",
                f"{asks[survey.slug].clicks:,} of {asks[survey.slug].views:,} thank-you pages ({asks[survey.slug].click_rate})",
            ),
        ]
        if len(survey.versions) > 1:
            panel.figures += [
                (f"{survey.title}, version {version.number}: median time to finish", survey.version_text(version))
                for version in survey.versions
            ]
    # The panel has one link: the default survey's results, else the first survey's.
    linked = next((s for s in activity if s.slug == DEFAULT_SURVEY), activity[0] if activity else None)
    if linked is not None:
        panel.link_url = url_for("surveys.staff_results", slug=linked.slug)
        panel.link_text = f"Results of {linked.title}"
    return panel


def init_app(app: Flask) -> None:
    register_dashboard_panel(app, survey_panel)
