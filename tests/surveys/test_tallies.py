"""Results from tallies are exactly the results of reading every response: under every filter,
after responses finish, change or go, when the display zone changes, and when two refreshes run
at once."""

from __future__ import annotations

import copy
import random
import threading
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from alembic.script import ScriptDirectory
from flask_migrate import upgrade
from sqlalchemy import delete, func, select, text

from sight import create_app
from sight.extensions import db
from surveys.crosstabs import FACT_DIMENSIONS
from surveys.insight import dimensions_for, side_by_side, survey_crosstab
from surveys.models import Response, SurveyMonthTally
from surveys.personal_data import unlink_survey_responses
from surveys.results import (
    ORIGIN_LENGTH,
    ResponseFilter,
    day_bounds,
    duration_seconds,
    median,
    reader_origins,
    survey_results,
    week_start,
)
from surveys.tallies import (
    ARTICLE,
    BATCH,
    SOURCE,
    SurveyTally,
    refresh_tallies,
    survey_activity,
    tallied_crosstab,
    tallied_origins,
    tallied_results,
    tallied_side_by_side,
    untally,
)
from tests.helpers import create_user
from tests.sight.test_migrations import DATABASES, fresh_database
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
            **random_origin(rng),
        )


LONG_ADDRESS = "/2026/11/" + "a-very-long-headline-" * 20  # over ORIGIN_LENGTH: counted by its start


def random_origin(rng: random.Random) -> dict:
    return {
        "utm_source": rng.choice([None, None, "newsletter", "twitter", "facebook"]),
        "referrer_url": rng.choice([None, "", "/2026/11/housing", "/2026/11/budget", LONG_ADDRESS + "one", LONG_ADDRESS + "two"]),
    }


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
        assert tallied_origins(session, survey, flt, zone, zone_name) == reader_origins(session, survey.id, flt), flt


def test_tallies_equal_a_full_scan_under_every_filter(session, survey):
    scan = survey_results(session, survey, ResponseFilter(), SYDNEY)
    assert scan.total > 50 and len(scan.per_day) > 10  # the data is worth comparing
    assert_tallies_equal_scans(session, survey)


def test_where_readers_came_from_counts_none_given_once_and_long_addresses_by_their_start(session, survey):
    refresh_tallies(session, survey.id, SYDNEY_NAME)
    origins = tallied_origins(session, survey, ResponseFilter(), SYDNEY, SYDNEY_NAME)
    finished = session.execute(select(Response.referrer_url).where(Response.submitted_at.is_not(None))).scalars().all()
    articles = {bar.label: bar.count for bar in origins.articles}
    assert articles["(none)"] == sum(1 for url in finished if not url)
    assert articles[(LONG_ADDRESS + "one")[:ORIGIN_LENGTH]] == sum(1 for url in finished if url and url.startswith(LONG_ADDRESS))
    assert sum(articles.values()) == len(finished)


def test_ranges_across_months_add_whole_months_to_the_days_at_either_end(session):
    survey = make_survey(session, (V1, V2))
    # Every ~29 hours from late September to January: each month has days either side of a cut.
    rng = random.Random(21)
    for n in range(90):
        submitted = datetime(2026, 9, 25, 3, 0, tzinfo=UTC) + timedelta(minutes=1741 * n + rng.randint(0, 30))
        add_response(
            session,
            survey,
            random_answers(rng, 1 if n % 3 else 2),
            version=1 if n % 3 else 2,
            submitted_at=submitted,
            started_at=submitted - timedelta(seconds=rng.choice([30, 61, 95, 140, 400])),
            sight_plus=rng.choice([None, True, False]),
            **random_origin(rng),
        )
    first_days = [local_day(date(2026, month, 1)) for month in (10, 11, 12)]
    mid_month = [local_day(date(2026, 10, 17)), local_day(date(2026, 11, 2)), local_day(date(2026, 12, 31))]
    filters = [ResponseFilter(since=since) for since in first_days + mid_month]
    filters += [ResponseFilter(until=until) for until in first_days + mid_month]
    filters += [
        ResponseFilter(since=since, until=until, sight_plus=plus)
        for since in first_days + mid_month
        for until in first_days + mid_month
        for plus in (None, True)
        if since < until
    ]
    filters.append(ResponseFilter(since=mid_month[0], until=local_day(date(2026, 10, 20)), version=1))
    assert_tallies_equal_scans(session, survey, filters=filters)


def test_a_question_whose_type_changed_shows_old_answers_as_texts_as_a_scan_does(session):
    # Version 2 asks "agree" as a number: version 1's grids are no number, so they show as texts.
    v2 = copy.deepcopy(V2)
    for page in v2["pages"]:
        for index, question in enumerate(page["questions"]):
            if question["id"] == "agree":
                page["questions"][index] = {"id": "agree", "type": "number", "label": "How much do you agree?"}
    survey = make_survey(session, (V1, v2))
    rng = random.Random(17)
    for n in range(30):
        version = 1 if n % 2 else 2
        answers = random_answers(rng, version)
        if version == 2 and "agree" in answers:
            answers["agree"] = rng.randint(1, 5)
        add_response(session, survey, answers, version=version, submitted_at=datetime(2026, 11, 3, 1, tzinfo=UTC) + timedelta(hours=n))
    assert_tallies_equal_scans(session, survey, filters=[ResponseFilter()])
    agree = next(q for q in tallied_results(session, survey, ResponseFilter(), SYDNEY, SYDNEY_NAME).questions if q.id == "agree")
    assert agree.latest_texts and agree.numbers


def test_the_dashboard_figures_equal_a_full_scan(session):
    survey = make_survey(session, (V1, V2))
    add_random_responses(session, survey, random.Random(8), 120, first=datetime(2026, 10, 20, 3, 0, tzinfo=UTC))
    refresh_tallies(session, survey.id, SYDNEY_NAME)
    session.commit()
    now = datetime(2026, 11, 4, 1, 0, tzinfo=UTC)
    (activity,) = survey_activity(session, now, SYDNEY, SYDNEY_NAME)
    finished = session.execute(
        select(Response.started_at, Response.submitted_at, Response.version_id).where(Response.submitted_at.is_not(None))
    ).all()
    seconds = [duration_seconds(started, submitted) for started, submitted, _ in finished]
    assert activity.total == len(finished)
    assert activity.this_week == sum(submitted >= week_start(now, SYDNEY) for _, submitted, _ in finished)
    assert 0 < activity.this_week < activity.total
    assert activity.median_seconds == median(seconds)
    by_version = {v.id: v.number for v in survey.versions}
    assert [(v.number, v.finished, v.median_seconds) for v in activity.versions] == [
        (number, len(times), median(times))
        for number in (2, 1)
        if (times := [duration_seconds(s, f) for s, f, version_id in finished if by_version[version_id] == number])
    ]


def crosstab_figures(table):
    return table.base, table.column_labels, table.table, table.column_totals


def test_crosstabs_and_side_by_side_from_tallies_equal_a_full_scan(session, survey):
    refresh_tallies(session, survey.id, SYDNEY_NAME)
    session.commit()
    questions = [key for key in dimensions_for(survey) if key not in FACT_DIMENSIONS]
    assert len(questions) >= 4
    crossed = [(fact, q) for fact in ("sight_plus", "version") for q in questions]
    crossed += [(q, fact) for fact in ("sight_plus", "version") for q in questions]
    crossed += [("sight_plus", "version"), ("version", "sight_plus"), ("version", "version")]
    # What the tallies cannot count: read from the responses, as before.
    crossed += [("source", questions[0]), (questions[0], questions[1]), ("sight_plus", "source")]
    for flt in FILTERS + [ResponseFilter(status="all")]:
        for rows, columns in crossed:
            tallied = tallied_crosstab(session, survey, flt, rows, columns, SYDNEY, SYDNEY_NAME)
            scanned = survey_crosstab(session, survey, flt, rows, columns)
            assert crosstab_figures(tallied) == crosstab_figures(scanned), (flt, rows, columns)
        assert tallied_side_by_side(session, survey, flt, SYDNEY, SYDNEY_NAME) == side_by_side(session, survey, flt), flt


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
    assert session.scalar(select(func.min(SurveyMonthTally.count))) > 0


def test_a_new_display_zone_counts_the_survey_again(session, survey):
    assert_tallies_equal_scans(session, survey, "UTC", filters=[ResponseFilter()])
    assert_tallies_equal_scans(session, survey)
    assert set(session.scalars(select(SurveyTally.zone).distinct())) == {SYDNEY_NAME}
    assert set(session.scalars(select(SurveyMonthTally.zone).distinct())) == {SYDNEY_NAME}


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


def test_a_limited_refresh_counts_whole_batches_and_the_next_one_the_rest(session):
    survey = make_survey(session, (V1,))
    for n in range(BATCH + 30):
        session.add(
            Response(
                survey_id=survey.id, version_id=survey.versions[0].id, resume_token=f"token-{n}", answers={"recommend": n % 11},
                started_at=datetime(2026, 11, 2, tzinfo=UTC), submitted_at=datetime(2026, 11, 2, tzinfo=UTC) + timedelta(minutes=n),
            )
        )
    session.commit()
    assert refresh_tallies(session, survey.id, SYDNEY_NAME, limit=1) == BATCH
    session.commit()
    assert refresh_tallies(session, survey.id, SYDNEY_NAME, limit=1) == 30
    assert refresh_tallies(session, survey.id, SYDNEY_NAME, limit=1) == 0
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


@contextmanager
def app_before(app_config, tmp_path, kind: str, revision: str):
    """An app on a fresh database migrated to just before `revision`, to test that revision's upgrade."""
    with fresh_database(kind, tmp_path) as url:
        app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            try:
                migrate = app.extensions["migrate"]
                scripts = ScriptDirectory.from_config(migrate.migrate.get_config(migrate.directory))
                upgrade(revision=scripts.get_revision(revision).down_revision)
                yield
            finally:
                db.session.remove()
                db.engine.dispose()


@pytest.mark.parametrize("kind", DATABASES)
def test_the_upgrade_sums_the_days_already_counted_into_months(app_config, tmp_path, kind):
    with app_before(app_config, tmp_path, kind, "0022"):
        db.session.execute(
            text(
                "INSERT INTO survey (id, slug, title, status, created_at, updated_at) "
                "VALUES (1, 's', 'S', 'open', :now, :now)"
            ),
            {"now": datetime(2026, 11, 1, tzinfo=UTC)},
        )
        days = [(date(2026, 10, 31), 1, "yes", "q", "a", 2), (date(2026, 11, 1), 1, "yes", "q", "a", 3),
                (date(2026, 11, 30), 1, "yes", "q", "a", 4), (date(2026, 11, 30), 2, "", "q", "a", 5)]
        for day, number, plus, field, value, count in days:
            db.session.execute(
                text(
                    "INSERT INTO survey_tally (survey_id, zone, version_number, day, sight_plus, field, value, count) "
                    "VALUES (1, 'Australia/Sydney', :number, :day, :plus, :field, :value, :count)"
                ),
                dict(number=number, day=day, plus=plus, field=field, value=value, count=count),
            )
        db.session.commit()
        upgrade()
        months = db.session.execute(
            select(SurveyMonthTally.month, SurveyMonthTally.version_number, SurveyMonthTally.sight_plus, SurveyMonthTally.count)
            .order_by(SurveyMonthTally.month, SurveyMonthTally.version_number)
        ).all()
        assert months == [(date(2026, 10, 1), 1, "yes", 2), (date(2026, 11, 1), 1, "yes", 7), (date(2026, 11, 1), 2, "", 5)]


@pytest.mark.parametrize("kind", DATABASES)
def test_the_upgrade_counts_where_the_readers_already_counted_came_from(app_config, tmp_path, kind):
    with app_before(app_config, tmp_path, kind, "0024"):
        survey = make_survey(db.session, (V1, V2))
        add_random_responses(db.session, survey, random.Random(4), 60, first=datetime(2026, 10, 25, 3, 0, tzinfo=UTC))
        refresh_tallies(db.session, survey.id, SYDNEY_NAME)
        # What the tallies held before they counted origins.
        for model in (SurveyTally, SurveyMonthTally):
            db.session.execute(delete(model).where(model.field.in_([SOURCE, ARTICLE])))
        db.session.commit()
        upgrade()
        for flt in FILTERS[:6] + [ResponseFilter(since=local_day(date(2026, 11, 1)))]:
            assert tallied_origins(db.session, survey, flt, SYDNEY, SYDNEY_NAME) == reader_origins(db.session, survey.id, flt)
