"""A database that cannot be reached (restarting, or gone) answers 503 with Retry-After and our own
page, never a traceback or a 500; /healthz says 503 at once. The app is pointed at a database of the
run's kind that does not answer: a closed port for PostgreSQL, a path that cannot be opened for SQLite."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import free_port
from tests.helpers import csrf_token_from


@pytest.fixture
def app_without_database(make_app, database_url, tmp_path):
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        unreachable = url.set(host="127.0.0.1", port=free_port(), query={"connect_timeout": "2"})
    else:
        unreachable = make_url(f"sqlite:///{tmp_path}/no-such-folder/sight.sqlite3")
    return make_app(SQLALCHEMY_DATABASE_URI=unreachable.render_as_string(hide_password=False))


def assert_unavailable(response) -> None:
    html = response.get_data(as_text=True)
    assert response.status_code == 503, html[:500]
    assert int(response.headers["Retry-After"]) > 0
    assert "We’ll be back in a moment" in html
    assert "Traceback" not in html and "OperationalError" not in html and "psycopg" not in html


def test_pages_and_gifts_answer_503_with_retry_after_while_the_database_is_away(app_without_database):
    client = app_without_database.test_client()
    donate = client.get("/donate")
    assert donate.status_code == 200  # the form itself needs no database
    response = client.post("/donate", data={
        "amount": "2600", "other_amount": "", "frequency": "once", "name": "Dee", "email": "dee@example.com",
        "message": "", "currency": "aud", "csrf_token": csrf_token_from(donate.get_data(as_text=True)),
    })
    assert_unavailable(response)
    assert_unavailable(client.get("/surveys/reader-survey"))
    assert_unavailable(client.get("/sight-plus"))


def test_a_signed_in_reader_gets_the_same_page(app_without_database):
    client = app_without_database.test_client()
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = "1:1"  # "user id:session version"
        flask_session["_fresh"] = True
    assert_unavailable(client.get("/account"))


def test_healthz_says_503_at_once(app_without_database):
    started = time.monotonic()
    response = app_without_database.test_client().get("/healthz")
    assert response.status_code == 503 and response.get_json()["database"] == "unreachable"
    assert int(response.headers["Retry-After"]) > 0
    assert time.monotonic() - started < 5
