"""A donor's giving in their data download, and what closing the account does to it.

Closing keeps the ledger (amounts, dates, refunds, Stripe ids: the accounts need them) and
removes what the donor wrote with a gift and the name given with it. Annual gifts stop renewing at the end of the year
already paid for: nobody could be told about a renewal any more, and no one should be charged
for an account they closed. The Stripe Customer stays, because the ledger's charges point at it,
but without a name or an email; stored webhook events that mention it are redacted too.

Stripe is told after the closing commits, never inside it: the account closes even while Stripe
is unreachable, the donor stays marked (`stripe_erasure_due_at`) until Stripe has done its part,
`flask doctor` reports what is left, and `flask stripe reconcile` finishes it.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from accounts.models import User
from membership.context import MembershipContext
from membership.donors import donor_for_user
from membership.giving import scheduled_successors
from membership.ledger import sync_subscription
from membership.models import (
    ComplimentaryGrant,
    Donation,
    DonationStatus,
    Donor,
    LedgerEntry,
    StripeEvent,
    Subscription,
    SubscriptionStatus,
)
from membership.stripe_api import NotFound
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


def close_giving(session: Session, user: User, now: datetime) -> None:
    """The database side of closing, in the account's closing transaction: no Stripe call here
    (a write transaction must not wait on the network); `finish_closing_in_stripe` follows the commit."""
    donor = donor_for_user(session, user.id)
    if donor is None:
        return
    # Every manage link dies with the account.
    donor.manage_version += 1
    if donor.stripe_customer_id:
        donor.stripe_erasure_due_at = now
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
    # The name given with each gift goes too; the amounts and dates stay for the accounts.
    session.execute(
        update(Donation)
        .where(Donation.donor_id == donor.id)
        .values(donor_name="")
        .execution_options(synchronize_session="fetch")
    )


def erasures_due_in_stripe(session: Session) -> list[int]:
    """Donors of closed accounts whose annual gifts or details Stripe still has (oldest first)."""
    return list(
        session.scalars(
            select(Donor.id).where(Donor.stripe_erasure_due_at.is_not(None)).order_by(Donor.stripe_erasure_due_at)
        )
    )


def finish_closing_in_stripe(session: Session, ctx: MembershipContext, donor_id: int, now: datetime) -> bool:
    """Stop a closed account's annual gifts renewing (a scheduled successor never starts) and remove
    the person from its Stripe Customer; then record it, for the caller to commit. False if nothing
    was due. Reads, ends that transaction, calls Stripe with none open, then writes. Raises
    StripeProblem, leaving the donor due for the next try; every call is safe to repeat."""
    donor = session.get(Donor, donor_id)
    if donor is None or donor.stripe_erasure_due_at is None:
        return False
    customer = donor.stripe_customer_id
    renewing = session.scalars(
        select(Subscription).where(Subscription.donor_id == donor_id, Subscription.status.in_(RENEWING))
    ).all()
    to_stop = [gift.stripe_subscription_id for gift in renewing]
    never_start = [
        successor.stripe_subscription_id for gift in renewing for successor in scheduled_successors(session, gift)
    ]
    session.rollback()

    results = []
    for subscription_id in never_start:
        with suppress(NotFound):  # Stripe has no such subscription: nothing left to start
            results.append(ctx.gateway.cancel_subscription_now(subscription_id))
    for subscription_id in to_stop:
        with suppress(NotFound):
            results.append(ctx.gateway.set_cancel_at_period_end(subscription_id, True))
    if customer:
        with suppress(NotFound):  # deleted in Stripe already: nothing of the person left there
            ctx.gateway.scrub_customer(customer)
            ctx.gateway.forget_cards(customer)

    for result in results:
        sync_subscription(session, result, now)
    session.execute(
        update(Subscription)
        .where(Subscription.stripe_subscription_id.in_(to_stop))
        .values(pending_amount_cents=None)
        .execution_options(synchronize_session="fetch")
    )
    session.get(Donor, donor_id).stripe_erasure_due_at = None
    return True
