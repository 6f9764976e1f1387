"""`flask surveys export SLUG --format csv|xlsx|json -o FILE`, with the web export's filters."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import current_app
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from sight.db import read_session, utcnow
from sight.extensions import db
from surveys.blueprint import bp
from surveys.export import FORMATS, export_chunks, plan_export, record_export
from surveys.models import Survey
from surveys.staff_forms import ExportForm


@bp.cli.command("export")
@click.argument("slug")
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), required=True, help="File format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File to write.")
@click.option("--from", "date_from", metavar="YYYY-MM-DD", help="First day (Sydney time).")
@click.option("--to", "date_to", metavar="YYYY-MM-DD", help="Last day (Sydney time).")
@click.option("--version", metavar="N", help="Only responses to this version.")
@click.option("--status", help="finished (default), unfinished or all.")
@click.option("--sight-plus", "sight_plus", help="yes or no: only linked responses with that Sight+ status.")
@click.option("--layout", help="summary (default) or details: one 0/1 column per option.")
@click.option("--values", help="labels (default) or codes.")
@click.option("--bom", is_flag=True, help="Start the CSV with a byte-order mark, for Excel.")
def export_command(slug, fmt, output, date_from, date_to, version, status, sight_plus, layout, values, bom):
    """Export a survey's responses, as the staff web page does."""
    given = {
        "from": date_from,
        "to": date_to,
        "version": version,
        "status": status,
        "sight_plus": sight_plus,
        "layout": layout,
        "values": values,
        "bom": "1" if bom else None,
    }
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    with read_session(db.engine) as reader:
        survey = reader.scalar(select(Survey).where(Survey.slug == slug))
        if survey is None:
            raise click.ClickException(f"There is no survey with the slug {slug!r}.")
        form = ExportForm(MultiDict({k: v for k, v in given.items() if v is not None}), survey)
        if not form.validate():
            raise click.UsageError(" ".join(form.error_messages()))
        plan = plan_export(reader, survey, form.response_filter(zone), form.layout.data, form.values.data)
        record_export(
            db.session,
            plan=plan,
            what=fmt,
            rows=plan.row_count,
            filters=form.query_args(),
            actor=None,
            via=f"cli ({getpass.getuser()})",
            now=utcnow(),
        )
        db.session.commit()
        # Written beside the target and renamed when complete, so a failed export never
        # leaves a file that looks finished.
        partial = output.with_name(output.name + ".part")
        try:
            with partial.open("wb") as file:
                for chunk in export_chunks(reader, plan, fmt, form.bom.data == "1"):
                    file.write(chunk)
            os.replace(partial, output)
        finally:
            partial.unlink(missing_ok=True)
    click.echo(f"Wrote {plan.row_count} responses to {output}")
