"""The default survey as shipped: its recommend question shows the Net Promoter Score, and a site
that imported the survey before it did gets it by the README's command, old answers included."""

from __future__ import annotations

import copy
import re
from datetime import datetime, timezone

from sight.db import utcnow
from surveys.definition import load_definition
from surveys.models import Survey
from surveys.operations import DEFAULT_SURVEY_FILE, import_definition
from tests.surveys.staff.conftest import add_response

UTC = timezone.utc


def shipped() -> dict:
    return load_definition(DEFAULT_SURVEY_FILE.read_text(encoding="utf-8"))


def before_the_nps() -> dict:
    """The shipped survey as it was before: the same, with recommend not marked."""
    definition = copy.deepcopy(shipped())
    for page in definition["pages"]:
        for question in page["questions"]:
            question.pop("nps", None)
    return definition


def test_the_shipped_recommend_question_is_marked_for_the_nps():
    [recommend] = [q for page in shipped()["pages"] for q in page["questions"] if q["id"] == "recommend"]
    assert recommend["nps"] is True and recommend["scale"]["min"] == 0 and recommend["scale"]["max"] == 10
    assert before_the_nps() != shipped()


def nps_of(html: str) -> tuple[str, str]:
    score = re.search(r"Net Promoter Score: <strong>([+-]\d+)</strong>", html)
    base = re.search(r"\(of ([\d,]+) who answered\)", html)
    assert score and base, "the results show no NPS"
    return score.group(1), base.group(1)


def test_the_readme_command_brings_the_nps_to_a_site_with_the_old_version_and_old_answers_count(
    session, runner, staff_client
):
    import_definition(session, before_the_nps(), None, utcnow())
    session.commit()
    survey = session.query(Survey).filter_by(slug="reader-survey").one()
    # Five promoters, two passives, three detractors under the old version: NPS +20.
    for score in [10, 10, 9, 9, 9, 8, 7, 6, 3, 0]:
        add_response(session, survey, {"read_frequency": "weekly", "recommend": score})
    assert "Net Promoter Score" not in staff_client.get("/staff/surveys/reader-survey").get_data(as_text=True)

    readme = (DEFAULT_SURVEY_FILE.parents[2] / "README.md").read_text(encoding="utf-8")
    command = "flask surveys import surveys/data/reader-survey.yaml"
    assert command in readme
    result = runner.invoke(args=command.split()[1:-1] + [str(DEFAULT_SURVEY_FILE)])
    assert result.exit_code == 0, result.output
    assert "saved as version 2" in result.output

    session.expire_all()
    assert [v.number for v in survey.versions] == [1, 2]
    assert nps_of(staff_client.get("/staff/surveys/reader-survey").get_data(as_text=True)) == ("+20", "10")
    # A new answer under version 2 counts beside the old ones.
    add_response(session, survey, {"read_frequency": "daily", "recommend": 10}, version=2,
                 submitted_at=datetime(2026, 11, 21, 1, 0, tzinfo=UTC))
    assert nps_of(staff_client.get("/staff/surveys/reader-survey").get_data(as_text=True)) == ("+27", "11")
    # Importing again changes nothing.
    assert "unchanged (version 2)" in runner.invoke(args=["surveys", "import", str(DEFAULT_SURVEY_FILE)]).output
