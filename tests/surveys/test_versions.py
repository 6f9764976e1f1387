"""Versions, import and dump: changed questions make a new version once the survey has
responses; old responses keep their version and its labels. `flask seed` loads the default
survey once."""

from __future__ import annotations

import copy
import json

from sqlalchemy import func, select

from sight.db import utcnow
from sight.extensions import db
from sight.models import AuditEntry
from surveys.definition import load_definition, validate_definition
from surveys.definition.walk import iter_questions, option_label
from surveys.models import Survey, SurveyVersion
from surveys.operations import DEFAULT_SURVEY_FILE, import_definition, survey_by_slug
from tests.surveys.conftest import ALL_TYPES, responses
from tests.surveys.test_taking import GOOD_PAGE_1, GOOD_PAGE_2


def _question(definition, question_id):
    return next((q for q in iter_questions(definition) if q["id"] == question_id), None)


def relabelled(label: str = "Deep blue") -> dict:
    data = copy.deepcopy(ALL_TYPES)
    data["pages"][0]["questions"][0]["options"][1]["label"] = label
    return validate_definition(data)


def import_now(app, definition: dict) -> str:
    with app.app_context():
        result = import_definition(db.session, definition, None, utcnow())
        db.session.commit()
        return f"{result.outcome}:{result.version.number}"


def test_changes_without_responses_update_the_version_in_place(app, make_survey):
    make_survey()
    assert import_now(app, validate_definition(ALL_TYPES)) == "unchanged:1"
    assert import_now(app, relabelled()) == "updated:1"
    with app.app_context():
        assert db.session.scalar(select(func.count(SurveyVersion.id))) == 1


def test_changed_questions_after_a_response_make_a_new_version_and_old_labels_stay(app, make_survey, reader_for):
    slug = make_survey()
    reader = reader_for(slug)
    reader.start()  # even an unfinished response counts
    assert import_now(app, relabelled()) == "new_version:2"
    reader.send(1, GOOD_PAGE_1)
    reader.send(2, GOOD_PAGE_2, action="submit")
    old = responses(app)[0]
    assert old.version.number == 1  # it goes on answering the version it started

    fresh = reader_for(slug, app.test_client())
    fresh.start()
    assert "Deep blue" in fresh.client.get(f"/surveys/{slug}/page/1").get_data(as_text=True)
    fresh.send(1, GOOD_PAGE_1)
    fresh.send(2, GOOD_PAGE_2, action="submit")
    first, second = responses(app)
    assert (first.version.number, second.version.number) == (1, 2)
    assert first.answers["colour"] == second.answers["colour"] == "blue"
    colour_v1 = _question(first.version.definition, "colour")
    colour_v2 = _question(second.version.definition, "colour")
    assert option_label(colour_v1, "blue") == "Blue"
    assert option_label(colour_v2, "blue") == "Deep blue"


def test_text_and_settings_edits_never_need_a_new_version(app, make_survey, reader_for):
    slug = make_survey()
    reader_for(slug).start()
    data = copy.deepcopy(ALL_TYPES)
    data.update(title="A better title", intro="New intro", closing="New closing")
    data["settings"]["resume_days"] = 30
    assert import_now(app, validate_definition(data)) == "updated:1"
    with app.app_context():
        survey = survey_by_slug(db.session, slug)
        assert survey.title == "A better title"
        assert survey.current_version.definition["settings"]["resume_days"] == 30
        actions = list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
        assert actions == ["survey.create", "survey.edit"]


def test_cli_import_reports_every_problem_and_imports_nothing(app, runner, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("slug: bad\ntitle: Bad\npages:\n  - id: p\n    questions:\n      - {id: q, type: singel, label: Q}\n")
    result = runner.invoke(args=["surveys", "import", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}: pages[0].questions[0]: unknown type 'singel'" in result.output
    assert "nothing was imported" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Survey.id))) == 0


def test_cli_import_then_dump_round_trips(app, runner, tmp_path):
    result = runner.invoke(args=["surveys", "import", str(DEFAULT_SURVEY_FILE)])
    assert result.exit_code == 0, result.output
    assert "Survey reader-survey: created (version 1)" in result.output
    again = runner.invoke(args=["surveys", "import", str(DEFAULT_SURVEY_FILE)])
    assert "unchanged (version 1)" in again.output

    dumped = runner.invoke(args=["surveys", "dump", "reader-survey"])
    assert dumped.exit_code == 0
    assert "version: 1\n" in dumped.output
    assert load_definition(dumped.output) == load_definition(DEFAULT_SURVEY_FILE.read_text())
    as_json = runner.invoke(args=["surveys", "dump", "reader-survey", "--format", "json"])
    assert json.loads(as_json.output)["pages"][0]["id"] == "reading"
    assert runner.invoke(args=["surveys", "dump", "nope"]).exit_code == 1
    assert runner.invoke(args=["surveys", "dump", "reader-survey", "--version", "7"]).exit_code == 1


def test_flask_seed_loads_the_default_survey_once(app, runner):
    first = runner.invoke(args=["seed"])
    assert "Survey reader-survey: created (version 1)." in first.output
    second = runner.invoke(args=["seed"])
    assert "Survey reader-survey: already there." in second.output
    with app.app_context():
        assert db.session.scalar(select(func.count(SurveyVersion.id))) == 1
        assert survey_by_slug(db.session, "reader-survey").status.value == "open"


def test_the_shipped_survey_is_a_new_version_for_a_site_that_has_answers_to_the_old_one(app, reader_survey, reader_for):
    """Version 1 asked for an email and about Sight+; importing the shipped file over a survey
    with answers makes version 2 and the old answers keep version 1."""
    shipped = load_definition(DEFAULT_SURVEY_FILE.read_text())
    old = copy.deepcopy(shipped)
    old["pages"][-1]["questions"] += [
        {"id": "hear_about_sight_plus", "type": "single_choice", "label": "Would you like to hear about Sight+?",
         "options": [{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}]},
        {"id": "contact_email", "type": "email", "label": "Your email address",
         "show_if": {"question": "hear_about_sight_plus", "equals": "yes"}},
    ]
    assert import_now(app, validate_definition(old)) == "updated:1"
    reader_for("reader-survey").start()
    assert import_now(app, shipped) == "new_version:2"
    [answered] = responses(app)
    assert answered.version.number == 1
    assert _question(answered.version.definition, "contact_email") is not None
    with app.app_context():
        current = survey_by_slug(db.session, "reader-survey").current_version
        assert current.number == 2 and _question(current.definition, "contact_email") is None
