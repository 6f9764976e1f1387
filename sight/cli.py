"""CLI wiring: `flask seed` runs the seed step that each area of the product registers."""

from __future__ import annotations

from collections.abc import Callable

import click
from flask import Flask, current_app
from sqlalchemy.orm import Session

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
