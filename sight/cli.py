"""CLI wiring: `flask seed` runs the seed step that each area of the product registers;
`flask db backup` and `flask db restore` join Flask-Migrate's `flask db` commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_migrate.cli import db as migrate_commands
from sqlalchemy.orm import Session

from sight.backup import BackupError, backup_database, restore_database
from sight.db import utcnow
from sight.extensions import db

Seeder = Callable[[Session, Flask], list[str]]


def register_seeder(app: Flask, seeder: Seeder) -> None:
    """Add a seed step; it returns lines to print and must be safe to run again."""
    app.extensions.setdefault("sight_seeders", []).append(seeder)


def run_seeders(app: Flask) -> list[str]:
    lines: list[str] = []
    for seeder in app.extensions.get("sight_seeders", []):
        lines.extend(seeder(db.session, app))
    db.session.commit()
    return lines


def init_app(app: Flask) -> None:
    @app.cli.command("seed")
    def seed_command():
        """Create development data (safe to run again)."""
        for line in run_seeders(current_app._get_current_object()):
            click.echo(line)


@migrate_commands.command("backup")
@click.argument("path", type=click.Path())
@click.option("--keep", type=click.IntRange(min=1), help="With a folder: keep only this many newest backups in it.")
@with_appcontext
def backup_command(path: str, keep: int | None):
    """Copy the database to PATH while the site runs (a folder, or a PATH ending in /: a dated file in it).

    SQLite: its online backup API. PostgreSQL: pg_dump, from PATH."""
    try:
        made = backup_database(db.engine.url, Path(path), utcnow(), path.endswith("/"), keep)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Backed up the database to {made.path} ({made.size:,} bytes).")
    for old in made.pruned:
        click.echo(f"Removed the older backup {old}.")


@migrate_commands.command("restore")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
@with_appcontext
def restore_command(path: Path, force: bool):
    """Replace the database with the backup at PATH (refused while it holds data, without --force)."""
    url = db.engine.url
    # The app's own connections would keep the database open (SQLite) or locked (PostgreSQL).
    db.engine.dispose()
    try:
        tables = restore_database(url, path, force)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Restored {tables} tables from {path}. Run `flask db upgrade` if the backup is older than this release.")
