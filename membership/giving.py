"""Giving: start a gift, finish it once the browser has confirmed the card, manage annual gifts.

The browser confirms a SetupIntent with the Card Element (Stripe.js or localstripe's stand-in),
so card details never reach us; then the server charges the confirmed card once (a
PaymentIntent) or starts a yearly subscription with it. Both record through the same
idempotent path as the webhook.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from membership.context import MembershipContext
from membership.ledger import apply_invoice, apply_payment_intent, record_invoice, sync_subscription
from membership.models import (
    Donation,
    DonationStatus,
    Donor,
    GiftKind,
    LedgerEntry,
    Subscription,
    SubscriptionStatus,
)
from membership.stripe_api import CardDeclined, StripeGateway


class CardNotConfirmed(Exception):
    """The SetupIntent has not succeeded: the browser did not (or could not) confirm the card."""


def ensure_customer(session: Session, gateway: StripeGateway, donor: Donor) -> str:
    if donor.stripe_customer_id is None:
        user = donor.user
        donor.stripe_customer_id = gateway.create_customer(
            email=user.email, name=user.name, user_id=user.id, idempotency_key=f"sight-donor-{donor.id}-customer"
        )
        session.flush()
    return donor.stripe_customer_id


def start_donation(
    session: Session,
    *,
    donor: Donor,
    kind: GiftKind,
    amount_cents: int,
    message: str | None,
    ctx: MembershipContext,
    now: datetime,
) -> Donation:
    """Write the gift the donor asked for and open a SetupIntent for the card."""
    gateway = ctx.gateway
    customer = ensure_customer(session, gateway, donor)
    donation = Donation(
        donor_id=donor.id,
        kind=kind,
        amount_cents=amount_cents,
        currency=ctx.settings.currency,
        message=message or None,
        created_at=now,
    )
    session.add(donation)
    session.flush()
    setup = gateway.create_setup_intent(
        customer=customer,
        metadata={"donation_id": str(donation.id), "kind": kind.value},
        idempotency_key=f"sight-donation-{donation.id}-setup",
    )
    donation.setup_intent_id = setup.id
    session.flush()
    return donation


def retry_with_new_card(session: Session, gateway: StripeGateway, donation: Donation) -> None:
    """After a declined card the donor tries again, with a fresh SetupIntent."""
    setup = gateway.create_setup_intent(
        customer=donation.donor.stripe_customer_id,
        metadata={"donation_id": str(donation.id), "kind": donation.kind.value},
        idempotency_key=f"sight-donation-{donation.id}-setup-after-{donation.setup_intent_id}",
    )
    donation.setup_intent_id = setup.id
    session.flush()


@dataclass(frozen=True)
class Outcome:
    entry: LedgerEntry | None
    # Set when the bank wants the donor to authenticate (3-D Secure) in the browser first.
    action_client_secret: str | None = None


def complete_donation(
    session: Session, ctx: MembershipContext, donation: Donation, now: datetime
) -> Outcome:
    """Charge the card the browser confirmed, once or yearly, and record what Stripe says.

    Raises CardDeclined (message for the donor) or CardNotConfirmed.
    """
    if donation.status is DonationStatus.completed:
        return Outcome(None)
    gateway = ctx.gateway
    setup = gateway.retrieve_setup_intent(donation.setup_intent_id)
    if setup.status != "succeeded" or not setup.payment_method:
        raise CardNotConfirmed(setup.status)
    customer = donation.donor.stripe_customer_id
    metadata = {
        "donation_id": str(donation.id),
        "user_id": str(donation.donor.user_id),
        "kind": donation.kind.value,
    }
    if donation.kind is GiftKind.one_off:
        payment = gateway.charge_card(
            customer=customer,
            payment_method=setup.payment_method,
            amount_cents=donation.amount_cents,
            currency=donation.currency,
            metadata=metadata,
            idempotency_key=f"sight-donation-{donation.id}-charge-{setup.id}",
        )
        donation.payment_intent_id = payment.id
        if payment.status == "requires_action":
            return Outcome(None, action_client_secret=payment.client_secret)
        if payment.status != "succeeded":
            raise CardDeclined(payment.error_message or "Your card was declined.")
        return Outcome(apply_payment_intent(session, payment, ctx, now))

    gateway.set_default_card(customer=customer, payment_method=setup.payment_method)
    plan_id = gateway.ensure_plan(donation.amount_cents, donation.currency)
    subscription = gateway.create_subscription(
        customer=customer,
        plan_id=plan_id,
        metadata=metadata,
        idempotency_key=f"sight-donation-{donation.id}-subscription-{setup.id}",
    )
    invoice = gateway.retrieve_invoice(subscription.latest_invoice_id)
    if subscription.status not in ("active", "trialing") or invoice.status != "paid":
        payment = (
            gateway.retrieve_payment_intent(invoice.payment_intent_id)
            if invoice.payment_intent_id
            else None
        )
        if payment is not None and payment.status == "requires_action":
            donation.stripe_subscription_id = subscription.id
            return Outcome(None, action_client_secret=payment.client_secret)
        # Nothing was paid: do not leave an unpaid annual gift behind in Stripe.
        gateway.cancel_subscription_now(subscription.id)
        raise CardDeclined(
            (payment.error_message if payment else None) or "Your card was declined."
        )
    donation.stripe_subscription_id = subscription.id
    return Outcome(apply_invoice(session, invoice, subscription, ctx, now))


def confirm_from_stripe(session: Session, ctx: MembershipContext, donation: Donation, now: datetime) -> None:
    """The thank-you page asks Stripe about a gift the webhook may not have recorded yet."""
    if donation.status is DonationStatus.completed:
        return
    if donation.payment_intent_id:
        apply_payment_intent(session, ctx.gateway.retrieve_payment_intent(donation.payment_intent_id), ctx, now)
    elif donation.stripe_subscription_id:
        subscription = ctx.gateway.retrieve_subscription(donation.stripe_subscription_id)
        if subscription.latest_invoice_id:
            record_invoice(session, ctx, subscription.latest_invoice_id, now)


# --- managing an annual gift ----------------------------------------------------------


def current_annual_gift(session: Session, donor: Donor) -> Subscription | None:
    """The annual gift being paid now (the newest one Stripe still renews or retries)."""
    return session.scalar(
        select(Subscription)
        .where(
            Subscription.donor_id == donor.id,
            Subscription.status.in_([SubscriptionStatus.active, SubscriptionStatus.past_due]),
        )
        .order_by(Subscription.current_period_end.desc(), Subscription.id.desc())
        .limit(1)
    )


def scheduled_successor(session: Session, subscription: Subscription) -> Subscription | None:
    return session.scalar(
        select(Subscription).where(
            Subscription.replaces_stripe_id == subscription.stripe_subscription_id,
            Subscription.status.not_in(
                [SubscriptionStatus.canceled, SubscriptionStatus.incomplete_expired]
            ),
        )
    )


def cancel_annual_gift(
    session: Session, gateway: StripeGateway, subscription: Subscription, now: datetime
) -> None:
    """Stop renewing: the year already paid for still counts. A scheduled new amount goes too."""
    successor = scheduled_successor(session, subscription)
    if successor is not None:
        sync_subscription(session, gateway.cancel_subscription_now(successor.stripe_subscription_id), now)
    sync_subscription(
        session, gateway.set_cancel_at_period_end(subscription.stripe_subscription_id, True), now
    )
    subscription.pending_amount_cents = None


def change_annual_amount(
    session: Session,
    gateway: StripeGateway,
    subscription: Subscription,
    amount_cents: int,
    now: datetime,
) -> None:
    """From the next renewal on, give `amount_cents` a year; nothing is charged now.

    The current gift stops renewing and a new one, billed from the renewal date, takes over:
    both Stripe and localstripe support that without prorating a donation.
    """
    donor = subscription.donor
    plan_id = gateway.ensure_plan(amount_cents, subscription.currency)
    successor = scheduled_successor(session, subscription)
    if successor is not None:
        sync_subscription(session, gateway.change_subscription_plan(successor.stripe_subscription_id, plan_id), now)
    else:
        result = gateway.create_subscription(
            customer=donor.stripe_customer_id,
            plan_id=plan_id,
            metadata={
                "user_id": str(donor.user_id),
                "kind": GiftKind.recurring.value,
                "replaces": subscription.stripe_subscription_id,
            },
            idempotency_key=f"sight-change-{subscription.stripe_subscription_id}-{amount_cents}-{int(now.timestamp())}",
            starts_at=subscription.current_period_end,
        )
        sync_subscription(session, result, now)
    sync_subscription(
        session, gateway.set_cancel_at_period_end(subscription.stripe_subscription_id, True), now
    )
    subscription.pending_amount_cents = amount_cents


def start_card_update(session: Session, gateway: StripeGateway, donor: Donor, now: datetime) -> str:
    """A SetupIntent for a new card; returns its client secret for the Card Element."""
    setup = gateway.create_setup_intent(
        customer=donor.stripe_customer_id,
        metadata={"kind": "card_update", "user_id": str(donor.user_id)},
        idempotency_key=f"sight-card-{donor.id}-{int(now.timestamp() * 1000)}",
    )
    return setup.client_secret


def finish_card_update(gateway: StripeGateway, donor: Donor, setup_intent_id: str) -> None:
    setup = gateway.retrieve_setup_intent(setup_intent_id)
    if setup.status != "succeeded" or setup.customer != donor.stripe_customer_id or not setup.payment_method:
        raise CardNotConfirmed(setup.status)
    gateway.set_default_card(customer=donor.stripe_customer_id, payment_method=setup.payment_method)
