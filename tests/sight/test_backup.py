"""Backups you can restore: `flask db backup` copies the database while readers keep sending
answers, `flask db restore` brings it back into a new database, and refuses a live one."""

from __future__ import annotations

import threading
import uuid
from contextlib import contextmanager

import psycopg
import pytest
import requests
from sqlalchemy import delete, select
from sqlalchemy.engine import make_url

from sight.db import utcnow
from sight.extensions import db
from surveys.definition import validate_definition
from surveys.models import Response, Survey
from surveys.operations import import_definition
from tests.helpers import csrf_token_from

READERS = 200
SENDERS = 8
ONE_QUESTION = {
    "slug": "backup-check",
    "title": "One question",
    "intro": "One question.",
    "closing": "Thanks.",
    "settings": {"one_response_per": "any", "min_seconds": 0},
    "pages": [{"id": "only", "title": "Your code", "questions": [
        {"id": "code", "type": "short_text", "label": "Your code", "required": True, "max_length": 40},
    ]}],
}


def answer_survey(base: str, code: str) -> bool:
    """A reader's browser: open the survey, start it, send the page. True once the site said thanks."""
    browser = requests.Session()
    browser.trust_env = False
    survey = f"{base}/surveys/{ONE_QUESTION['slug']}"
    intro = browser.get(survey, timeout=30).text
    browser.post(f"{survey}/start", data={"csrf_token": csrf_token_from(intro)}, headers={"Referer": survey}, timeout=30)
    page = browser.get(f"{survey}/page/1", timeout=30).text
    sent = browser.post(f"{survey}/page/1", data={"csrf_token": csrf_token_from(page), "code": code, "action": "submit"},
                        headers={"Referer": f"{survey}/page/1"}, allow_redirects=False, timeout=30)
    return sent.status_code == 302 and sent.headers["Location"].endswith("/thanks")


@contextmanager
def new_database(database_url: str, tmp_path):
    """An empty database that is not the site's: a new file, or a new PostgreSQL database."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / f'restored-{uuid.uuid4().hex[:6]}.sqlite3'}"
        return
    name = f"sight_restored_{uuid.uuid4().hex[:8]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def restored_codes(make_app, restored_url: str, backup_path) -> list[str | None]:
    """Restore the backup into the new database with `flask db restore`; the code of each
    submitted response (readers who had only started have sent none)."""
    restored = make_app(SQLALCHEMY_DATABASE_URI=restored_url)
    result = restored.test_cli_runner().invoke(args=["db", "restore", str(backup_path)])
    assert result.exit_code == 0, result.output
    with restored.app_context():
        rows = db.session.scalars(select(Response)).all()
        codes = [row.answers.get("code") for row in rows if row.submitted_at is not None]
        db.session.remove()
        db.engine.dispose()
    return codes


def test_a_backup_taken_while_200_readers_answer_restores_every_acknowledged_response(
        app, live_server, make_app, database_url, tmp_path):
    with app.app_context():
        import_definition(db.session, validate_definition(ONE_QUESTION), None, utcnow())
        db.session.commit()

    codes = [f"reader-{number:03d}-{uuid.uuid4().hex[:8]}" for number in range(READERS)]
    acknowledged: list[str] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def send(share: list[str]) -> None:
        for code in share:
            try:
                thanked = answer_survey(live_server, code)
            except BaseException as error:  # noqa: BLE001 (reported below, not swallowed)
                failures.append(error)
                return
            if thanked:
                with lock:
                    acknowledged.append(code)

    senders = [threading.Thread(target=send, args=(codes[i::SENDERS],)) for i in range(SENDERS)]
    for sender in senders:
        sender.start()
    while len(acknowledged) < READERS // 4 and any(sender.is_alive() for sender in senders):
        threading.Event().wait(0.05)

    with lock:
        before_backup = set(acknowledged)
    during = tmp_path / "during.backup"
    result = app.test_cli_runner().invoke(args=["db", "backup", str(during)])
    after_backup = len(acknowledged)
    for sender in senders:
        sender.join(timeout=300)
    assert not failures, failures
    assert result.exit_code == 0, result.output
    assert f"Backed up the database to {during}" in result.output
    # The backup ran while readers were still sending, and they kept being thanked after it.
    assert len(before_backup) < READERS and after_backup < READERS
    assert sorted(acknowledged) == sorted(codes)

    with new_database(database_url, tmp_path) as restored_url:
        found = restored_codes(make_app, restored_url, during)
    # Everything thanked before the backup began is in it, once, and each response is whole.
    assert before_backup <= set(found)
    assert len(found) == len(set(found)) and set(found) <= set(codes)

    # And a backup of the finished site holds every response the readers were thanked for.
    after = tmp_path / "after.backup"
    assert app.test_cli_runner().invoke(args=["db", "backup", str(after)]).exit_code == 0
    with new_database(database_url, tmp_path) as restored_url:
        found = restored_codes(make_app, restored_url, after)
    assert sorted(found) == sorted(codes)


def survey_slugs(app) -> list[str]:
    with app.app_context():
        slugs = list(db.session.scalars(select(Survey.slug)))
        db.session.remove()
    return slugs


def test_restore_refuses_a_database_that_holds_data_without_force_and_replaces_it_with_force(app, tmp_path):
    with app.app_context():
        import_definition(db.session, validate_definition(ONE_QUESTION), None, utcnow())
        db.session.commit()
    backup = tmp_path / "site.backup"
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "backup", str(backup)]).exit_code == 0
    again = runner.invoke(args=["db", "backup", str(backup)])
    assert again.exit_code == 1 and "already exists" in again.output

    # After the backup, the survey is gone from the site.
    with app.app_context():
        db.session.execute(delete(Survey))
        db.session.commit()
    refused = runner.invoke(args=["db", "restore", str(backup)])
    assert refused.exit_code == 1
    assert "already holds" in refused.output and "run again with --force" in refused.output
    assert survey_slugs(app) == []

    restored = runner.invoke(args=["db", "restore", "--force", str(backup)])
    assert restored.exit_code == 0, restored.output
    assert survey_slugs(app) == [ONE_QUESTION["slug"]]


def test_restore_refuses_a_file_that_is_not_a_backup(app, make_app, database_url, tmp_path):
    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("not a database")
    with new_database(database_url, tmp_path) as empty_url:
        result = make_app(SQLALCHEMY_DATABASE_URI=empty_url).test_cli_runner().invoke(
            args=["db", "restore", "--force", str(not_a_backup)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output


@pytest.mark.parametrize("keep", [2])
def test_backups_into_a_folder_get_dated_names_and_only_the_newest_are_kept(app, tmp_path, keep):
    folder = tmp_path / "backups"
    runner = app.test_cli_runner()
    made = []
    for _ in range(keep + 1):
        result = runner.invoke(args=["db", "backup", f"{folder}/", "--keep", str(keep)])
        assert result.exit_code == 0, result.output
        made.append(result.output.split("database to ")[1].split(" (")[0])
        threading.Event().wait(1.01)  # names are dated to the second
    left = sorted(str(path) for path in folder.iterdir())
    assert left == sorted(made[-keep:])
    assert all((path.stat().st_mode & 0o777) == 0o600 for path in folder.iterdir())
