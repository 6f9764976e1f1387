"""The ledger: recording what Stripe confirmed (payments, annual gifts' invoices and their
subscriptions, refunds, lost disputes), each exactly once.

Every function takes a session and plain values (Stripe's answers arrive as the dataclasses of
`membership.stripe_api`), may flush, and leaves the commit to its caller. The unique key on a
ledger entry's Stripe object id, not a look-up, is what makes recording idempotent.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from membership.context import MembershipContext
from membership.donors import donor_for_customer
from membership.models import (
    AdjustmentKind,
    Donation,
    DonationStatus,
    Donor,
    GiftKind,
    LedgerAdjustment,
    LedgerEntry,
    Subscription,
    SubscriptionStatus,
)
from membership.receipts import queue_adjustment_notice, queue_receipt, queue_sight_plus_ended_if_so
from membership.stripe_api import (
    ChargeResult,
    DisputeResult,
    InvoiceResult,
    PaymentResult,
    RefundResult,
    SubscriptionResult,
)

log = logging.getLogger("sight.membership")


def record_payment(
    session: Session,
    *,
    donor: Donor,
    stripe_object_id: str,
    kind: GiftKind,
    amount_cents: int,
    currency: str,
    paid_at: datetime,
    payment_intent_id: str | None = None,
    charge_id: str | None = None,
    invoice_id: str | None = None,
    subscription_id: str | None = None,
    message: str | None = None,
    now: datetime,
) -> tuple[LedgerEntry, bool]:
    """Add the payment to the ledger once: the unique key on the Stripe object id decides.

    Returns the entry and whether this call created it. A concurrent or repeated call finds
    the unique constraint violated, rolls back only its savepoint and returns the winner's entry.
    """
    entry = LedgerEntry(
        donor_id=donor.id,
        stripe_object_id=stripe_object_id,
        kind=kind,
        amount_cents=amount_cents,
        currency=currency,
        paid_at=paid_at,
        payment_intent_id=payment_intent_id,
        charge_id=charge_id,
        invoice_id=invoice_id,
        subscription_id=subscription_id,
        customer_id=donor.stripe_customer_id,
        message=message,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(entry)
    except IntegrityError:
        existing = session.scalar(
            select(LedgerEntry).where(LedgerEntry.stripe_object_id == stripe_object_id)
        )
        if existing is None:  # the violation was something else: let it surface
            raise
        return existing, False
    return entry, True


def apply_payment_intent(
    session: Session, payment: PaymentResult, ctx: MembershipContext, now: datetime
) -> LedgerEntry | None:
    """Record a one-off gift's PaymentIntent if Stripe says it succeeded."""
    if payment.status != "succeeded" or payment.metadata.get("kind") != GiftKind.one_off.value:
        # Annual gifts are recorded from their invoice, not from the invoice's PaymentIntent.
        return None
    return _record_gift(
        session,
        ctx,
        now,
        metadata=payment.metadata,
        customer=payment.customer,
        completes={"payment_intent_id": payment.id},
        stripe_object_id=payment.id,
        kind=GiftKind.one_off,
        amount_cents=payment.amount_cents,
        currency=payment.currency,
        paid_at=payment.paid_at or now,
        payment_intent_id=payment.id,
        charge_id=payment.charge_id,
    )


def apply_invoice(
    session: Session,
    invoice: InvoiceResult,
    subscription: SubscriptionResult | None,
    ctx: MembershipContext,
    now: datetime,
) -> LedgerEntry | None:
    """Record an annual gift's paid invoice, and bring its subscription up to date."""
    if subscription is not None:
        sync_subscription(session, subscription, now)
    if invoice.status != "paid" or invoice.amount_paid_cents <= 0:
        return None
    entry = _record_gift(
        session,
        ctx,
        now,
        metadata=subscription.metadata if subscription else {},
        customer=invoice.customer,
        completes={"stripe_subscription_id": invoice.subscription_id},
        stripe_object_id=invoice.id,
        kind=GiftKind.recurring,
        amount_cents=invoice.amount_paid_cents,
        currency=invoice.currency,
        paid_at=invoice.paid_at or now,
        payment_intent_id=invoice.payment_intent_id,
        charge_id=invoice.charge_id,
        invoice_id=invoice.id,
        subscription_id=invoice.subscription_id,
    )
    if invoice.subscription_id:
        recorded = session.scalar(
            select(Subscription).where(Subscription.stripe_subscription_id == invoice.subscription_id)
        )
        if recorded is not None:
            recorded.first_paid_at = first_paid_at(session, invoice.subscription_id)
    return entry


def first_paid_at(session: Session, stripe_subscription_id: str) -> datetime | None:
    """When the first invoice of an annual gift was paid, from the ledger (None: never paid)."""
    return session.scalar(
        select(func.min(LedgerEntry.paid_at)).where(LedgerEntry.subscription_id == stripe_subscription_id)
    )


def record_invoice(
    session: Session, ctx: MembershipContext, invoice_id: str, now: datetime
) -> LedgerEntry | None:
    """Re-read an invoice and its subscription from Stripe and record them."""
    invoice = ctx.gateway.retrieve_invoice(invoice_id)
    subscription = (
        ctx.gateway.retrieve_subscription(invoice.subscription_id) if invoice.subscription_id else None
    )
    return apply_invoice(session, invoice, subscription, ctx, now)


def _record_gift(
    session: Session,
    ctx: MembershipContext,
    now: datetime,
    *,
    metadata: dict,
    customer: str | None,
    completes: dict,
    **entry,
) -> LedgerEntry | None:
    """Record what Stripe confirmed, finish the donation it came from, and send one receipt."""
    if entry["currency"] != ctx.settings.currency:
        log.warning(
            "%s is in %s, not %s: not recorded",
            entry["stripe_object_id"], entry["currency"], ctx.settings.currency,
        )
        return None
    donor = donor_for_customer(session, customer)
    donation = _donation_from_metadata(session, metadata, donor)
    # A renewal's subscription still names the donation that started it: its message was used.
    first_payment = donation is not None and donation.status is not DonationStatus.completed
    ledger_entry, created = record_payment(
        session, donor=donor, message=donation.message if first_payment else None, now=now, **entry
    )
    if donation is not None:
        _complete(donation, now, **completes)
    if created:
        queue_receipt(session, ledger_entry, ctx, now, name=donation.donor_name if donation is not None else None)
    return ledger_entry


def _donation_from_metadata(session: Session, metadata: dict, donor: Donor) -> Donation | None:
    raw = metadata.get("donation_id", "")
    if not raw.isdigit():
        return None
    donation = session.get(Donation, int(raw))
    # Metadata is ours, but only trust it for the same donor.
    return donation if donation is not None and donation.donor_id == donor.id else None


def _complete(donation: Donation, now: datetime, **stripe_ids) -> None:
    for name, value in stripe_ids.items():
        if getattr(donation, name) is None:
            setattr(donation, name, value)
    if donation.status is not DonationStatus.completed:
        donation.status = DonationStatus.completed
        donation.completed_at = now


def sync_subscription(session: Session, result: SubscriptionResult, now: datetime) -> Subscription:
    """Make our copy of an annual gift match what Stripe says now (re-read, so never regressed)."""
    try:
        status = SubscriptionStatus(result.status)
    except ValueError:
        status = SubscriptionStatus.incomplete
    subscription = session.scalar(
        select(Subscription).where(Subscription.stripe_subscription_id == result.id)
    )
    if subscription is None:
        donor = donor_for_customer(session, result.customer)
        subscription = Subscription(
            donor_id=donor.id,
            stripe_subscription_id=result.id,
            status=status,
            yearly_amount_cents=result.yearly_amount_cents,
            currency=result.currency,
            current_period_end=result.current_period_end,
            cancel_at_period_end=result.cancel_at_period_end,
            replaces_stripe_id=result.metadata.get("replaces") or None,
            started_at=result.started_at or now,
            ended_at=result.ended_at,
            # Its first invoice may have been recorded before it (events come in any order).
            first_paid_at=first_paid_at(session, result.id),
            created_at=now,
            updated_at=now,
        )
        try:
            with session.begin_nested():
                session.add(subscription)
            return subscription
        except IntegrityError:
            subscription = session.scalar(
                select(Subscription).where(Subscription.stripe_subscription_id == result.id)
            )
    subscription.status = status
    subscription.yearly_amount_cents = result.yearly_amount_cents
    subscription.currency = result.currency
    subscription.current_period_end = result.current_period_end
    subscription.cancel_at_period_end = result.cancel_at_period_end
    subscription.started_at = result.started_at or subscription.started_at
    subscription.ended_at = result.ended_at
    subscription.updated_at = now
    return subscription


ENDED_STATUSES = (SubscriptionStatus.canceled, SubscriptionStatus.incomplete_expired)


def sync_subscription_and_tell(
    session: Session, ctx: MembershipContext, result: SubscriptionResult, now: datetime
) -> Subscription:
    """`sync_subscription`, and when Stripe says a paid annual gift has stopped, tell its donor if
    that ended their Sight+ (nothing else keeping them): once, however often Stripe or reconcile
    repeat it, because only the caller whose conditional UPDATE moves our copy to "ended" tells."""
    ended_now = False
    if result.status in {s.value for s in ENDED_STATUSES}:
        ended_now = session.execute(
            update(Subscription)
            .where(Subscription.stripe_subscription_id == result.id, Subscription.status.not_in(ENDED_STATUSES))
            .values(status=SubscriptionStatus(result.status), updated_at=now)
            .execution_options(synchronize_session="fetch")
        ).rowcount == 1
    subscription = sync_subscription(session, result, now)
    if ended_now and subscription.first_paid_at is not None:
        queue_sight_plus_ended_if_so(session, ctx, subscription.donor.user, "your annual gift has stopped", now)
    return subscription


# --- refunds and disputes -------------------------------------------------------------


def entry_for_charge(session: Session, charge: ChargeResult) -> LedgerEntry | None:
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.charge_id == charge.id))
    if entry is None and charge.payment_intent_id:
        entry = session.scalar(
            select(LedgerEntry).where(LedgerEntry.payment_intent_id == charge.payment_intent_id)
        )
        if entry is not None and entry.charge_id is None:
            entry.charge_id = charge.id
    return entry


def _add_adjustment(
    session: Session, entry: LedgerEntry, kind: AdjustmentKind, stripe_id: str, cents: int, at: datetime, now: datetime
) -> None:
    adjustment = LedgerAdjustment(
        entry=entry, kind=kind, stripe_object_id=stripe_id, amount_cents=cents, occurred_at=at, recorded_at=now
    )
    session.add(adjustment)
    entry.refunded_cents = min(entry.amount_cents, sum(a.amount_cents for a in entry.adjustments))
    if kind is AdjustmentKind.dispute_lost:
        entry.dispute_lost_cents = cents


def apply_refunds(
    session: Session, ctx: MembershipContext, entry: LedgerEntry, refunds: list[RefundResult], now: datetime
) -> int:
    """Record each of the charge's refunds once, with Stripe's time, and tell the donor of each;
    returns the cents newly refunded.

    Refunds recorded before they had rows of their own (no Stripe id) stand for the oldest ones.
    """
    recorded = {a.stripe_object_id for a in entry.adjustments}
    undated = sum(a.amount_cents for a in entry.adjustments if a.kind is AdjustmentKind.refund and a.stripe_object_id is None)
    before = entry.refunded_cents
    for refund in sorted(refunds, key=lambda r: (r.created, r.id)):
        if refund.status != "succeeded" or refund.id in recorded:
            continue
        if undated >= refund.amount_cents:
            undated -= refund.amount_cents
            continue
        _add_adjustment(session, entry, AdjustmentKind.refund, refund.id, refund.amount_cents, refund.created, now)
        queue_adjustment_notice(session, ctx, entry, False, refund.amount_cents, now)
    return entry.refunded_cents - before


def apply_dispute_lost(
    session: Session, ctx: MembershipContext, entry: LedgerEntry, dispute: DisputeResult, now: datetime
) -> int:
    """A charge has at most one dispute, so a second notice of the same loss changes nothing (and
    tells the donor nothing more); returns the cents it took."""
    if dispute.status != "lost" or entry.dispute_lost_cents > 0:
        return 0
    lost = min(dispute.amount_cents, entry.amount_cents - entry.refunded_cents)
    if lost <= 0:
        return 0
    _add_adjustment(session, entry, AdjustmentKind.dispute_lost, dispute.id, lost, dispute.created, now)
    queue_adjustment_notice(session, ctx, entry, True, lost, now)
    return lost
