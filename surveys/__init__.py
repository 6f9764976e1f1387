"""Surveys: definitions, taking a survey, responses, results and exports."""

from __future__ import annotations

from flask import Flask

from accounts.personal_data import register_erasure_step, register_personal_data
from sight.cli import register_seeder
from surveys import models  # noqa: F401  (tables known to migrations)
from surveys import staff_views
from surveys.blueprint import bp
from surveys.operations import seed_default_survey
from surveys.personal_data import survey_responses_section, unlink_survey_responses


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    register_seeder(app, seed_default_survey)
    staff_views.init_app(app)
    register_personal_data(app, "surveys", survey_responses_section)
    register_erasure_step(app, unlink_survey_responses)
