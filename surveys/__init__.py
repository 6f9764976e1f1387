"""Surveys: definitions, taking a survey, responses, results and exports."""

from __future__ import annotations

from flask import Flask

from surveys import models  # noqa: F401  (tables known to migrations)
from surveys import export_cli, staff_views, views  # noqa: F401  (routes and commands on the blueprint)
from surveys.blueprint import bp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    staff_views.init_app(app)
