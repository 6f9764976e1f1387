"""The mail outbox: queue inside the caller's transaction, deliver after it commits.

Queued mail is delivered right after the commit that wrote it (best effort) and by
`flask mail send`, which also retries failed sends with backoff. Without MAIL_URL the
message is written to the log instead, which is how development reads its sign-in links.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

import click
from flask import Flask, current_app, has_app_context
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from sight.db import utcnow
from sight.extensions import db
from sight.models import OutboxMessage

log = logging.getLogger("sight.mail")

CLAIM_SECONDS = 300
MAX_BACKOFF = timedelta(hours=6)


def queue_mail(
    session: Session,
    *,
    to: str,
    subject: str,
    body: str,
    kind: str = "general",
    user_id: int | None = None,
    now: datetime | None = None,
) -> OutboxMessage:
    """Add a message to the outbox; the caller's commit decides whether it is ever sent."""
    now = now or utcnow()
    message = OutboxMessage(
        to_address=to,
        subject=subject,
        body_text=body,
        kind=kind,
        user_id=user_id,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(message)
    return message


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 … minutes after each failure, at most six hours."""
    # The exponent is capped: 2**9 minutes is already past the cap, and a huge one overflows timedelta.
    return min(timedelta(minutes=2 ** min(max(attempts - 1, 0), 9)), MAX_BACKOFF)


class MailTransport:
    """Sends one message over SMTP from a `smtp://user:pass@host:port` (or `smtps://`) URL."""

    def __init__(self, mail_url: str | None, mail_from: str, timeout: float = 10):
        self.mail_url = mail_url
        self.mail_from = mail_from
        self.timeout = timeout

    def send(self, message: OutboxMessage) -> None:
        email = EmailMessage()
        email["From"] = self.mail_from
        email["To"] = message.to_address
        email["Subject"] = message.subject
        email["Message-ID"] = make_msgid(domain="sight.example")
        email.set_content(message.body_text)
        if not self.mail_url:
            log.info("Mail to %s: %s\n%s", message.to_address, message.subject, message.body_text)
            return
        url = urlsplit(self.mail_url)
        smtp_class = smtplib.SMTP_SSL if url.scheme == "smtps" else smtplib.SMTP
        with smtp_class(url.hostname, url.port or 25, timeout=self.timeout) as smtp:
            smtp.ehlo()
            if url.scheme == "smtp" and smtp.has_extn("starttls"):
                smtp.starttls()
                smtp.ehlo()
            if url.username:
                smtp.login(unquote(url.username), unquote(url.password or ""))
            smtp.send_message(email)


def _claim(session: Session, message_id: int, now: datetime) -> bool:
    """Take a message for CLAIM_SECONDS so that two senders never send it twice."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.next_attempt_at <= now,
        )
        .values(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
    )
    session.commit()
    return result.rowcount == 1


def deliver(session: Session, transport: MailTransport, message_ids: list[int], now: datetime) -> int:
    """Try to send each due message once; returns how many were sent."""
    sent = 0
    for message_id in message_ids:
        if not _claim(session, message_id, now):
            continue
        message = session.get(OutboxMessage, message_id)
        try:
            transport.send(message)
        except (OSError, smtplib.SMTPException) as exc:
            message.attempts += 1
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            message.next_attempt_at = now + backoff(message.attempts)
            log.warning("Mail %s to %s not sent: %s", message.id, message.to_address, exc)
        else:
            message.attempts += 1
            message.sent_at = now
            message.last_error = None
            sent += 1
        session.commit()
    return sent


def due_message_ids(session: Session, now: datetime) -> list[int]:
    return list(
        session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.id)
        )
    )


def transport_from_config(app: Flask) -> MailTransport:
    return MailTransport(app.config.get("MAIL_URL"), app.config["MAIL_FROM"])


@event.listens_for(Session, "after_flush")
def _remember_new_mail(session, flush_context):
    new_ids = [obj.id for obj in session.new if isinstance(obj, OutboxMessage)]
    if new_ids:
        session.info.setdefault("outbox_ids", []).extend(new_ids)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back_mail(session, previous_transaction):
    session.info.pop("outbox_ids", None)


@event.listens_for(Session, "after_commit")
def _deliver_after_commit(session):
    message_ids = session.info.pop("outbox_ids", None)
    if not message_ids or not has_app_context():
        return
    app = current_app._get_current_object()
    if app.config.get("MAIL_DELIVER_AFTER_COMMIT", True) is False:
        return
    try:
        with Session(db.engine) as delivery_session:
            deliver(delivery_session, transport_from_config(app), message_ids, utcnow())
    except Exception:  # best effort: `flask mail send` picks up whatever is left
        log.exception("Delivering mail after commit failed; it stays queued")


def init_app(app: Flask) -> None:
    @app.cli.group("mail")
    def mail_group():
        """The mail outbox."""

    @mail_group.command("send")
    def send_command():
        """Send every queued message that is due (safe to run from cron)."""
        now = utcnow()
        ids = due_message_ids(db.session, now)
        sent = deliver(db.session, transport_from_config(app), ids, now)
        click.echo(f"Sent {sent} of {len(ids)} due message(s).")
