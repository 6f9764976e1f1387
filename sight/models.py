"""Tables that belong to the shell rather than to one area of the product."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sight.db import utcnow
from sight.extensions import db


class OutboxMessage(db.Model):
    """An email waiting to be sent, written in the same transaction as the change that caused it."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index("ix_outbox_message_pending", "sent_at", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200))
    body_text: Mapped[str] = mapped_column(Text)
    # Sent with the text as multipart/alternative when present (receipts).
    body_html: Mapped[str | None] = mapped_column(Text)
    # What caused it ("receipt", "sign_in_link" …), so staff can see what a person was sent.
    kind: Mapped[str] = mapped_column(String(40), default="general")
    user_id: Mapped[int | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]


class AuditEntry(db.Model):
    """Who did what, when: exports, grants, role changes, survey edits."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(index=True)
    actor_email: Mapped[str | None] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(60), index=True)
    # What was acted on, e.g. "survey:reader-survey" or "user:42".
    target: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class JobRun(db.Model):
    """The last run of each scheduled job (`flask mail send`, `flask membership remind` …),
    so that `flask doctor` can tell an operator when cron or a timer stopped running one."""

    __tablename__ = "job_run"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    # Why the last run failed; None when it succeeded (or is still running).
    error: Mapped[str | None] = mapped_column(Text)
