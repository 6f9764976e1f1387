"""Finishing a response: what a last-page POST costs the database (every statement it sends is
counted, so that the count cannot grow unnoticed; speed itself is measured in bench/, never
asserted here), and a response finished twice at once."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest
import requests
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from sight.db import utcnow
from sight.extensions import db
from surveys.models import Response
from surveys.operations import SurveyRefused, submit_response
from tests.helpers import csrf_token_from, sign_in_as
from tests.surveys.conftest import account, backdate_responses, responses
from tests.surveys.test_taking import GOOD_PAGE_1, GOOD_PAGE_2

# SELECT the response with its version and survey, UPDATE it; the BEGIN and COMMIT around them.
ANONYMOUS_SUBMISSION_STATEMENTS = 4


@contextmanager
def statements_sent(app):
    """Every statement the app sends while the block runs, as the driver sees it, and each
    transaction's end (a COMMIT or ROLLBACK sends one more round trip)."""
    sent: list[str] = []

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    def on_commit(conn):
        sent.append("COMMIT")

    def on_rollback(conn):
        sent.append("ROLLBACK")

    def on_begin(conn):
        # PostgreSQL's driver opens a transaction before the first statement of it; SQLite's
        # BEGIN IMMEDIATE is sent by sight.db at the first write, outside the cursor events.
        sent.append("BEGIN")

    with app.app_context():
        engine = db.engine
    listeners = [
        (engine, "before_cursor_execute", on_execute),
        (engine, "commit", on_commit),
        (engine, "rollback", on_rollback),
        (engine, "begin", on_begin),
    ]
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    try:
        yield sent
    finally:
        for target, name, listener in listeners:
            event.remove(target, name, listener)


def last_page_ready(reader, slug: str, app) -> str:
    reader.start()
    reader.send(1, GOOD_PAGE_1)
    backdate_responses(app)
    return csrf_token_from(reader.client.get(f"/surveys/{slug}/page/2").get_data(as_text=True))


def test_an_anonymous_last_page_post_sends_a_fixed_few_statements(app, client, make_survey, reader_for):
    slug = make_survey()
    reader = reader_for(slug)
    token = last_page_ready(reader, slug, app)
    with statements_sent(app) as sent:
        reply = client.post(f"/surveys/{slug}/page/2", data={"csrf_token": token, "action": "submit", **GOOD_PAGE_2})
    assert reply.status_code == 302 and reply.headers["Location"] == f"/surveys/{slug}/thanks"
    [stored] = responses(app)
    assert stored.submitted_at is not None and stored.answers["grid"] == {"news": "2", "sport": "1"}
    assert len(sent) <= ANONYMOUS_SUBMISSION_STATEMENTS, sent


def finish(session, response: Response, score: int) -> None:
    submit_response(
        session,
        response,
        {"postcode": "2000", "score": score, "grid": {"news": "2", "sport": "1"}},
        signed_in_user_id=None,
        wants_link=False,
        sight_plus_of=lambda user_id: False,
        now=utcnow(),
    )


def test_a_response_finished_by_another_request_meanwhile_is_not_finished_again(app, make_survey, reader_for):
    """A double click or a second tab: both requests read the response unfinished; the one
    that writes second is refused and changes nothing."""
    slug = make_survey()
    last_page_ready(reader_for(slug), slug, app)
    with app.app_context():
        second = db.session.scalar(select(Response))
        assert second.submitted_at is None and second.version.number == 1
        with Session(db.engine) as elsewhere:
            first = elsewhere.get(Response, second.id)
            finish(elsewhere, first, score=9)
            elsewhere.commit()
        with pytest.raises(SurveyRefused) as refused:
            finish(db.session, second, score=3)
        assert refused.value.reason == "already_sent"
        db.session.rollback()
    [stored] = responses(app)
    assert stored.submitted_at is not None and stored.answers["score"] == 9


class OverHttp:
    """What `Reader` needs of a client, over real HTTP with a cookie jar of its own."""

    class Reply:
        def __init__(self, reply: requests.Response):
            self.reply = reply
            self.status_code = reply.status_code

        def get_data(self, as_text: bool = False):
            return self.reply.text if as_text else self.reply.content

    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()

    def get(self, path: str):
        return self.Reply(self.http.get(self.base + path, allow_redirects=False, timeout=30))

    def post(self, path: str, data: dict):
        return self.Reply(self.http.post(self.base + path, data=data, allow_redirects=False, timeout=30))


SENDS = 8


def test_eight_sends_of_the_last_page_at_once_and_one_a_year_later_finish_it_once(
    app, live_server, make_survey, reader_for
):
    """A reader's double clicks, tabs and a flaky connection's retries all send the last page at
    once, each with different answers; later, the same request is sent again. The response is
    finished once, with the answers of the one send that finished it (the only reply that hands
    the browser its "done" cookie), and every other send shows the thank-you page or "already
    sent", never an error."""
    slug = make_survey()
    browser = OverHttp(live_server)
    token = last_page_ready(reader_for(slug, browser), slug, app)
    start = threading.Barrier(SENDS)
    replies: dict[int, requests.Response] = {}

    def send(score: int) -> None:
        data = {"csrf_token": token, "action": "submit", **GOOD_PAGE_2, "score": str(score)}
        start.wait()
        replies[score] = browser.http.post(f"{live_server}/surveys/{slug}/page/2", data=data, allow_redirects=False, timeout=60)

    threads = [threading.Thread(target=send, args=(score,)) for score in range(SENDS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(replies) == SENDS
    for reply in replies.values():
        thanked = reply.status_code == 302 and reply.headers["Location"] == f"/surveys/{slug}/thanks"
        refused = reply.status_code == 200 and "already been sent" in reply.text
        assert thanked or refused, (reply.status_code, reply.text[:300])
    finishers = [score for score, reply in replies.items() if f"survey_done_{slug}" in reply.cookies]
    assert len(finishers) == 1
    [stored] = responses(app)
    assert stored.submitted_at is not None
    assert stored.answers["score"] == finishers[0] and stored.answers["postcode"] == "2000"
    finished_at, answers = stored.submitted_at, stored.answers

    backdate_responses(app, seconds=366 * 24 * 3600)
    replay = browser.http.post(
        f"{live_server}/surveys/{slug}/page/2",
        data={"csrf_token": token, "action": "submit", **GOOD_PAGE_2, "score": "10"},
        allow_redirects=False,
        timeout=30,
    )
    assert replay.status_code < 500
    [again] = responses(app)
    assert again.answers == answers and again.submitted_at == finished_at
