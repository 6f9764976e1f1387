"""Pages of the donor's year: stopping lapse reminders, giving statements (web page and PDF), the
staff page that counts the statements sent, and donor retention for staff (page, chart and CSV).

Every URL is in `membership.blueprint`; these functions are the views it names."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from flask import Response, abort, current_app, render_template, request
from flask_login import current_user

from membership.context import context_for
from membership.forms import StopLapseRemindersForm
from membership.lapse import load_opt_out, stop_lapse_reminders
from membership.retention import CSV_HEADERS, chart_of, financial_years, months, retention, retention_rows
from membership.statements import (
    financial_year_name,
    financial_year_of,
    givers_by_year,
    pdf_of,
    statement_for,
    statements_sent_by_year,
)
from sight.audit import record_audit
from sight.db import utcnow
from sight.errors import render_error
from sight.extensions import db


MONTHS_SHOWN = 24
FINANCIAL_YEARS_SHOWN = 5


def stop_reminders(token: str):
    """A lapse reminder's "no more reminders" link: a page with a button, which stops them."""
    user_id = load_opt_out(current_app.config["SECRET_KEY"], token)
    if user_id is None:
        return render_error(404, "That link isn't valid", "The link may be incomplete. Please copy it from the email again.")
    form = StopLapseRemindersForm()
    stopped = False
    if form.validate_on_submit():
        stop_lapse_reminders(db.session, user_id, utcnow())
        db.session.commit()
        stopped = True
    return render_template("membership/stop_reminders.html", form=form, stopped=stopped)


def _start_month() -> int:
    return current_app.config["FINANCIAL_YEAR_START_MONTH"]


def _my_statement(year: int, *, for_pdf: bool) -> str:
    found = statement_for(db.session, current_user.id, year, context_for(current_app).settings, start_month=_start_month())
    if found is None:
        abort(404)
    return render_template("membership/statement.html", statement=found, for_pdf=for_pdf)


def statement(year: int):
    return _my_statement(year, for_pdf=False)


def statement_pdf(year: int):
    pdf = pdf_of(_my_statement(year, for_pdf=True), Path(current_app.static_folder) / "statement.css")
    return Response(
        pdf, mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="sight-giving-statement-{year}.pdf"'},
    )


def staff_statements():
    """How many giving statements were sent per financial year, beside how many donors gave in it."""
    zone = current_app.config["DISPLAY_TIMEZONE"]
    this_year = financial_year_of(utcnow(), zone, _start_month())
    sent = statements_sent_by_year(db.session)
    years = sorted(set(sent) | {this_year, this_year - 1}, reverse=True)
    givers = givers_by_year(db.session, years, zone, _start_month())
    rows = [(year, financial_year_name(year, _start_month()), givers[year], sent.get(year, 0)) for year in years]
    return render_template("membership/staff/statements.html", rows=rows, this_year=this_year)


def _retention_figures(by: str):
    config, now = current_app.config, utcnow()
    zone = config["DISPLAY_TIMEZONE"]
    periods = (
        financial_years(now, zone, _start_month(), FINANCIAL_YEARS_SHOWN)
        if by == "year"
        else months(now, zone, MONTHS_SHOWN)
    )
    return retention(db.session, periods, context_for(current_app).settings, now)


def _retention_by() -> str:
    return "year" if request.args.get("by") == "year" else "month"


def staff_retention():
    """Donor retention by month (the last 24) or by financial year, with a chart of the months."""
    by = _retention_by()
    figures = _retention_figures(by)
    db.session.commit()  # the member counts of settled months, kept for the next look
    return render_template(
        "membership/staff/retention.html", by=by, figures=figures, chart=chart_of(figures) if by == "month" else None,
    )


def staff_retention_export():
    by = _retention_by()
    figures = _retention_figures(by)
    record_audit(db.session, actor=current_user, action="membership.retention_export", details={"by": by}, now=utcnow())
    db.session.commit()
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(CSV_HEADERS)
    writer.writerows(retention_rows(figures))
    return Response(
        buffer.getvalue(), mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="sight-retention-by-{by}.csv"'},
    )
