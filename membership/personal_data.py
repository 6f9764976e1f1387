"""A donor's giving in their data download, and what closing the account does to it.

Closing keeps the ledger (amounts, dates, refunds, Stripe ids: the accounts need them) and
removes what the donor wrote with a gift. Annual gifts stop renewing at the end of the year
already paid for: nobody could be told about a renewal any more, and no one should be charged
for an account they closed. The Stripe Customer stays, because the ledger's charges point at it,
but without a name or an email; stored webhook events that mention it are redacted too.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from accounts.models import User
from accounts.operations import AccountError
from membership.donors import donor_for_user
from membership.giving import cancel_annual_gift
from membership.context import MembershipContext
from membership.models import (
    ComplimentaryGrant,
    Donation,
    DonationStatus,
    LedgerEntry,
    StripeEvent,
    Subscription,
    SubscriptionStatus,
)
from membership.stripe_api import NotFound, StripeProblem
from membership.webhook import redact_personal_details

RENEWING = (SubscriptionStatus.active, SubscriptionStatus.past_due)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def giving_section(session: Session, user: User) -> dict:
    donor = donor_for_user(session, user.id)
    grants = session.scalars(
        select(ComplimentaryGrant).where(ComplimentaryGrant.user_id == user.id).order_by(ComplimentaryGrant.starts_at)
    )
    section: dict = {
        "complimentary_memberships": [
            {
                "reason": grant.reason,
                "starts_at": _iso(grant.starts_at),
                "ends_at": _iso(grant.ends_at),
                "revoked_at": _iso(grant.revoked_at),
            }
            for grant in grants
        ]
    }
    if donor is None:
        return section | {"donor": None, "gifts": [], "unfinished_gifts": [], "annual_gifts": []}
    unfinished = session.scalars(
        select(Donation)
        .where(Donation.donor_id == donor.id, Donation.status == DonationStatus.awaiting_card)
        .order_by(Donation.created_at)
    )
    return section | {
        "donor": {"stripe_customer_id": donor.stripe_customer_id, "created_at": _iso(donor.created_at)},
        "gifts": [
            {
                "receipt_number": entry.id,
                "kind": entry.kind.value,
                "amount_cents": entry.amount_cents,
                "refunded_cents": entry.refunded_cents,
                "currency": entry.currency,
                "paid_at": _iso(entry.paid_at),
                "stripe_reference": entry.stripe_object_id,
                "message": entry.message,
            }
            for entry in donor.entries
        ],
        "unfinished_gifts": [
            {
                "kind": donation.kind.value,
                "amount_cents": donation.amount_cents,
                "currency": donation.currency,
                "started_at": _iso(donation.created_at),
                "message": donation.message,
            }
            for donation in unfinished
        ],
        "annual_gifts": [
            {
                "status": gift.status.value,
                "yearly_amount_cents": gift.yearly_amount_cents,
                "currency": gift.currency,
                "current_period_end": _iso(gift.current_period_end),
                "renews": not gift.cancel_at_period_end,
            }
            for gift in donor.subscriptions
        ],
    }


def close_giving(session: Session, ctx: MembershipContext, user: User, now: datetime) -> None:
    donor = donor_for_user(session, user.id)
    if donor is None:
        return
    # Every manage link dies with the account.
    donor.manage_version += 1
    renewing = session.scalars(
        select(Subscription).where(Subscription.donor_id == donor.id, Subscription.status.in_(RENEWING))
    ).all()
    try:
        for gift in renewing:
            try:
                cancel_annual_gift(session, ctx, gift, now)
            except NotFound:
                continue  # Stripe has no such subscription: nothing left to renew
        if donor.stripe_customer_id:
            try:
                ctx.gateway.scrub_customer(donor.stripe_customer_id)
            except NotFound:
                pass  # deleted in Stripe already: nothing of the person left there
    except StripeProblem as problem:
        raise AccountError(
            "We couldn't reach our payment provider to stop your annual gift and remove your details, "
            "so your account is still open. Please try again in a minute."
        ) from problem
    if donor.stripe_customer_id:
        mentioning = session.scalars(
            select(StripeEvent).where(StripeEvent.body.contains(donor.stripe_customer_id), StripeEvent.processed_at.is_not(None))
        )
        for event in mentioning:
            event.body = redact_personal_details(event.body)
    for model in (LedgerEntry, Donation):
        session.execute(
            update(model)
            .where(model.donor_id == donor.id)
            .values(message=None)
            .execution_options(synchronize_session="fetch")
        )
