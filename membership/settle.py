"""Settling gifts that a request left half-done: `flask membership settle`, every minute.

A request that charges a gift claims it ("charging"), calls Stripe, then writes down Stripe's
answer. If the worker or the database dies between Stripe's answer and that write, the card is
charged and the gift stays "charging": no ledger entry, no receipt, and the donor's page says
"we're taking your payment" for good. A gift waiting for the bank ("authenticating") can be left
the same way when the donor's browser never comes back. Once such a claim is older than
`CLAIM_TIMEOUT`, this job takes it over and asks Stripe what happened, as reconcile does: it
only reads (it never charges), records what Stripe confirmed through the same idempotent path as
the pay page and the webhook (one ledger entry, one receipt, whoever records it first), and sends
a gift nothing was charged for back to the card form. The donor's page refreshes itself and
becomes the thank-you page.

Each gift is claimed with a conditional UPDATE and committed before Stripe is called, so two runs
at once (or a run and the donor's own retry) never settle the same gift twice; no transaction is
open while Stripe answers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from membership.context import MembershipContext
from membership.donors import NotYetRecorded
from membership.giving import CLAIM_TIMEOUT, ChargeOutcome, GiftInHand, check_authentication, record_charge
from membership.models import Donation, DonationStatus, GiftKind
from membership.stripe_api import StripeGateway, StripeProblem
from sight.jobs import NO_PROGRESS, Progress

LEFT_HALF_DONE = (DonationStatus.charging, DonationStatus.authenticating)
# A bank check abandoned in the browser stays "requires action" in Stripe for good: it is asked
# about for a day, then left to the webhook (should the donor finish it) and to reconcile.
BANK_CHECK_WATCHED_FOR = timedelta(days=1)


@dataclass
class SettleReport:
    paid: int = 0
    back_to_card_form: int = 0
    waiting_for_bank: int = 0
    taken_by_another: int = 0
    failures: list[str] | None = None

    def summary(self) -> str:
        return (
            f"Settled {self.paid + self.back_to_card_form + self.waiting_for_bank} donation(s) left half-done: "
            f"{self.paid} paid and recorded, {self.back_to_card_form} back to the card form (nothing was charged), "
            f"{self.waiting_for_bank} still waiting for the bank; {len(self.failures or [])} failure(s)."
        )


def stuck_donations(session: Session, now: datetime) -> list[int]:
    """Gifts claimed longer ago than a request may take, oldest first."""
    return list(
        session.scalars(
            select(Donation.id)
            .where(
                Donation.claimed_at < now - CLAIM_TIMEOUT,
                or_(
                    Donation.status == DonationStatus.charging,
                    (Donation.status == DonationStatus.authenticating)
                    & (Donation.created_at > now - BANK_CHECK_WATCHED_FOR),
                ),
            )
            .order_by(Donation.claimed_at)
        )
    )


@dataclass(frozen=True)
class StuckGift:
    gift: GiftInHand
    status_before: DonationStatus
    started_at: datetime


def claim_stuck(session: Session, donation_id: int, now: datetime) -> StuckGift | None:
    """Take a half-done gift over (one conditional UPDATE: of any number of runs, one wins).
    None when it was settled or taken meanwhile."""
    before = session.scalar(select(Donation.status).where(Donation.id == donation_id))
    claimed = session.execute(
        update(Donation)
        .where(
            Donation.id == donation_id,
            Donation.status == before,
            Donation.status.in_(LEFT_HALF_DONE),
            Donation.claimed_at < now - CLAIM_TIMEOUT,
        )
        .values(status=DonationStatus.charging, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return None
    donation = session.get(Donation, donation_id, populate_existing=True)
    return StuckGift(GiftInHand.of(donation), before, donation.created_at)


def ask_stripe(gateway: StripeGateway, stuck: StuckGift) -> ChargeOutcome:
    """Stripe only (read only): what became of the gift. A gift whose PaymentIntent or
    subscription we never wrote down is found among its Customer's objects by the donation id
    every create carries in its metadata; none found means nothing was charged."""
    gift = stuck.gift
    if not (gift.payment_intent_id or gift.subscription_id) and gift.customer_id:
        gift = replace(gift, **_find_in_stripe(gateway, gift, stuck.started_at))
    if gift.payment_intent_id or gift.subscription_id:
        return check_authentication(gateway, gift)
    return ChargeOutcome()


def _find_in_stripe(gateway: StripeGateway, gift: GiftInHand, since: datetime) -> dict:
    donation_id = str(gift.donation_id)
    if gift.kind is GiftKind.recurring:
        for subscription in gateway.customer_subscriptions(gift.customer_id):
            if subscription.metadata.get("donation_id") == donation_id:
                return {"subscription_id": subscription.id}
        return {}
    # Stripe keeps a charge for every PaymentIntent it tried to charge, and filters charges
    # (unlike PaymentIntents, in localstripe) by customer.
    for charge in gateway.charges_of_customer(gift.customer_id, since):
        if charge.payment_intent_id:
            payment = gateway.retrieve_payment_intent(charge.payment_intent_id)
            if payment.metadata.get("donation_id") == donation_id:
                return {"payment_intent_id": payment.id}
    return {}


def settle_stuck_donations(
    session: Session, ctx: MembershipContext, now: datetime, progress: Progress = NO_PROGRESS
) -> SettleReport:
    """Settle every half-done gift; commits after each (a batch job, like reconcile)."""
    report = SettleReport(failures=[])
    stuck_ids = stuck_donations(session, now)
    session.rollback()
    progress.start(len(stuck_ids), "Unsettled gifts")
    for donation_id in stuck_ids:
        stuck = claim_stuck(session, donation_id, now)
        session.commit()
        if stuck is None:
            report.taken_by_another += 1
            progress.advance()
            continue
        try:
            outcome = ask_stripe(ctx.gateway, stuck)
            record_charge(session, ctx, stuck.gift, outcome, now)
            session.commit()
        except (StripeProblem, NotYetRecorded) as problem:
            session.rollback()
            # Left as it was, claimed now: the next run asks again.
            session.execute(
                update(Donation)
                .where(Donation.id == donation_id, Donation.status == DonationStatus.charging)
                .values(status=stuck.status_before)
                .execution_options(synchronize_session=False)
            )
            session.commit()
            report.failures.append(f"Failed: gift {donation_id}: {problem}")
        else:
            if outcome.paid:
                report.paid += 1
            elif outcome.payment is not None:
                report.waiting_for_bank += 1
            else:
                report.back_to_card_form += 1
        progress.advance()
    return report
