"""Complimentary Sight+ that staff give and end, each with a reason, each audited."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.models import User
from membership.context import MembershipContext
from membership.donors import donor_for_user
from membership.models import ComplimentaryGrant, Donor
from membership.receipts import queue_grant_confirmation, queue_sight_plus_ended_if_so
from membership.status import as_grant
from sight.audit import record_audit
from sight.templating import Formats


class GrantRefused(Exception):
    """A grant or revocation that cannot be made; the message is for staff."""


class MemberJustChanged(GrantRefused):
    """Another request granted or revoked since the form was shown: nothing was done."""


def grants_version(session: Session, user_id: int) -> int:
    """The version a grant form shows (a reader who never gave has no donor row yet: 1)."""
    donor = donor_for_user(session, user_id)
    return donor.grants_version if donor else 1


def _claim_member(session: Session, user_id: int, version: int | None) -> None:
    """Take the member for this grant: one conditional UPDATE of the version the form showed, so
    that of the same form sent any number of times at once (or a stale one) exactly one grants."""
    if donor_for_user(session, user_id) is None:
        try:
            with session.begin_nested():
                session.add(Donor(user_id=user_id))
        except IntegrityError:
            pass  # another request made it first; the version below decides
    claimed = session.execute(
        update(Donor)
        .where(Donor.user_id == user_id, Donor.grants_version == version)
        .values(grants_version=Donor.grants_version + 1)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise MemberJustChanged("A complimentary membership was given to this person a moment ago.")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def grant_complimentary(
    session: Session, *, user: User, reason: str, ends_at: datetime, actor: User, now: datetime,
    version: int | None, formats: Formats = Formats(),
) -> ComplimentaryGrant:
    """Sight+ from now until `ends_at` (exclusive), whatever the donor gives; audited with the
    reason, and confirmed to the member by email. `version` is the member's grants version the
    form showed (MemberJustChanged when it is not the current one)."""
    reason = reason.strip()
    if not reason:
        raise GrantRefused("Say why this membership is given.")
    if ends_at <= now:
        raise GrantRefused("The end date must be in the future.")
    if user.closed_at is not None:
        raise GrantRefused("This account is closed.")
    _claim_member(session, user.id, version)
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
    session: Session, *, grant: ComplimentaryGrant, reason: str, actor: User, now: datetime,
    ctx: MembershipContext | None = None,
) -> None:
    """End a complimentary membership now; the row stays, with who ended it and why. The grant is
    claimed by one conditional UPDATE: of any number of concurrent revocations one is made (and
    audited), the others raise MemberJustChanged."""
    reason = reason.strip()
    if not reason:
        raise GrantRefused("Say why this membership ends.")
    if grant.revoked_at is None and as_grant(grant).effective_end <= now:
        raise GrantRefused("This complimentary membership has already ended.")
    revoked = session.execute(
        update(ComplimentaryGrant)
        .where(ComplimentaryGrant.id == grant.id, ComplimentaryGrant.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by_id=actor.id, revoke_reason=reason)
        .execution_options(synchronize_session=False)
    )
    if revoked.rowcount != 1:
        raise MemberJustChanged("This complimentary membership has already ended.")
    session.refresh(grant)
    if ctx is not None:
        queue_sight_plus_ended_if_so(session, ctx, grant.user, "your complimentary membership was ended", now)
    details = {"grant_id": grant.id, "reason": reason, "was_ending_at": _iso(grant.ends_at)}
    record_audit(
        session, actor=actor, action="membership.revoke", target=f"user:{grant.user_id}", details=details, now=now
    )
