"""`flask surveys import FILE` and `flask surveys dump SLUG`."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from sight.db import utcnow
from sight.extensions import db
from surveys.blueprint import bp
from surveys.definition import DefinitionError, dump_definition, load_definition
from surveys.models import SurveyVersion
from surveys.operations import definition_for_download, import_definition, survey_by_slug

OUTCOMES = {
    "created": "created (version {n})",
    "new_version": "saved as version {n}; earlier responses keep their version",
    "updated": "version {n} updated in place (it has no responses yet)",
    "unchanged": "unchanged (version {n})",
}


@bp.cli.command("import")
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
    result = import_definition(db.session, definition, None, utcnow(), source=f"cli:{file.name}")
    db.session.commit()
    click.echo(f"Survey {result.survey.slug}: " + OUTCOMES[result.outcome].format(n=result.version.number))


@bp.cli.command("dump")
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
