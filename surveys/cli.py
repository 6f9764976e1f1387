"""`flask surveys …`: import and dump definitions, export responses (with the web export's filters)."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from sight.db import read_session, utcnow
from sight.extensions import db
from sight.jobs import job_progress, quiet_option
from surveys.definition import DefinitionError, dump_definition, load_definition
from surveys.export import FORMATS, codebook_chunks, export_chunks, plan_export, record_export
from surveys.models import Survey, SurveyVersion
from surveys.operations import definition_for_download, import_definition, survey_by_slug

from surveys.retention import Retention, purge_survey
from surveys.staff_forms import ExportForm
from surveys.tallies import refresh_tallies, untallied_count

OUTCOMES = {
    "created": "created (version {n})",
    "new_version": "saved as version {n}; earlier responses keep their version",
    "updated": "version {n} updated in place (it has no responses yet)",
    "unchanged": "unchanged (version {n})",
}


@click.command("import")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(file: Path):
    """Validate a survey definition (YAML or JSON) and create or update its survey."""
    try:
        definition = load_definition(file.read_text(encoding="utf-8"))
    except (DefinitionError, UnicodeDecodeError) as exc:
        problems = exc.problems if isinstance(exc, DefinitionError) else [f"not UTF-8 text ({exc.reason})"]
        for problem in problems:
            click.echo(f"{file}: {problem}", err=True)
        raise click.ClickException(f"{len(problems)} problem(s); nothing was imported.") from exc
    result = import_definition(
        db.session,
        definition,
        None,
        utcnow(),
        source=f"cli:{file.name}",
        retention=Retention.from_config(current_app.config),
    )
    db.session.commit()
    click.echo(f"Survey {result.survey.slug}: " + OUTCOMES[result.outcome].format(n=result.version.number))


@click.command("dump")
@with_appcontext
@click.argument("slug")
@click.option("--version", "number", type=int, help="Which version (default: the current one).")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def dump_command(slug: str, number: int | None, fmt: str):
    """Print a survey's definition, ready to edit and import again."""
    survey = survey_by_slug(db.session, slug)
    if survey is None:
        raise click.ClickException(f"No survey with slug {slug!r}.")
    version = survey.current_version
    if number is not None:
        version = db.session.scalar(
            select(SurveyVersion).where(SurveyVersion.survey_id == survey.id, SurveyVersion.number == number)
        )
        if version is None:
            raise click.ClickException(f"Survey {slug!r} has no version {number}.")
    click.echo(dump_definition(definition_for_download(survey, version), fmt), nl=False)


@click.command("export")
@with_appcontext
@quiet_option
@click.argument("slug")
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), required=True, help="File format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File to write.")
@click.option("--from", "date_from", metavar="YYYY-MM-DD", help="First day (in DISPLAY_TIMEZONE).")
@click.option("--to", "date_to", metavar="YYYY-MM-DD", help="Last day (in DISPLAY_TIMEZONE).")
@click.option("--version", metavar="N", help="Only responses to this version.")
@click.option("--status", help="finished (default), unfinished or all.")
@click.option("--sight-plus", "sight_plus", help="yes or no: only linked responses with that Sight+ status.")
@click.option("--utm-source", "utm_source", help="Only responses whose link had this utm_source.")
@click.option("--layout", help="summary (default) or details: one 0/1 column per option.")
@click.option("--values", help="labels (default) or codes.")
@click.option("--bom", is_flag=True, help="Start the CSV with a byte-order mark, for Excel.")
@click.option(
    "--codebook",
    "codebook_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the codebook (CSV) to this file.",
)
def export_command(
    slug, fmt, output, date_from, date_to, version, status, sight_plus, utm_source, layout, values, bom, codebook_file
):
    """Export a survey's responses, as the staff web page does."""
    given = {
        "from": date_from,
        "to": date_to,
        "version": version,
        "status": status,
        "sight_plus": sight_plus,
        "utm_source": utm_source,
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
        plan = plan_export(reader, survey, form.response_filter(zone), form.layout.data, form.values.data, zone=zone)
        for what, rows in [(fmt, plan.row_count)] + ([("codebook", len(plan.codebook))] if codebook_file else []):
            record_export(
                db.session,
                plan=plan,
                what=what,
                rows=rows,
                filters=form.query_args(),
                actor=None,
                via=f"cli ({getpass.getuser()})",
                now=utcnow(),
            )
        db.session.commit()
        with job_progress() as progress:
            _write_completely(output, export_chunks(reader, plan, fmt, form.bom.data == "1", progress))
        if codebook_file is not None:
            _write_completely(codebook_file, codebook_chunks(plan, form.bom.data == "1"))
    click.echo(f"Wrote {plan.row_count} responses to {output}")
    if codebook_file is not None:
        click.echo(f"Wrote the codebook to {codebook_file}")


def _write_completely(target: Path, chunks) -> None:
    """Written beside the target and renamed when complete, so that a failed export never
    leaves a file that looks finished."""
    partial = target.with_name(target.name + ".part")
    try:
        with partial.open("wb") as file:
            for chunk in chunks:
                file.write(chunk)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


@click.command("purge")
@with_appcontext
@quiet_option
def purge_command():
    """Apply each survey's retention: remove old free-text and email answers and old unfinished
    responses. Run it daily from cron; each survey is committed and audited on its own."""
    slugs = list(db.session.scalars(select(Survey.slug).order_by(Survey.slug)))
    lines = []
    with job_progress() as progress:
        progress.start(len(slugs), "Surveys")
        for slug in slugs:
            survey = survey_by_slug(db.session, slug)
            counts = purge_survey(db.session, survey, None, utcnow())
            db.session.commit()
            lines.append(
                f"Survey {slug}: free text removed from {counts.responses_with_text_removed} responses "
                f"({counts.answers_removed} answers); {counts.unfinished_deleted} unfinished responses deleted."
            )
            progress.advance()
    # After the bar, which would otherwise be drawn over them.
    for line in lines:
        click.echo(line)


# Responses counted per transaction by `flask surveys tally`.
TALLY_CHUNK = 20_000


@click.command("tally")
@with_appcontext
@quiet_option
def tally_command():
    """Count the finished responses not yet in the results' tallies (after an upgrade, so that
    the first look at a large survey's results does not do it)."""
    zone_name = current_app.config["DISPLAY_TIMEZONE"]
    surveys = db.session.scalars(select(Survey).order_by(Survey.slug)).all()
    lines = []
    with job_progress() as progress:
        progress.start(sum(untallied_count(db.session, survey.id) for survey in surveys), "Counting responses")
        for survey in surveys:
            added = 0
            # A commit per chunk: a million responses are not one transaction holding the write lock
            # against readers finishing the survey, and what was counted stays counted if stopped.
            while counted := refresh_tallies(db.session, survey.id, zone_name, limit=TALLY_CHUNK):
                db.session.commit()
                added += counted
                progress.advance(counted)
            db.session.commit()
            lines.append(f"{survey.slug}: {added} responses counted.")
    for line in lines:
        click.echo(line)


COMMANDS = [import_command, dump_command, export_command, purge_command, tally_command]
