"""Reading a donor's Sight+ status from the database through the pure rule."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from membership.models import ComplimentaryGrant, Donor, LedgerEntry, Subscription
from membership.rules import AnnualGift, Gift, Grant, SightPlusStatus, sight_plus_status


def rule_inputs(session: Session, user_id: int) -> tuple[list[Gift], list[AnnualGift], list[Grant]]:
    donor_id = select(Donor.id).where(Donor.user_id == user_id).scalar_subquery()
    gifts = [
        Gift(e.stripe_object_id, e.paid_at, e.amount_cents, e.refunded_cents)
        for e in session.scalars(select(LedgerEntry).where(LedgerEntry.donor_id == donor_id))
    ]
    annual = [
        AnnualGift(s.stripe_subscription_id, s.status.value, s.yearly_amount_cents, s.current_period_end)
        for s in session.scalars(select(Subscription).where(Subscription.donor_id == donor_id))
    ]
    grants = [
        Grant(g.starts_at, g.ends_at, g.revoked_at)
        for g in session.scalars(
            select(ComplimentaryGrant).where(ComplimentaryGrant.user_id == user_id)
        )
    ]
    return gifts, annual, grants


def status_for_user(
    session: Session, user_id: int, t: datetime, *, threshold_cents: int, grace_days: int
) -> SightPlusStatus:
    gifts, annual, grants = rule_inputs(session, user_id)
    return sight_plus_status(
        gifts, annual, grants, t, threshold_cents=threshold_cents, grace_days=grace_days
    )
