"""Donors: the giving side of an account, matched to it by email and to Stripe by customer id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.operations import account_for_email
from membership.models import Donor


class NotYetRecorded(Exception):
    """Stripe told us about something that depends on what we have not recorded yet: retry later."""


def find_or_create_donor(session: Session, *, email: str, name: str, now: datetime) -> Donor:
    """The donor for this email (matched case-insensitively), creating the account if needed."""
    # An existing account keeps its name: whoever types an email address here is not signed in.
    user = account_for_email(session, email=email, name=name, now=now)
    donor = donor_for_user(session, user.id)
    if donor is None:
        try:
            with session.begin_nested():
                donor = Donor(user_id=user.id, created_at=now)
                session.add(donor)
        except IntegrityError:
            donor = donor_for_user(session, user.id)
    return donor


def donor_for_user(session: Session, user_id: int) -> Donor | None:
    return session.scalar(select(Donor).where(Donor.user_id == user_id))


def donor_for_customer(session: Session, customer_id: str | None) -> Donor:
    donor = (
        session.scalar(select(Donor).where(Donor.stripe_customer_id == customer_id))
        if customer_id
        else None
    )
    if donor is None:
        raise NotYetRecorded(f"no donor for Stripe customer {customer_id}")
    return donor
