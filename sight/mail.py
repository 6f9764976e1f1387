"""The mail outbox: queue inside the caller's transaction; a separate worker delivers it.

A request only queues: the message is a row written in the same transaction as the change
that caused it, so it exists exactly when that change committed (never from a rolled-back
transaction or a released savepoint), and no request waits on an SMTP server. `flask mail
worker` sends due mail as it arrives and retries failed sends with backoff; `flask mail send`
does one pass (for cron). Without MAIL_URL the message is written to the log instead, which
is how development reads its sign-in links.

Every message is written once, in a template of its own (`templates/<package>/email/<kind>.html`
on `sight/email/layout.html`), and rendered twice from it: a plain-text part and an HTML part,
sent together as multipart/alternative (`queue_templated_mail`).
"""

from __future__ import annotations

import logging
import re
import signal
import smtplib
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit

import click
from flask import Flask
from jinja2 import Environment, FileSystemLoader
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sight.resources import TEMPLATES
from sight.db import utcnow
from sight.extensions import db
from sight.jobs import NO_PROGRESS, Progress, job_progress, quiet_option
from sight.models import OutboxMessage

log = logging.getLogger("sight.mail")

CLAIM_SECONDS = 300
WORKER_POLL_SECONDS = 2.0
MAX_BACKOFF = timedelta(hours=6)

# Mail is written outside any request, so it has environments of its own on the app's templates:
# one that escapes (the HTML part, whatever the template's name) and one that does not (plain text).
_TEMPLATE_LOADER = FileSystemLoader(TEMPLATES)
_html_templates = Environment(loader=_TEMPLATE_LOADER, autoescape=True, trim_blocks=True, lstrip_blocks=True)
_text_templates = Environment(loader=_TEMPLATE_LOADER, autoescape=False, trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def render_mail(template: str, values: dict) -> RenderedMail:
    """Both parts of one message from its one template, and the subject from its `subject` block."""
    text_template = _text_templates.get_template(template)
    text_values = {**values, "html": False}
    subject_block = text_template.blocks["subject"](text_template.new_context(text_values))
    subject = " ".join("".join(subject_block).split())
    text = text_template.render(text_values)
    # Template indentation and the blank lines between blocks, tidied: a blank line between paragraphs.
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(line.strip() for line in text.splitlines())).strip() + "\n"
    html = _html_templates.get_template(template).render({**values, "html": True, "subject": subject})
    return RenderedMail(subject=subject, text=text, html=html)


def queue_templated_mail(
    session: Session,
    *,
    to: str,
    template: str,
    values: dict,
    kind: str,
    user_id: int | None = None,
    now: datetime | None = None,
) -> OutboxMessage:
    """Queue the message that `template` writes from `values`, as plain text and HTML."""
    mail = render_mail(template, values)
    return queue_mail(
        session, to=to, subject=mail.subject, body=mail.text, html=mail.html, kind=kind, user_id=user_id, now=now
    )


def queue_mail(
    session: Session,
    *,
    to: str,
    subject: str,
    body: str,
    html: str | None = None,
    kind: str = "general",
    user_id: int | None = None,
    now: datetime | None = None,
) -> OutboxMessage:
    """Add a message to the outbox; the caller's commit decides whether it is ever sent.

    `html`, when given, is sent as an alternative to `body` (which every reader can fall back on)."""
    now = now or utcnow()
    message = OutboxMessage(
        to_address=to,
        subject=subject,
        body_text=body,
        body_html=html,
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
        if message.body_html:
            email.add_alternative(message.body_html, subtype="html")
        if not self.mail_url:
            # Development reads its links here; production refuses to start without MAIL_URL.
            log.info("Mail to %s: %s\n%s", message.to_address, message.subject, message.body_text,
                     extra={"to": message.to_address, "subject": message.subject})
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


def deliver(
    session: Session, transport: MailTransport, message_ids: list[int], now: datetime, progress: Progress = NO_PROGRESS
) -> int:
    """Try to send each due message once; returns how many were sent."""
    sent = 0
    progress.start(len(message_ids), "Sending mail")
    for message_id in message_ids:
        if _claim(session, message_id, now):
            sent += _send_claimed(session, transport, message_id, now)
        progress.advance()
    return sent


def _send_claimed(session: Session, transport: MailTransport, message_id: int, now: datetime) -> int:
    """Send one claimed message and record how it went; 1 when it was sent."""
    message = session.get(OutboxMessage, message_id)
    try:
        transport.send(message)
    except (OSError, smtplib.SMTPException) as exc:
        message.attempts += 1
        message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        message.next_attempt_at = now + backoff(message.attempts)
        log.warning("Mail %s to %s not sent: %s", message.id, message.to_address, exc)
        session.commit()
        return 0
    message.attempts += 1
    message.sent_at = now
    message.last_error = None
    session.commit()
    return 1


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


def deliver_due(
    session: Session, transport: MailTransport, now: datetime, progress: Progress = NO_PROGRESS
) -> tuple[int, int]:
    """One pass of the worker: try every due message once; returns (sent, due)."""
    message_ids = due_message_ids(session, now)
    sent = deliver(session, transport, message_ids, now, progress)
    session.rollback()  # end the last read, so that nothing stays open between passes
    return sent, len(message_ids)


def run_worker(app: Flask, stop: threading.Event, poll_seconds: float = WORKER_POLL_SECONDS) -> None:
    """Send due mail every `poll_seconds` until `stop` is set; an error in one pass is logged
    and the next pass tries again, so a database restart does not end the worker."""
    transport = transport_from_config(app)
    while not stop.is_set():
        with app.app_context():
            try:
                sent, due = deliver_due(db.session, transport, utcnow())
                if due:
                    log.info("Mail worker sent %d of %d due message(s)", sent, due)
            except Exception:
                log.exception("Mail worker pass failed; retrying in %.1fs", poll_seconds)
            finally:
                db.session.remove()
        stop.wait(poll_seconds)


def init_app(app: Flask) -> None:
    @app.cli.group("mail")
    def mail_group():
        """The mail outbox."""

    @mail_group.command("send")
    @quiet_option
    def send_command():
        """Send every queued message that is due, once (safe to run from cron)."""
        with job_progress() as progress:
            sent, due = deliver_due(db.session, transport_from_config(app), utcnow(), progress)
        click.echo(f"Sent {sent} of {due} due message(s).")

    @mail_group.command("worker")
    @click.option("--poll", "poll_seconds", type=click.FloatRange(min=0.05), default=WORKER_POLL_SECONDS,
                  show_default=True, help="Seconds between looks at the outbox.")
    def worker_command(poll_seconds: float):
        """Send queued mail as it arrives, until stopped (SIGTERM or Ctrl-C)."""
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        click.echo(f"Mail worker: sending queued mail every {poll_seconds:g}s; stop with Ctrl-C.")
        run_worker(app, stop, poll_seconds)
        click.echo("Mail worker stopped.")
