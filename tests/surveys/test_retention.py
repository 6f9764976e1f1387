"""Retention: free text and email answers go after the survey's months, unfinished responses
after its days; `flask surveys purge` does it from cron, audited with counts; staff set it."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from sight.extensions import db
from sight.models import AuditEntry
from surveys.models import Response, Survey, SurveyAnswerWord
from surveys.retention import months_before
from surveys.tallies import refresh_tallies
from tests.helpers import submit_form
from tests.surveys.staff.conftest import V1, add_response, make_survey
from tests.surveys.staff.test_builder_pages import create as create_built
from tests.surveys.staff.test_builder_pages import current as built

UTC = timezone.utc
NOW = datetime.now(UTC)
OLD_ANSWERS = {
    "read_frequency": "daily", "found_via": "other", "found_via_other": "My aunt", "nickname": "Zoë",
    "comment": "Lovely", "email": "zoe@example.com", "age": 42, "agree": {"news": "3"},
}  # fmt: skip


def test_months_before_keeps_the_day_or_takes_the_months_last():
    assert months_before(datetime(2026, 3, 31, 9, tzinfo=UTC), 1) == datetime(2026, 2, 28, 9, tzinfo=UTC)
    assert months_before(datetime(2026, 1, 15, tzinfo=UTC), 24) == datetime(2024, 1, 15, tzinfo=UTC)


def test_purge_removes_old_free_text_and_old_unfinished_responses_and_audits_counts(app, session):
    survey = make_survey(session, (V1,))
    survey.text_retention_months, survey.unfinished_retention_days = 12, 30
    session.commit()
    old = add_response(session, survey, dict(OLD_ANSWERS), submitted_at=NOW - timedelta(days=400))
    recent = add_response(session, survey, dict(OLD_ANSWERS), submitted_at=NOW - timedelta(days=300))
    stale = add_response(session, survey, {"nickname": "half"}, submitted_at=None, started_at=NOW - timedelta(days=31))
    fresh = add_response(session, survey, {"nickname": "half"}, submitted_at=None, started_at=NOW - timedelta(days=29))
    ids = old.id, recent.id, stale.id, fresh.id
    # Counted for the results, and its words indexed for search, as the results page would.
    refresh_tallies(session, survey.id, "Australia/Sydney")
    session.commit()
    assert session.scalar(select(SurveyAnswerWord.id).where(SurveyAnswerWord.response_id == ids[0], SurveyAnswerWord.word == "lovely"))
    session.rollback()  # reading began a transaction; the command writes on its own

    result = app.test_cli_runner().invoke(args=["surveys", "purge"])
    assert result.exit_code == 0, result.output
    assert "reader-survey: free text removed from 1 responses (4 answers); 1 unfinished responses deleted" in result.output

    with app.app_context():
        kept = {r.id: r.answers for r in db.session.scalars(select(Response))}
        assert set(kept) == {ids[0], ids[1], ids[3]}
        assert kept[ids[0]] == {"read_frequency": "daily", "found_via": "other", "age": 42, "agree": {"news": "3"}}
        assert kept[ids[1]] == OLD_ANSWERS
        [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "survey.purge")).all()
        assert entry.target == "survey:reader-survey" and entry.actor_email is None
        assert (entry.details["responses_with_text_removed"], entry.details["answers_removed"], entry.details["unfinished_deleted"]) == (1, 4, 1)
        assert "Zoë" not in str(entry.details)
        # The search index forgets the removed words too.
        assert db.session.scalars(select(SurveyAnswerWord.word).where(SurveyAnswerWord.response_id == ids[0])).all() == []

    again = app.test_cli_runner().invoke(args=["surveys", "purge"])
    assert "free text removed from 0 responses (0 answers); 0 unfinished responses deleted" in again.output


def test_new_surveys_take_the_configured_retention(make_app, tmp_path):
    app = make_app(SURVEY_RETENTION_MONTHS=6, UNFINISHED_RETENTION_DAYS=7)
    path = tmp_path / "survey.json"
    path.write_text(json.dumps(V1 | {"slug": "short-lived"}))
    assert app.test_cli_runner().invoke(args=["surveys", "import", str(path)]).exit_code == 0
    with app.app_context():
        survey = db.session.scalar(select(Survey).where(Survey.slug == "short-lived"))
        assert (survey.text_retention_months, survey.unfinished_retention_days) == (6, 7)


def test_staff_see_and_set_the_policy_and_whether_a_survey_collects_personal_data(app, session, staff_client, staff_user):
    make_survey(session, (V1,))  # V1 asks for an email
    editor = " ".join(staff_client.get("/staff/surveys/reader-survey/edit").get_data(as_text=True).split())
    assert "This survey collects personal data:</strong> an email address (<code>email</code>)" in editor
    assert "free-text and email answers are removed 24 months after submission" in editor
    results = " ".join(staff_client.get("/staff/surveys/reader-survey").get_data(as_text=True).split())
    assert "This survey collects personal data" in results

    refused = submit_form(staff_client, "/staff/surveys/reader-survey/retention", {"text_months": "0", "unfinished_days": "7"},
                          page_url="/staff/surveys/reader-survey/edit")  # fmt: skip
    assert refused.status_code == 422 and "From 1 to 240 months." in refused.get_data(as_text=True)
    saved = submit_form(staff_client, "/staff/surveys/reader-survey/retention", {"text_months": "6", "unfinished_days": "7"},
                        page_url="/staff/surveys/reader-survey/edit")  # fmt: skip
    assert saved.status_code == 302
    editor = " ".join(staff_client.get("/staff/surveys/reader-survey/edit").get_data(as_text=True).split())
    assert "removed 6 months after submission; unfinished responses are deleted 7 days after" in editor
    [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "survey.retention")).all()
    assert entry.details == {"text_months": 6, "unfinished_days": 7} and entry.actor_email == staff_user.email


def test_a_survey_without_an_email_question_says_nothing_of_personal_data(session, staff_client):
    no_email = copy.deepcopy(V1)
    no_email["pages"][1]["questions"] = [q for q in no_email["pages"][1]["questions"] if q["type"] != "email"]
    make_survey(session, (no_email,))
    editor = staff_client.get("/staff/surveys/reader-survey/edit").get_data(as_text=True)
    assert "collects personal data" not in editor and "Retention:" in editor


def test_a_survey_built_without_yaml_takes_the_configured_retention(app, session, staff_client):
    app.config.update(SURVEY_RETENTION_MONTHS=6, UNFINISHED_RETENTION_DAYS=7)
    assert create_built(staff_client).status_code == 302
    survey = built(session)
    assert (survey.text_retention_months, survey.unfinished_retention_days) == (6, 7)
