"""The writes: donors, the ledger (idempotently), subscriptions, refunds, disputes, receipts.

Every function takes a session and plain values (Stripe's answers arrive as the dataclasses
of `membership.stripe_api`), may flush, and leaves the commit to its caller.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.models import Role, User, normalize_email
from membership.links import Links
from membership.models import (
    Benefit,
    ComplimentaryGrant,
    Donation,
    DonationStatus,
    Donor,
    GiftKind,
    LedgerEntry,
    Subscription,
    SubscriptionStatus,
)
from membership.status import status_for_user
from membership.stripe_api import ChargeResult, InvoiceResult, PaymentResult, SubscriptionResult
from sight.audit import record_audit
from sight.mail import queue_mail
from sight.templating import format_money

log = logging.getLogger("sight.membership")


class NotYetRecorded(Exception):
    """Stripe told us about something that depends on what we have not recorded yet: retry later."""


@dataclass(frozen=True)
class Settings:
    currency: str
    threshold_cents: int
    grace_days: int
    min_cents: int
    max_cents: int

    @classmethod
    def from_config(cls, config) -> Settings:
        return cls(
            currency=config["CURRENCY"],
            threshold_cents=config["SIGHT_PLUS_THRESHOLD_CENTS"],
            grace_days=config["SIGHT_PLUS_GRACE_DAYS"],
            min_cents=config["MIN_DONATION_CENTS"],
            max_cents=config["MAX_DONATION_CENTS"],
        )


# --- donors ---------------------------------------------------------------------------


def find_or_create_donor(session: Session, *, email: str, name: str, now: datetime) -> Donor:
    """The donor for this email (matched case-insensitively), creating the account if needed."""
    email = normalize_email(email)
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        try:
            with session.begin_nested():
                user = User(email=email, name=name, role=Role.reader, created_at=now, updated_at=now)
                session.add(user)
        except IntegrityError:
            user = session.scalar(select(User).where(User.email == email))
    elif not user.name and name:
        user.name = name
    donor = session.scalar(select(Donor).where(Donor.user_id == user.id))
    if donor is None:
        try:
            with session.begin_nested():
                donor = Donor(user_id=user.id, created_at=now)
                session.add(donor)
        except IntegrityError:
            donor = session.scalar(select(Donor).where(Donor.user_id == user.id))
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


# --- the ledger -----------------------------------------------------------------------


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
    session: Session, payment: PaymentResult, settings: Settings, links: Links, now: datetime
) -> LedgerEntry | None:
    """Record a one-off gift's PaymentIntent if Stripe says it succeeded."""
    if payment.status != "succeeded" or payment.metadata.get("kind") != GiftKind.one_off.value:
        # Annual gifts are recorded from their invoice, not from the invoice's PaymentIntent.
        return None
    return _record_gift(
        session,
        settings,
        links,
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
    settings: Settings,
    links: Links,
    now: datetime,
) -> LedgerEntry | None:
    """Record an annual gift's paid invoice, and bring its subscription up to date."""
    if subscription is not None:
        sync_subscription(session, subscription, now)
    if invoice.status != "paid" or invoice.amount_paid_cents <= 0:
        return None
    return _record_gift(
        session,
        settings,
        links,
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


def _record_gift(
    session: Session,
    settings: Settings,
    links: Links,
    now: datetime,
    *,
    metadata: dict,
    customer: str | None,
    completes: dict,
    **entry,
) -> LedgerEntry | None:
    """Record what Stripe confirmed, finish the donation it came from, and send one receipt."""
    if entry["currency"] != settings.currency:
        log.warning("%s is in %s, not %s: not recorded", entry["stripe_object_id"], entry["currency"], settings.currency)
        return None
    donor = donor_for_customer(session, customer)
    donation = _donation_from_metadata(session, metadata, donor)
    # A renewal's subscription still names the donation that started it: its message was used.
    first_payment = donation is not None and donation.status is DonationStatus.awaiting_card
    ledger_entry, created = record_payment(
        session, donor=donor, message=donation.message if first_payment else None, now=now, **entry
    )
    if donation is not None:
        _complete(donation, now, **completes)
    if created:
        queue_receipt(session, ledger_entry, settings, links, now)
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
    subscription.updated_at = now
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


def apply_refund(entry: LedgerEntry, charge: ChargeResult) -> None:
    """Stripe's refunded total is the truth; a lost dispute is on top of it. Never lowered."""
    refunded = min(entry.amount_cents, charge.amount_refunded_cents + entry.dispute_lost_cents)
    entry.refunded_cents = max(entry.refunded_cents, refunded)


def apply_dispute_lost(entry: LedgerEntry, disputed_cents: int) -> None:
    """A charge has at most one dispute, so a second notice of the same loss changes nothing."""
    if entry.dispute_lost_cents > 0:
        return
    lost = min(disputed_cents, entry.amount_cents - entry.refunded_cents)
    entry.dispute_lost_cents = lost
    entry.refunded_cents += lost


# --- receipts -------------------------------------------------------------------------


def queue_receipt(
    session: Session, entry: LedgerEntry, settings: Settings, links: Links, now: datetime
) -> None:
    donor = session.get(Donor, entry.donor_id)
    user = session.get(User, donor.user_id)
    status = status_for_user(
        session, user.id, now, threshold_cents=settings.threshold_cents, grace_days=settings.grace_days
    )
    gift = "annual gift" if entry.kind is GiftKind.recurring else "gift"
    lines = [
        f"Thank you for your {gift} of {format_money(entry.amount_cents)} ({entry.currency.upper()}) to Sight.",
        f"Receipt number: {entry.id}",
        f"Paid: {entry.paid_at:%Y-%m-%d %H:%M} UTC",
        f"Stripe reference: {entry.stripe_object_id}",
        "",
    ]
    if status.is_member:
        lines.append(f"You are Sight+ until {status.until:%d %B %Y}. Thank you for supporting us.")
    else:
        lines.append(
            f"You have given {format_money(status.cents_in_window)} of "
            f"{format_money(settings.threshold_cents)} in the last 12 months: "
            f"{format_money(status.cents_needed)} more makes you Sight+."
        )
    lines += [
        "",
        f"Your receipts and Sight+ status: {links.account_url()}",
        f"Manage your annual gift (cancel, change the amount, update the card), no sign-in needed:",
        links.manage_url(donor.id),
    ]
    mail_donor(
        session, user, subject=f"Your receipt: {format_money(entry.amount_cents)} to Sight", lines=lines, kind="receipt", now=now
    )


def mail_donor(session: Session, user: User, *, subject: str, lines: list[str], kind: str, now: datetime) -> None:
    """Write to a donor by name, signed by Sight; not once they have closed their account (the address is gone)."""
    if user.closed_at is not None:
        return
    body = "\n".join([f"Dear {user.name or 'reader'},", "", *lines, "", "Sight"])
    queue_mail(session, to=user.email, subject=subject, body=body, kind=kind, user_id=user.id, now=now)


# --- complimentary memberships (the staff pages call these) ---------------------------


def grant_complimentary(
    session: Session,
    *,
    user_id: int,
    reason: str,
    starts_at: datetime,
    ends_at: datetime,
    actor: User,
    now: datetime,
) -> ComplimentaryGrant:
    """Give Sight+ for a period, with a reason; audited."""
    if not reason.strip():
        raise ValueError("A complimentary membership needs a reason.")
    if ends_at <= starts_at:
        raise ValueError("It must end after it starts.")
    grant = ComplimentaryGrant(
        user_id=user_id,
        reason=reason.strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        granted_by_id=actor.id,
        granted_at=now,
    )
    session.add(grant)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="membership.grant",
        target=f"user:{user_id}",
        details={"grant_id": grant.id, "reason": grant.reason,
                 "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()},
        now=now,
    )
    return grant


def revoke_complimentary(
    session: Session, grant: ComplimentaryGrant, *, reason: str, actor: User, now: datetime
) -> None:
    """End a grant now (the row stays, so past membership is still known); audited."""
    if grant.revoked_at is not None:
        return
    grant.revoked_at = now
    grant.revoked_by_id = actor.id
    grant.revoke_reason = reason.strip() or None
    record_audit(
        session,
        actor=actor,
        action="membership.revoke",
        target=f"user:{grant.user_id}",
        details={"grant_id": grant.id, "reason": grant.revoke_reason},
        now=now,
    )


# --- benefits -------------------------------------------------------------------------

BENEFIT_FIELDS = ("title", "description", "members_content", "members_link", "position", "published")


def save_benefit(
    session: Session, benefit: Benefit | None, *, values: dict, actor: User, now: datetime
) -> Benefit:
    """Create or update a Sight+ benefit; audited."""
    if benefit is None:
        benefit = Benefit(created_at=now)
        session.add(benefit)
    for name in BENEFIT_FIELDS:
        setattr(benefit, name, values[name])
    benefit.members_link = benefit.members_link or None
    benefit.updated_at = now
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="benefit.save",
        target=f"benefit:{benefit.id}",
        details={"title": benefit.title, "published": benefit.published},
        now=now,
    )
    return benefit
