"""The mail outbox against a real SMTP server: sent after commit, kept and retried when refused."""

from datetime import timedelta

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


def test_mail_is_delivered_over_smtp_right_after_the_commit(app, mailbox):
    queue_and_commit(app)
    [message] = mailbox.to("reader@example.com")
    assert message["Subject"] == "Your receipt"
    assert message["From"] == app.config["MAIL_FROM"]
    assert message.get_content().strip() == "Thank you for giving $26."
    [stored] = outbox(app)
    assert stored.sent_at is not None and stored.attempts == 1 and stored.last_error is None


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
    assert mailbox.messages == []
    assert "Mail to dev@example.com: Your receipt" in caplog.text
    assert "Thank you for giving $26." in caplog.text
    [stored] = outbox(app)
    assert stored.sent_at is not None
