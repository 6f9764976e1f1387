"""Complimentary Sight+ that staff give and end, each with a reason, each audited."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from accounts.models import User
from membership.models import ComplimentaryGrant
from membership.receipts import queue_grant_confirmation
from membership.status import as_grant
from sight.audit import record_audit
from sight.templating import Formats


class GrantRefused(Exception):
    """A grant or revocation that cannot be made; the message is for staff."""


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def grant_complimentary(
    session: Session, *, user: User, reason: str, ends_at: datetime, actor: User, now: datetime,
    formats: Formats = Formats(),
) -> ComplimentaryGrant:
    """Sight+ from now until `ends_at` (exclusive), whatever the donor gives; audited with the
    reason, and confirmed to the member by email."""
    reason = reason.strip()
    if not reason:
        raise GrantRefused("Say why this membership is given.")
    if ends_at <= now:
        raise GrantRefused("The end date must be in the future.")
    if user.closed_at is not None:
        raise GrantRefused("This account is closed.")
    grant = ComplimentaryGrant(
        user_id=user.id,
        reason=reason,
        starts_at=now,
        ends_at=ends_at,
        granted_by_id=actor.id,
        granted_at=now,
    )
    session.add(grant)
    session.flush()
    details = {"grant_id": grant.id, "reason": reason, "starts_at": _iso(now), "ends_at": _iso(ends_at)}
    record_audit(session, actor=actor, action="membership.grant", target=f"user:{user.id}", details=details, now=now)
    queue_grant_confirmation(session, user, ends_at, formats, now)
    return grant


def revoke_complimentary(
    session: Session, *, grant: ComplimentaryGrant, reason: str, actor: User, now: datetime
) -> None:
    """End a complimentary membership now; the row stays, with who ended it and why."""
    reason = reason.strip()
    if not reason:
        raise GrantRefused("Say why this membership ends.")
    if grant.revoked_at is not None or as_grant(grant).effective_end <= now:
        raise GrantRefused("This complimentary membership has already ended.")
    grant.revoked_at = now
    grant.revoked_by_id = actor.id
    grant.revoke_reason = reason
    details = {"grant_id": grant.id, "reason": reason, "was_ending_at": _iso(grant.ends_at)}
    record_audit(
        session, actor=actor, action="membership.revoke", target=f"user:{grant.user_id}", details=details, now=now
    )
