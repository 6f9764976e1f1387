"""Bare extension objects; `create_app` binds them to the application."""

from __future__ import annotations

from functools import cached_property

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from sight.db import Base

db = SQLAlchemy(model_class=Base)
csrf = CSRFProtect()
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address)


class Migrations:
    """Stands in `app.extensions["migrate"]` for Flask-Migrate's own record of an app.

    Importing Flask-Migrate imports Alembic, a third of the app's import time, so that it is only
    imported by what migrates: `flask db` (sight.cli), `flask doctor`'s check, migrations/env.py
    and the tests. They read the same attributes as from Flask-Migrate's record."""

    def __init__(self, db: SQLAlchemy, directory: str, **options) -> None:
        self.db = db
        self.directory = directory
        self.options = options

    @cached_property
    def migrate(self):
        from flask_migrate import Migrate

        return Migrate(db=self.db, directory=self.directory, **self.options)

    @property
    def configure_args(self) -> dict:
        return self.migrate.alembic_ctx_kwargs

    @property
    def metadata(self):
        return self.db.metadata


def init_migrations(app: Flask, directory: str, **options) -> None:
    app.extensions["migrate"] = Migrations(db, directory, **options)
