"""The mail outbox against a real SMTP server: a commit only queues, the worker sends what
committed, and a refused send is kept and retried."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from sight.db import utcnow
from sight.extensions import db
from sight.mail import backoff, queue_mail
from sight.models import OutboxMessage


def outbox(app) -> list[OutboxMessage]:
    with app.app_context():
        messages = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        db.session.expunge_all()
        return messages


def queue_and_commit(app, to: str = "reader@example.com") -> None:
    with app.app_context():
        queue_mail(db.session, to=to, subject="Your receipt", body="Thank you for giving $26.", kind="receipt")
        db.session.commit()


def test_a_commit_only_queues_and_the_worker_delivers_over_smtp(app, mailbox):
    queue_and_commit(app)
    assert mailbox.received == []  # nothing left during the commit
    [queued] = outbox(app)
    assert queued.sent_at is None and queued.attempts == 0

    [message] = mailbox.to("reader@example.com")  # the worker's next look at the outbox
    assert message["Subject"] == "Your receipt"
    assert message["From"] == app.config["MAIL_FROM"]
    assert message.get_content().strip() == "Thank you for giving $26."
    [stored] = outbox(app)
    assert stored.sent_at is not None and stored.attempts == 1 and stored.last_error is None


def test_an_html_body_is_sent_after_the_text_as_alternatives(app, mailbox):
    with app.app_context():
        queue_mail(db.session, to="reader@example.com", subject="Your receipt", body="Thank you for giving $26.",
                   html="<p>Thank you for giving <strong>$26</strong>.</p>", kind="receipt")
        db.session.commit()
    [message] = mailbox.to("reader@example.com")
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.iter_parts()  # the order mail readers rely on: the richest part last
    assert plain.get_content_type() == "text/plain" and plain.get_content().strip() == "Thank you for giving $26."
    assert html.get_content_type() == "text/html"
    assert html.get_content().strip() == "<p>Thank you for giving <strong>$26</strong>.</p>"


def test_mail_in_a_rolled_back_transaction_is_never_sent(app, mailbox):
    with app.app_context():
        queue_mail(db.session, to="reader@example.com", subject="Never", body="Never sent")
        db.session.flush()
        db.session.rollback()
    assert mailbox.messages == []
    assert outbox(app) == []


def test_a_refused_send_stays_queued_and_is_retried_after_the_backoff_once(app, mailbox):
    mailbox.refuse = True
    queue_and_commit(app)
    mailbox.run_mail_worker()
    [stored] = outbox(app)
    assert stored.sent_at is None
    assert stored.attempts == 1
    assert "451" in stored.last_error
    assert stored.next_attempt_at > utcnow() + backoff(1) - timedelta(seconds=30)
    assert mailbox.messages == []

    mailbox.refuse = False
    runner = app.test_cli_runner()
    result = runner.invoke(args=["mail", "send"])
    assert "Sent 0 of 0 due message(s)." in result.output  # still backing off
    assert mailbox.messages == []

    with app.app_context():  # the backoff has passed
        db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    result = runner.invoke(args=["mail", "send"])
    assert "Sent 1 of 1 due message(s)." in result.output
    result = runner.invoke(args=["mail", "send"])
    assert "Sent 0 of 0 due message(s)." in result.output

    assert len(mailbox.to("reader@example.com")) == 1
    [stored] = outbox(app)
    assert stored.sent_at is not None and stored.attempts == 2 and stored.last_error is None


def test_backoff_doubles_and_is_capped():
    assert [backoff(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert backoff(50) == timedelta(hours=6)


def test_without_mail_url_the_message_goes_to_the_log(make_app, mailbox, caplog):
    app = make_app(MAIL_URL=None)
    with caplog.at_level("INFO", logger="sight.mail"):
        queue_and_commit(app, to="dev@example.com")
        mailbox.run_mail_worker()
    assert mailbox.messages == []
    assert "Mail to dev@example.com: Your receipt" in caplog.text
    assert "Thank you for giving $26." in caplog.text
    [stored] = outbox(app)
    assert stored.sent_at is not None


def test_mail_queued_in_savepoints_leaves_only_after_the_outermost_commit(app, mailbox):
    """A batch queues a receipt per item inside savepoints: releasing one is not a commit."""
    with app.app_context():
        for n in range(3):
            with db.session.begin_nested():
                queue_mail(db.session, to=f"donor{n}@example.com", subject="Receipt", body=f"Gift {n}")
        # The write transaction is still open: a worker looking now finds nothing to send, and
        # does not wait for the lock this transaction holds.
        mailbox.run_mail_worker()
        assert mailbox.received == []
        db.session.commit()
    assert sorted(m["To"] for m in mailbox.messages) == [f"donor{n}@example.com" for n in range(3)]
    assert all(stored.sent_at is not None for stored in outbox(app))


def test_flask_mail_worker_sends_queued_mail_until_it_is_stopped(app, app_config, mailbox):
    """The real command, as production runs it beside the app servers."""
    environment = {
        **os.environ,
        "APP_ENV": "test",
        "DATABASE_URL": app_config["SQLALCHEMY_DATABASE_URI"],
        "MAIL_URL": app_config["MAIL_URL"],
        "SECRET_KEY": app_config["SECRET_KEY"],
        "FLASK_APP": "wsgi.py",
    }
    worker = subprocess.Popen(
        [str(Path(sys.executable).with_name("flask")), "mail", "worker", "--poll", "0.1"],
        cwd=Path(__file__).resolve().parents[2],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        queue_and_commit(app, to="first@example.com")
        queue_and_commit(app, to="second@example.com")
        deadline = time.monotonic() + 30
        while len(mailbox.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    assert sorted(m["To"] for m in mailbox.received) == ["first@example.com", "second@example.com"]
    assert worker.returncode == 0, output
    assert "Mail worker stopped." in output
    assert all(stored.sent_at is not None and stored.attempts == 1 for stored in outbox(app))
