"""The audit log: every export, grant, role change and survey edit is written here."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from sight.db import utcnow
from sight.models import AuditEntry


class Actor(Protocol):
    """Whoever acted: a signed-in user (the shell does not import accounts)."""

    id: int
    email: str


def record_audit(
    session: Session,
    *,
    actor: Actor | None,
    action: str,
    target: str | None = None,
    details: dict | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Add an audit entry to the caller's transaction; `actor` is None for the command line.

    The email is copied so that the entry still says who it was after the account is closed.
    """
    entry = AuditEntry(
        actor_id=actor.id if actor else None,
        actor_email=actor.email if actor else None,
        action=action,
        target=target,
        details=details or {},
        created_at=now or utcnow(),
    )
    session.add(entry)
    return entry
