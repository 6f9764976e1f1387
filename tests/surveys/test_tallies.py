"""Results from tallies are exactly the results of reading every response: under every filter,
after responses finish, change or go, when the display zone changes, and when two refreshes run
at once."""

from __future__ import annotations

import random
import threading
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select

from sight.extensions import db
from surveys.models import Response
from surveys.personal_data import unlink_survey_responses
from surveys.results import ResponseFilter, day_bounds, survey_results
from surveys.tallies import SurveyTally, refresh_tallies, tallied_results, untally
from tests.helpers import create_user
from tests.surveys.staff.conftest import V1, V2, add_response, make_survey

UTC = timezone.utc
SYDNEY_NAME = "Australia/Sydney"
SYDNEY = ZoneInfo(SYDNEY_NAME)


def random_answers(rng: random.Random, version: int) -> dict:
    answers: dict = {}
    if rng.random() < 0.9:
        answers["read_frequency"] = rng.choice(["daily", "weekly", "monthly"] + (["rarely"] if version == 2 else []))
    if rng.random() < 0.5:
        answers["found_via"] = rng.choice(["search", "social", "other"])
        if answers["found_via"] == "other":
            answers["found_via_other"] = f"A podcast {rng.randint(1, 9)}"
    if rng.random() < 0.8:
        answers["sections"] = rng.sample(["news", "culture", "science", "other"] + (["sport"] if version == 2 else []), rng.randint(1, 3))
        if "other" in answers["sections"] and rng.random() < 0.8:
            answers["sections_other"] = rng.choice(["Gardening", "Chess", "Recipes"])
    if rng.random() < 0.7:
        answers["device"] = rng.choice(["phone", "desktop"])
    if rng.random() < 0.4:
        answers["nickname"] = rng.choice(["Ann", "Bo", "Cy"]) + str(rng.randint(1, 99))
    if rng.random() < 0.3:
        answers["comment"] = f"Comment {rng.random()}"
    if rng.random() < 0.3:
        answers["email"] = f"reader{rng.randint(1, 999)}@example.com"
    if rng.random() < 0.7:
        answers["age"] = rng.choice([rng.randint(15, 90), rng.randint(15, 90) + 0.5])
    if rng.random() < 0.9:
        answers["recommend"] = rng.randint(0, 10)
    if rng.random() < 0.8:
        rows = ["news", "culture"] + (["science"] if version == 2 else [])
        answers["agree"] = {row: rng.choice(["1", "2", "3"]) for row in rng.sample(rows, rng.randint(1, len(rows)))}
    if version == 1 and rng.random() < 0.3:
        answers["old_question"] = "Still here"
    if version == 2 and rng.random() < 0.5:
        answers["new_question"] = rng.choice(["yes", "no"])
    return answers


def add_random_responses(session, survey, rng: random.Random, count: int, *, first: datetime) -> None:
    for n in range(count):
        version = 1 if n % 3 else 2
        # Every ~5 hours over two weeks: responses fall either side of Sydney and UTC midnights.
        submitted = first + timedelta(minutes=293 * n + rng.randint(0, 30))
        finished = rng.random() < 0.9
        add_response(
            session,
            survey,
            random_answers(rng, version),
            version=version,
            submitted_at=submitted if finished else None,
            started_at=submitted - timedelta(seconds=rng.choice([30, 61, 95, 95, 140, 400])),
            sight_plus=rng.choice([None, True, False]),
        )


@pytest.fixture
def survey(session):
    survey = make_survey(session, (V1, V2))
    add_random_responses(session, survey, random.Random(12), 90, first=datetime(2026, 11, 1, 3, 0, tzinfo=UTC))
    return survey


def local_day(day: date) -> datetime:
    return day_bounds(day, None, SYDNEY)[0]


FILTERS = [
    ResponseFilter(),
    ResponseFilter(version=1),
    ResponseFilter(version=2),
    ResponseFilter(sight_plus=True),
    ResponseFilter(sight_plus=False),
    ResponseFilter(since=local_day(date(2026, 11, 4))),
    ResponseFilter(until=local_day(date(2026, 11, 9))),
    ResponseFilter(since=local_day(date(2026, 11, 4)), until=local_day(date(2026, 11, 9)), version=2, sight_plus=False),
    ResponseFilter(since=local_day(date(2027, 1, 1))),  # selects nothing
]


def assert_tallies_equal_scans(session, survey, zone_name: str = SYDNEY_NAME, filters=FILTERS) -> None:
    zone = ZoneInfo(zone_name)
    refresh_tallies(session, survey.id, zone_name)
    session.commit()
    for flt in filters:
        assert tallied_results(session, survey, flt, zone, zone_name) == survey_results(session, survey, flt, zone), flt


def test_tallies_equal_a_full_scan_under_every_filter(session, survey):
    scan = survey_results(session, survey, ResponseFilter(), SYDNEY)
    assert scan.total > 50 and len(scan.per_day) > 10  # the data is worth comparing
    assert_tallies_equal_scans(session, survey)


def test_a_second_refresh_adds_only_what_finished_since(session, survey):
    assert_tallies_equal_scans(session, survey)
    assert refresh_tallies(session, survey.id, SYDNEY_NAME) == 0
    add_random_responses(session, survey, random.Random(7), 20, first=datetime(2026, 11, 20, 3, 0, tzinfo=UTC))
    unfinished = session.scalars(select(Response).where(Response.submitted_at.is_(None))).first()
    unfinished.submitted_at = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    session.commit()
    assert_tallies_equal_scans(session, survey)


def test_changed_and_deleted_responses_are_taken_back_out(session, survey):
    assert_tallies_equal_scans(session, survey)
    finished = session.scalars(select(Response).where(Response.submitted_at.is_not(None)).order_by(Response.id)).all()
    changed, gone = finished[:10], finished[10:15]
    untally(session, [r.id for r in changed + gone])
    for response in changed:
        response.answers = {key: value for key, value in response.answers.items() if key not in ("email", "comment")}
    session.execute(delete(Response).where(Response.id.in_([r.id for r in gone])))
    session.commit()
    assert_tallies_equal_scans(session, survey)
    assert session.scalar(select(func.min(SurveyTally.count))) > 0


def test_a_new_display_zone_counts_the_survey_again(session, survey):
    assert_tallies_equal_scans(session, survey, "UTC", filters=[ResponseFilter()])
    assert_tallies_equal_scans(session, survey)
    assert set(session.scalars(select(SurveyTally.zone).distinct())) == {SYDNEY_NAME}


def test_filters_tallies_cannot_answer_read_the_responses(session, survey):
    noon = local_day(date(2026, 11, 4)) + timedelta(hours=12)
    assert_tallies_equal_scans(
        session, survey, filters=[ResponseFilter(status="unfinished"), ResponseFilter(status="all"), ResponseFilter(since=noon)]
    )


def test_two_refreshes_at_once_count_each_response_once(app, session, survey):
    add_random_responses(session, survey, random.Random(3), 400, first=datetime(2026, 12, 1, 3, 0, tzinfo=UTC))
    survey_id = survey.id
    session.rollback()  # this session holds no lock while the two refresh
    barrier = threading.Barrier(2)
    errors = []

    def refresh():
        try:
            with app.app_context():
                barrier.wait()
                refresh_tallies(db.session, survey_id, SYDNEY_NAME)
                db.session.commit()
        except Exception as error:  # reported below, with the thread's own traceback lost
            errors.append(error)

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    session.expire_all()
    assert tallied_results(session, survey, ResponseFilter(), SYDNEY, SYDNEY_NAME) == survey_results(
        session, survey, ResponseFilter(), SYDNEY
    )


def test_closing_an_account_takes_its_email_answers_out_of_the_tallies(session, survey):
    reader = create_user(session, "closing@example.com")
    add_response(session, survey, {"email": "closing@example.com", "recommend": 3}, version=2, user=reader)
    assert_tallies_equal_scans(session, survey, filters=[ResponseFilter()])
    unlink_survey_responses(session, reader, datetime(2026, 11, 30, tzinfo=UTC))
    session.commit()
    assert_tallies_equal_scans(session, survey, filters=[ResponseFilter()])


def test_the_tally_command_counts_what_is_not_yet_counted(app, session, survey):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["surveys", "tally"])
    assert first.exit_code == 0, first.output
    finished = survey_results(session, survey, ResponseFilter(), SYDNEY).total
    assert f"reader-survey: {finished} responses counted." in first.output
    assert "reader-survey: 0 responses counted." in runner.invoke(args=["surveys", "tally"]).output
    session.expire_all()
    assert tallied_results(session, survey, ResponseFilter(), SYDNEY, SYDNEY_NAME) == survey_results(
        session, survey, ResponseFilter(), SYDNEY
    )
