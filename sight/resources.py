"""Where the app's templates, static files and migrations are.

The repository keeps them at its top (templates/, static/, migrations/); the wheel ships them
inside this package (sight/templates, …; see pyproject.toml). So an installed app finds them
beside its own code, whatever its working directory, and a checkout finds them at its top."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def shipped_folder(name: str) -> Path:
    inside = PACKAGE / name
    return inside if inside.is_dir() else PACKAGE.parent / name


TEMPLATES = shipped_folder("templates")
STATIC = shipped_folder("static")
MIGRATIONS = shipped_folder("migrations")
