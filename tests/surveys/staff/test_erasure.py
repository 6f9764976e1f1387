"""Staff erase a response on a reader's request: found by its number, the reader's resume link or
code, or the email address the survey asked for; erased after a confirmation, with its answers,
counts, search words and origin, in one transaction that an export never sees half of."""

from __future__ import annotations

import copy
import csv
import io
import json
import random
import re
import secrets
import threading
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import Role
from sight.db import read_session, utcnow
from sight.extensions import db
from sight.models import AuditEntry
from surveys.erasure import erase_response
from surveys.export import export_chunks, plan_export
from surveys.models import Response, Survey, SurveyAnswerWord, SurveyTally
from surveys.results import ResponseFilter, survey_results
from tests.helpers import create_user, csrf_token_from, sign_in_as, sign_in_url
from tests.surveys.staff.conftest import V1, V2, add_response, make_survey
from tests.surveys.test_tallies import SYDNEY, add_random_responses, assert_tallies_equal_scans

UTC = timezone.utc
TARGET_ANSWERS = {
    "read_frequency": "daily",
    "sections": ["news", "culture"],
    "comment": "Please delete what I said about zebras",
    "email": "Reader.Erase@Example.com",
    "recommend": 3,
    "agree": {"news": "3"},
}


@pytest.fixture
def survey(session):
    survey = make_survey(session, (V1, V2))
    add_random_responses(session, survey, random.Random(7), 60, first=datetime(2026, 11, 1, 3, 0, tzinfo=UTC))
    return survey


@pytest.fixture
def target(session, survey) -> Response:
    return add_response(
        session, survey, TARGET_ANSWERS, version=2, submitted_at=datetime(2026, 11, 5, 2, 0, tzinfo=UTC),
        utm_source="newsletter", referrer_url="/2026/11/zebras",
    )


def results_total(client) -> int:
    html = client.get("/staff/surveys/reader-survey").get_data(as_text=True)
    return int(re.search(r"<dt>Responses</dt><dd>([\d,]+)</dd>", html).group(1).replace(",", ""))


def csv_rows(client, query: str = "") -> dict[str, dict]:
    body = client.get(f"/staff/surveys/reader-survey/export.csv{query}").get_data(as_text=True)
    return {row["response_id"]: row for row in csv.DictReader(io.StringIO(body, newline=""))}


def found_ids(client, query: str) -> list[int]:
    reply = client.get("/staff/surveys/reader-survey/erase", query_string={"q": query})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    return [int(n) for n in re.findall(r'href="/staff/surveys/reader-survey/responses/(\d+)/erase"', reply.get_data(as_text=True))]


def confirm_and_erase(client, response_id: int):
    page = client.get(f"/staff/surveys/reader-survey/responses/{response_id}/erase")
    assert page.status_code == 200
    return client.post(
        f"/staff/surveys/reader-survey/responses/{response_id}/erase", data={"csrf_token": csrf_token_from(page.get_data(as_text=True))}
    )


def test_staff_find_a_response_by_number_code_or_email_and_erase_it_after_confirming(
    session, staff_client, staff_user, survey, target
):
    before_total, before_rows = results_total(staff_client), csv_rows(staff_client)
    assert str(target.id) in before_rows and before_total == len(before_rows) == survey_results(
        session, survey, ResponseFilter(), SYDNEY
    ).total
    recommend_before = next(q for q in survey_results(session, survey, ResponseFilter(), SYDNEY).questions if q.id == "recommend")
    assert session.scalar(select(func.count()).where(SurveyAnswerWord.response_id == target.id)) > 0
    assert "what I said about" in staff_client.get("/staff/surveys/reader-survey/answers/comment?q=zebras").get_data(as_text=True)

    # Three ways to find it; the results page and each response's page lead here.
    assert 'href="/staff/surveys/reader-survey/erase"' in staff_client.get("/staff/surveys/reader-survey").get_data(as_text=True)
    assert f'href="/staff/surveys/reader-survey/responses/{target.id}/erase"' in staff_client.get(
        f"/staff/surveys/reader-survey/responses/{target.id}"
    ).get_data(as_text=True)
    assert found_ids(staff_client, str(target.id)) == [target.id]
    assert found_ids(staff_client, f"http://localhost/surveys/reader-survey/resume/{target.resume_token}") == [target.id]
    assert found_ids(staff_client, f"  {target.resume_token} ") == [target.id]
    assert found_ids(staff_client, "reader.erase@EXAMPLE.com") == [target.id]

    # The confirmation page says what goes; a post without its token changes nothing.
    page = staff_client.get(f"/staff/surveys/reader-survey/responses/{target.id}/erase").get_data(as_text=True)
    assert f"Erase response {target.id}?" in page and 'name="csrf_token"' in page and "zebras" not in page
    refused = staff_client.post(f"/staff/surveys/reader-survey/responses/{target.id}/erase", data={})
    assert refused.status_code == 400
    session.expire_all()
    assert session.get(Response, target.id) is not None

    erased = confirm_and_erase(staff_client, target.id)
    assert erased.status_code == 302 and erased.headers["Location"] == "/staff/surveys/reader-survey/erase"
    assert f"Response {target.id} is erased" in staff_client.get(erased.headers["Location"]).get_data(as_text=True)

    # Gone from the database, the tallies, the word index, the results and the exports.
    session.expire_all()
    assert session.get(Response, target.id) is None
    assert session.scalar(select(func.count()).where(SurveyAnswerWord.response_id == target.id)) == 0
    assert results_total(staff_client) == before_total - 1
    after_rows = csv_rows(staff_client)
    assert str(target.id) not in after_rows and after_rows == {k: v for k, v in before_rows.items() if k != str(target.id)}
    recommend_after = next(q for q in survey_results(session, survey, ResponseFilter(), SYDNEY).questions if q.id == "recommend")
    assert recommend_after.answered == recommend_before.answered - 1
    assert_tallies_equal_scans(session, survey)
    assert "what I said about" not in staff_client.get("/staff/surveys/reader-survey/answers/comment?q=zebras").get_data(as_text=True)
    assert found_ids(staff_client, str(target.id)) == []
    assert found_ids(staff_client, "reader.erase@example.com") == []

    # The audit log says who erased which response, and when; nothing of what it said.
    [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "survey.response_erased")).all()
    assert (entry.actor_email, entry.target) == (staff_user.email, "survey:reader-survey")
    assert entry.details == {"response": target.id, "by": "staff", "finished": True}
    assert utcnow() - entry.created_at < timedelta(minutes=1)
    assert "zebras" not in json.dumps(entry.details) and "erase@" not in json.dumps(entry.details).lower()


def test_an_unfinished_response_can_be_erased_too_and_counts_nowhere_before_or_after(session, staff_client, survey):
    unfinished = add_response(session, survey, {"email": "half@example.com"}, submitted_at=None, started_at=utcnow())
    before = results_total(staff_client)
    assert found_ids(staff_client, "half@example.com") == [unfinished.id]
    assert confirm_and_erase(staff_client, unfinished.id).status_code == 302
    assert results_total(staff_client) == before
    session.expire_all()
    assert session.get(Response, unfinished.id) is None


def test_bad_searches_say_what_to_type_and_a_survey_without_email_is_not_searched_by_one(session, staff_client):
    without_email = copy.deepcopy(V1)
    without_email["pages"][1]["questions"] = [q for q in without_email["pages"][1]["questions"] if q["type"] != "email"]
    survey = make_survey(session, (without_email,))
    add_response(session, survey, {"read_frequency": "daily"})
    page = staff_client.get("/staff/surveys/reader-survey/erase").get_data(as_text=True)
    assert "this survey asks for no email address" in page
    for query, message in [
        ("someone@example.com", "This survey asks for no email address"),
        ("not a code!", "That is not a response number, a resume link or code"),
        ("   ", "Type a response number"),
        ("x" * 2001, "Field cannot be longer than 2000 characters."),
    ]:
        reply = staff_client.get("/staff/surveys/reader-survey/erase", query_string={"q": query})
        html = reply.get_data(as_text=True)
        assert reply.status_code == 400 and message in html and 'aria-invalid="true"' in html, query
    assert "No response found" in staff_client.get("/staff/surveys/reader-survey/erase?q=999999").get_data(as_text=True)


def test_a_response_of_another_survey_or_one_already_erased_is_not_found(session, staff_client, survey, target):
    other = make_survey(session, (V1,), slug="other-survey")
    theirs = add_response(session, other, {"read_frequency": "daily"})
    assert staff_client.get(f"/staff/surveys/reader-survey/responses/{theirs.id}/erase").status_code == 404
    assert found_ids(staff_client, str(theirs.id)) == []
    url = f"/staff/surveys/reader-survey/responses/{target.id}/erase"
    token = csrf_token_from(staff_client.get(url).get_data(as_text=True))
    assert staff_client.post(url, data={"csrf_token": token}).status_code == 302
    # Sent twice (a double click): the second finds nothing to erase, and says why.
    gone = staff_client.post(url, data={"csrf_token": token})
    assert gone.status_code == 404 and "erased already" in gone.get_data(as_text=True)


def erase_urls(target) -> list[str]:
    return ["/staff/surveys/reader-survey/erase?q=1", f"/staff/surveys/reader-survey/responses/{target.id}/erase"]


def test_anonymous_visitors_are_sent_to_sign_in(client, session, survey, target):
    for url in erase_urls(target):
        assert client.get(url).status_code == 302 and client.get(url).headers["Location"] == sign_in_url(url)


def test_readers_cannot_find_or_erase(client, session, survey, target):
    sign_in_as(client, create_user(session, "reader@example.com", role=Role.reader))
    for url in erase_urls(target):
        assert client.get(url).status_code == 403
    page = client.get("/account/settings")  # a page with a CSRF token for this session
    assert client.post(erase_urls(target)[1], data={"csrf_token": csrf_token_from(page.get_data(as_text=True))}).status_code == 403
    session.expire_all()
    assert session.get(Response, target.id) is not None


# --- exports at the same time ------------------------------------------------------------------


def add_many(session, survey, count: int) -> list[int]:
    """Responses with long comments, so that an export of them streams in several chunks and
    batches of rows (surveys.export.CHUNK_BYTES, ROWS_PER_BATCH)."""
    version = survey.versions[0]
    rows = [
        Response(
            survey_id=survey.id,
            version_id=version.id,
            resume_token=secrets.token_hex(16),
            answers={"read_frequency": "weekly", "recommend": n % 11, "comment": f"{n} " + secrets.token_hex(400)},
            started_at=datetime(2026, 11, 2, tzinfo=UTC) + timedelta(minutes=n),
            submitted_at=datetime(2026, 11, 2, 0, 2, tzinfo=UTC) + timedelta(minutes=n),
        )
        for n in range(count)
    ]
    session.add_all(rows)
    session.commit()
    return [row.id for row in rows]


def parse(body: bytes) -> dict[str, dict]:
    return {row["response_id"]: row for row in csv.DictReader(io.StringIO(body.decode("utf-8"), newline=""))}


def test_an_export_streaming_while_responses_are_erased_holds_each_whole_or_not_at_all(app, session, staff_client, staff_user):
    survey = make_survey(session, (V1,))
    ids = add_many(session, survey, 1200)
    baseline = csv_rows(staff_client)
    assert len(baseline) == 1200
    doomed = ids[-150::50]  # read in a later batch than the first chunk's

    exporter = app.test_client()
    sign_in_as(exporter, staff_user)
    started, erased = threading.Event(), threading.Event()
    streamed: dict = {}

    def export():
        reply = exporter.get("/staff/surveys/reader-survey/export.csv", buffered=False)
        chunks = iter(reply.response)
        body = [next(chunks)]
        started.set()
        erased.wait(60)
        body.extend(chunks)
        reply.close()
        streamed["rows"] = parse(b"".join(body))

    thread = threading.Thread(target=export)
    thread.start()
    assert started.wait(60)
    for response_id in doomed:
        assert confirm_and_erase(staff_client, response_id).status_code == 302
    erased.set()
    thread.join(60)
    # The export began before the erasures: it holds every response, each as it was.
    assert streamed["rows"] == baseline
    # One begun after holds none of them, and every other response as it was.
    assert csv_rows(staff_client) == {k: v for k, v in baseline.items() if int(k) not in doomed}


def export_now(survey_id: int) -> dict[str, dict]:
    """An export as the staff page streams it, in its own snapshot on its own connection (without
    the page's audit entry, whose write would wait for SQLite's write lock)."""
    with read_session(db.engine) as reader:
        survey = reader.get(Survey, survey_id)
        plan = plan_export(reader, survey, ResponseFilter(), zone=ZoneInfo("Australia/Sydney"))
        return parse(b"".join(export_chunks(reader, plan, "csv")))


def test_an_export_during_an_erasure_not_yet_committed_sees_the_whole_response(app, session, staff_client, staff_user):
    survey = make_survey(session, (V1,))
    ids = add_many(session, survey, 30)
    staff_client.get("/staff/surveys/reader-survey")  # counted in the tallies and the word index
    baseline = csv_rows(staff_client)
    assert export_now(survey.id) == baseline
    with Session(db.engine) as eraser:
        erase_response(eraser, eraser.get(Response, ids[10]), staff_user, utcnow())
        # Tallies, words and the row are all changed, not committed: an export sees none of it.
        assert export_now(survey.id) == baseline
        eraser.commit()
    assert export_now(survey.id) == {k: v for k, v in baseline.items() if k != str(ids[10])}
    session.expire_all()
    assert session.scalar(select(func.sum(SurveyTally.count)).where(SurveyTally.field == "#responses")) == 29
