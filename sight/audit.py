"""The audit log: every export, grant, role change and survey edit is written here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from sight.db import utcnow
from sight.models import AuditEntry


def record_audit(
    session: Session,
    *,
    actor_id: int | None,
    actor_email: str | None,
    action: str,
    target: str | None = None,
    details: dict | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Add an audit entry to the caller's transaction."""
    entry = AuditEntry(
        actor_id=actor_id,
        actor_email=actor_email,
        action=action,
        target=target,
        details=details or {},
        created_at=now or utcnow(),
    )
    session.add(entry)
    return entry
