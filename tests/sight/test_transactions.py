"""How transactions take locks: reads never wait for a writer, writers wait for each other,
and a long read sees one snapshot. The SQLite rules are in sight/db.py."""

import threading

import pytest
from sqlalchemy import func, select, text

from sight.db import ReadOnlySessionError, read_session, utcnow
from sight.extensions import db
from sight.mail import queue_mail
from sight.models import OutboxMessage


@pytest.fixture
def writer_in_progress(app):
    """Another connection in the middle of a write transaction (on SQLite: holding the write lock)."""
    with app.app_context():
        engine = db.engine
    with engine.connect() as other:
        transaction = other.begin()
        other.execute(text("INSERT INTO audit_entry (action, details, created_at) VALUES ('held', '{}', :now)"), {"now": utcnow()})
        yield
        transaction.rollback()


def count_outbox(session) -> int:
    return session.scalar(select(func.count()).select_from(OutboxMessage))


def queue_one(app, to: str) -> None:
    with app.app_context():
        queue_mail(db.session, to=to, subject="s", body="b")
        db.session.commit()


def test_a_page_that_only_reads_answers_while_another_process_writes(client, writer_in_progress):
    # Before: every transaction began IMMEDIATE, so this waited out the 10 s busy timeout and failed.
    response = client.get("/healthz")
    assert response.status_code == 200, response.get_data(as_text=True)


def test_a_long_read_takes_no_lock_and_keeps_its_snapshot_while_others_write(app):
    queue_one(app, "before@example.com")
    with app.app_context():
        engine = db.engine
    with read_session(engine) as reader:
        assert count_outbox(reader) == 1
        writer = threading.Thread(target=queue_one, args=(app, "during@example.com"))
        writer.start()
        writer.join(timeout=15)
        assert not writer.is_alive()  # the write went through while the read was open
        assert count_outbox(reader) == 1  # one snapshot for the whole read
    with read_session(engine) as reader:
        assert count_outbox(reader) == 2


def test_a_read_session_refuses_to_write(app):
    with app.app_context():
        engine = db.engine
    with read_session(engine) as reader, pytest.raises(Exception) as refused:
        queue_mail(reader, to="x@example.com", subject="s", body="b")
        reader.flush()
    assert isinstance(refused.value, ReadOnlySessionError) or "read-only" in str(refused.value)


def test_a_request_that_read_and_then_writes_after_another_writer_committed_succeeds(app):
    """WAL's SQLITE_BUSY_SNAPSHOT: a read transaction that later writes fails at once if
    another writer committed in between. Here the read holds no transaction, so the write
    begins afresh."""
    with app.app_context():
        assert count_outbox(db.session) == 0  # this session has read
        queue_one_elsewhere = threading.Thread(target=queue_one, args=(app, "other@example.com"))
        queue_one_elsewhere.start()
        queue_one_elsewhere.join(timeout=15)
        queue_mail(db.session, to="me@example.com", subject="s", body="b", now=utcnow())
        db.session.commit()
        assert count_outbox(db.session) == 2


def test_a_locking_read_makes_other_writers_wait_until_the_commit(app):
    """`with_for_update()` is how a read that decides a write says so: PostgreSQL locks the row,
    SQLite begins the write transaction."""
    queue_one(app, "claim@example.com")
    order = []
    with app.app_context():
        message = db.session.scalars(select(OutboxMessage).with_for_update()).one()
        message_id = message.id

        def other_claim():
            with app.app_context():
                db.session.execute(
                    text("UPDATE outbox_message SET attempts = attempts + 10 WHERE id = :id"), {"id": message_id}
                )
                order.append("other")
                db.session.commit()

        other = threading.Thread(target=other_claim)
        other.start()
        other.join(timeout=0.5)
        assert other.is_alive() and order == []  # waiting for our lock
        message.attempts += 1
        order.append("mine")
        db.session.commit()
    other.join(timeout=15)
    assert order == ["mine", "other"]
    with app.app_context():
        assert db.session.get(OutboxMessage, message_id).attempts == 11


def test_every_connection_is_set_up_for_short_statements_on_its_database(app):
    """SQLite: WAL, foreign keys, a busy timeout. PostgreSQL: no JIT, whose compiling cost
    300–500 ms a statement for the members list's aggregates (bench/README.md) — more than
    the statements themselves."""
    with app.app_context():
        with db.engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                settings = [connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                            for name in ("journal_mode", "foreign_keys", "busy_timeout")]
                assert settings == ["wal", 1, 10000]
            else:
                assert connection.exec_driver_sql("SHOW jit").scalar() == "off"
