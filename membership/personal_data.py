"""A donor's giving in their data download, and what closing the account, or purging a gift
never paid, leaves of the person: no name and no email, here or in Stripe.

Closing keeps the ledger (amounts, dates, receipt numbers, refunds, Stripe ids: the accounts need
them) and removes the name given with each gift and what the donor wrote with it. Annual gifts
stop renewing at the end of the year already paid for: nobody could be told about a renewal any
more, and no one should be charged for an account they closed. The Stripe Customer stays, because
the ledger's charges point at it, but its cards are emptied of their billing details and detached,
and it keeps no name or email; stored webhook events that mention it are redacted too.

`flask membership purge` forgets gifts started and never paid; a donor left with nothing goes
with its Stripe Customer (cards emptied and detached, then the Customer deleted: it never paid),
and so does the account the gift made, if it was never used for anything else.

Stripe is told after our own writes commit, never inside them: the account closes even while
Stripe is unreachable, the donor stays marked (`stripe_erasure_due_at`) until Stripe has done its
part, `flask doctor` reports what is left, and `flask stripe reconcile` finishes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.orm import Session

from accounts.models import AccountToken, Role, User
from accounts.personal_data import ErasureStep, close_account
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


def close_giving(session: Session, user: User, now: datetime) -> None:
    """The database side of closing, in the account's closing transaction: no Stripe call here
    (a write transaction must not wait on the network); `finish_closing_in_stripe` follows the commit."""
    donor = donor_for_user(session, user.id)
    if donor is None:
        return
    # Every manage link dies with the account.
    donor.manage_version += 1
    # Every stored event that names them or their Customer, applied or still failing: the
    # handlers read ids, amounts and states, which redacting keeps.
    mentions = [StripeEvent.body.contains(user.email)]
    if donor.stripe_customer_id:
        donor.stripe_erasure_due_at = now
        mentions.append(StripeEvent.body.contains(donor.stripe_customer_id))
    for event in session.scalars(select(StripeEvent).where(or_(*mentions))):
        event.body = redact_personal_details(event.body)
    session.execute(
        update(LedgerEntry)
        .where(LedgerEntry.donor_id == donor.id)
        .values(message=None)
        .execution_options(synchronize_session="fetch")
    )
    # A gift's amount, date and Stripe ids stay; the name given with it goes.
    session.execute(
        update(Donation)
        .where(Donation.donor_id == donor.id)
        .values(message=None, donor_name="")
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
    setup_intents = list(
        session.scalars(select(Donation.setup_intent_id).where(Donation.donor_id == donor_id, Donation.setup_intent_id.is_not(None)))
    )
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
            ctx.gateway.forget_cards(customer, setup_intents)
            ctx.gateway.scrub_customer(customer)

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


@dataclass
class PurgeReport:
    starts: int = 0
    donors: int = 0
    accounts: int = 0
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"Purged {self.starts} unpaid gift start(s). Forgot {self.donors} donor(s) left with nothing, "
            f"with their Stripe Customers, and {self.accounts} account(s) never used for anything else."
        )


def purge_abandoned_starts(
    session: Session, ctx: MembershipContext, steps: Iterable[ErasureStep], *, older_than: timedelta, now: datetime
) -> PurgeReport:
    """Forget gifts started and never paid, then each donor left with nothing: a start is not a
    donor. A batch job: commits the starts, then each donor on its own after Stripe has forgotten
    it (no transaction open while Stripe answers). A donor Stripe could not be told about stays
    for the next run. `steps` are the accounts' erasure steps, run on an account before it goes."""
    cutoff = now - older_than
    report = PurgeReport()
    abandoned = (Donation.status == DonationStatus.awaiting_card, Donation.created_at < cutoff)
    # The cards confirmed for them and never charged are found through their SetupIntents.
    setup_intents: dict[int, list[str]] = {}
    for donor_id, setup_intent_id in session.execute(
        select(Donation.donor_id, Donation.setup_intent_id).where(*abandoned, Donation.setup_intent_id.is_not(None))
    ):
        setup_intents.setdefault(donor_id, []).append(setup_intent_id)
    report.starts = session.execute(delete(Donation).where(*abandoned).execution_options(synchronize_session=False)).rowcount
    session.commit()
    left_with_nothing = session.execute(
        select(Donor.id, Donor.stripe_customer_id).where(Donor.created_at < cutoff, _has_nothing(Donor.id))
    ).all()
    session.rollback()
    for donor_id, customer in left_with_nothing:
        try:
            if customer:
                with suppress(NotFound):  # gone from Stripe already
                    ctx.gateway.forget_cards(customer, setup_intents.get(donor_id, []))
                    ctx.gateway.delete_customer(customer)
        except StripeProblem as problem:
            report.failures.append(f"Failed: forgetting donor {donor_id} in Stripe: {problem}")
            continue
        user_id = session.scalar(select(Donor.user_id).where(Donor.id == donor_id))
        # Conditional: a donor who started a gift meanwhile stays.
        gone = session.execute(
            delete(Donor).where(Donor.id == donor_id, _has_nothing(Donor.id)).execution_options(synchronize_session=False)
        ).rowcount
        report.donors += gone
        if gone and _never_used(session, user_id):
            user = session.get(User, user_id)
            close_account(session, user, steps, now=now)
            session.execute(delete(User).where(User.id == user_id).execution_options(synchronize_session=False))
            report.accounts += 1
        session.commit()
    return report


def _has_nothing(donor_id):
    return (
        ~exists().where(Donation.donor_id == donor_id)
        & ~exists().where(LedgerEntry.donor_id == donor_id)
        & ~exists().where(Subscription.donor_id == donor_id)
    )


def _never_used(session: Session, user_id: int) -> bool:
    """An account a gift made that no one ever signed in to, nor staff gave anything: no password,
    no second factor, no sign-in link used, no complimentary membership, a reader's."""
    user = session.get(User, user_id)
    return (
        user is not None
        and user.closed_at is None
        and user.role is Role.reader
        and user.password_hash is None
        and user.totp_secret is None
        and not session.scalar(select(exists().where(AccountToken.user_id == user_id, AccountToken.used_at.is_not(None))))
        and not session.scalar(select(exists().where(ComplimentaryGrant.user_id == user_id)))
    )
