"""Stripe webhook events: stored raw first, then applied once, re-reading Stripe where state matters.

Stripe delivers at least once, in any order, for days. Each event is applied inside one
transaction that also marks it processed, so a duplicate finds it processed and does nothing,
and the ledger's unique key makes two different events about one payment record it once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from membership.context import MembershipContext
from membership.donors import NotYetRecorded
from membership.ledger import (
    apply_dispute_lost,
    apply_invoice,
    apply_payment_intent,
    apply_refunds,
    entry_for_charge,
    sync_subscription,
    sync_subscription_and_tell,
)
from membership.models import LedgerEntry, StripeEvent
from membership.receipts import queue_payment_failed_notice
from membership.stripe_api import (
    ChargeResult,
    InvoiceResult,
    PaymentResult,
    RefundResult,
    StripeGateway,
    STRIPE_API_VERSION,
    SubscriptionResult,
    dispute_from,
)

INVOICE_PAID = {"invoice.payment_succeeded", "invoice.paid"}
SUBSCRIPTION_CHANGED = {
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
}
HANDLED = (
    {"payment_intent.succeeded", "invoice.payment_failed", "charge.refunded", "charge.dispute.closed"}
    | INVOICE_PAID
    | SUBSCRIPTION_CHANGED
)


def store_event(session: Session, event: dict, body: str, now: datetime) -> StripeEvent:
    """Keep the delivery as it came; a repeated delivery only counts itself."""
    stored = StripeEvent(
        event_id=event["id"],
        # PostgreSQL's text holds no NUL character; such a type is refused by `event_problem` anyway.
        type=str(event.get("type", "")).replace("\x00", "\ufffd")[:100],
        livemode=bool(event.get("livemode", False)),
        api_version=event["api_version"][:40] if isinstance(event.get("api_version"), str) else None,
        body=body,
        received_at=now,
        deliveries=1,
    )
    try:
        with session.begin_nested():
            session.add(stored)
        return stored
    except IntegrityError:
        session.execute(
            update(StripeEvent)
            .where(StripeEvent.event_id == event["id"])
            .values(deliveries=StripeEvent.deliveries + 1)
        )
        return session.scalar(select(StripeEvent).where(StripeEvent.event_id == event["id"]))


# Stripe retries a delivery for three days: events of an old version may arrive that long after a move.
VERSION_WINDOW = timedelta(days=3)


@dataclass(frozen=True)
class OtherVersion:
    """Events received lately in an API version other than the one this app reads."""

    version: str
    count: int
    newest_event_id: str

    def sentence(self) -> str:
        return (f"{self.count} Stripe event(s) in the last 3 days are of API version {self.version}, not "
                f"{STRIPE_API_VERSION} that this app reads (the newest {self.newest_event_id}): set the webhook "
                "endpoint's API version in Stripe to it, or move the app to the new version (README, "
                "\"Stripe API version\").")


def events_of_another_version(session: Session, now: datetime) -> list[OtherVersion]:
    """Each other API version that stored events were received in lately, most events first."""
    recent = select(StripeEvent).where(
        StripeEvent.received_at > now - VERSION_WINDOW,
        StripeEvent.api_version.is_not(None),
        StripeEvent.api_version != STRIPE_API_VERSION,
    ).subquery()
    rows = session.execute(
        select(recent.c.api_version, func.count(), func.max(recent.c.received_at))
        .group_by(recent.c.api_version)
        .order_by(func.count().desc(), recent.c.api_version)
    ).all()
    found = []
    for version, count, newest_at in rows:
        newest = session.scalar(
            select(StripeEvent.event_id)
            .where(StripeEvent.api_version == version, StripeEvent.received_at == newest_at)
            .limit(1)
        )
        found.append(OtherVersion(version, count, newest))
    return found


# The longest Stripe id our columns hold.
MAX_ID = 255
# Every Stripe id (pi_…, in_…, sub_…, ch_…) is letters, digits and underscores.
STRIPE_ID = re.compile(r"[A-Za-z0-9_]+")


def event_problem(event: dict) -> str | None:
    """Why a correctly signed event cannot be applied (None when it can): kept with the event."""
    if not isinstance(event.get("type"), str) or len(event["type"]) > 100 or "\x00" in event["type"]:
        return "the event has no type"
    if event["type"] not in HANDLED:
        return None
    obj = event["data"]["object"]
    object_id = obj.get("charge") if event["type"] == "charge.dispute.closed" else obj.get("id")
    if isinstance(object_id, dict):
        object_id = object_id.get("id")
    if not isinstance(object_id, str) or not object_id:
        return "the event's object has no id"
    if len(object_id) > MAX_ID:
        return "the event's object id is longer than any Stripe id"
    if "\x00" in object_id:
        return "the event's object id holds a NUL character"
    if not STRIPE_ID.fullmatch(object_id):
        # Asking Stripe about it could only fail, and not always with an answer that says so.
        return "the event's object id is not a Stripe id"
    return None


@dataclass(frozen=True)
class StripeFacts:
    """What Stripe says now about the objects an event names, read before any transaction opens."""

    payment: PaymentResult | None = None
    invoice: InvoiceResult | None = None
    subscription: SubscriptionResult | None = None
    charge: ChargeResult | None = None
    # The charge's refunds, each with Stripe's time.
    refunds: tuple[RefundResult, ...] = ()
    # Scheduled successors (new amounts) cancelled because the gift they replace ended early.
    cancelled_successors: tuple[SubscriptionResult, ...] = ()


def read_stripe(gateway: StripeGateway, event_type: str, obj: dict) -> StripeFacts:
    """Stripe only: re-read what the event is about (the payload is only a hint)."""
    if event_type == "payment_intent.succeeded":
        return StripeFacts(payment=gateway.retrieve_payment_intent(obj["id"]))
    if event_type in INVOICE_PAID or event_type == "invoice.payment_failed":
        return _invoice_facts(gateway, obj["id"])
    if event_type in SUBSCRIPTION_CHANGED:
        subscription = gateway.retrieve_subscription(obj["id"])
        return StripeFacts(subscription=subscription, cancelled_successors=cancel_orphaned_successors(gateway, subscription))
    if event_type == "charge.refunded" or (event_type == "charge.dispute.closed" and obj.get("status") == "lost"):
        # The event names the dispute and its outcome; the charge it hits is re-read from Stripe.
        charge_id = obj["id"] if event_type == "charge.refunded" else obj["charge"]
        return charge_facts(gateway, charge_id if isinstance(charge_id, str) else charge_id["id"])
    return StripeFacts()


def cancel_orphaned_successors(gateway: StripeGateway, subscription: SubscriptionResult) -> tuple[SubscriptionResult, ...]:
    """Stripe only: an annual gift cancelled before its year ended takes the new amount the donor
    had scheduled to follow it along (otherwise that one would start charging on its own)."""
    if not subscription.ended_early:
        return ()
    return tuple(
        gateway.cancel_subscription_now(other.id)
        for other in gateway.customer_subscriptions(subscription.customer)
        if other.metadata.get("replaces") == subscription.id and other.status not in ("canceled", "incomplete_expired")
    )


def _invoice_facts(gateway: StripeGateway, invoice_id: str) -> StripeFacts:
    invoice = gateway.retrieve_invoice(invoice_id)
    subscription = gateway.retrieve_subscription(invoice.subscription_id) if invoice.subscription_id else None
    return StripeFacts(invoice=invoice, subscription=subscription)


def charge_facts(gateway: StripeGateway, charge_id: str) -> StripeFacts:
    """A charge, and the payment it belongs to, in case that payment's own event is late."""
    charge = gateway.retrieve_charge(charge_id)
    payment = gateway.retrieve_payment_intent(charge.payment_intent_id) if charge.payment_intent_id else None
    invoice_id = charge.invoice_id or (payment.invoice_id if payment else None)
    invoice = _invoice_facts(gateway, invoice_id) if invoice_id else StripeFacts()
    refunds = tuple(gateway.refunds_of_charge(charge_id)) if charge.amount_refunded_cents else ()
    return StripeFacts(
        payment=payment, invoice=invoice.invoice, subscription=invoice.subscription, charge=charge, refunds=refunds
    )


def apply_stored_event(
    session: Session, ctx: MembershipContext, event_id: str, facts: StripeFacts, now: datetime
) -> str:
    """Apply the event unless it already was; returns what happened ("applied", "duplicate", "ignored").

    The row is locked first, so a concurrent delivery of the same event waits here and then
    finds it processed (SQLite transactions are serialised anyway: they begin IMMEDIATE).
    """
    stored = session.scalar(
        select(StripeEvent).where(StripeEvent.event_id == event_id).with_for_update()
    )
    if stored.processed_at is not None:
        return "duplicate"
    event = json.loads(stored.body)
    outcome = "applied" if stored.type in HANDLED else "ignored"
    if outcome == "applied":
        event_time = datetime.fromtimestamp(event["created"], UTC) if isinstance(event.get("created"), int) else now
        _apply(session, ctx, stored.type, event["data"]["object"], facts, event_time, now)
    stored.processed_at = now
    stored.error = None
    # Applied: what is kept for inspection and replay need not name anyone any more.
    stored.body = redact_personal_details(stored.body)
    return outcome


# Fields of Stripe objects that describe a person; an event keeps its ids, amounts and states.
PERSONAL_FIELDS = frozenset({
    "name", "email", "phone", "address", "shipping", "billing_details", "description",
    "receipt_email", "customer_email", "customer_name", "customer_phone", "customer_address",
    "customer_shipping", "card_holder_name",
})


def redact_personal_details(body: str) -> str:
    """The stored event with every personal field emptied (a body that is not JSON is dropped)."""

    def walk(value):
        if isinstance(value, dict):
            return {k: (None if k in PERSONAL_FIELDS else walk(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    try:
        return json.dumps(walk(json.loads(body)))
    except ValueError:
        return "{}"


def note_failure(session: Session, event_id: str, error: str) -> None:
    session.execute(
        update(StripeEvent).where(StripeEvent.event_id == event_id).values(error=error[:4000])
    )


def _apply(
    session: Session,
    ctx: MembershipContext,
    event_type: str,
    obj: dict,
    facts: StripeFacts,
    event_time: datetime,
    now: datetime,
) -> None:
    if event_type == "payment_intent.succeeded":
        apply_payment_intent(session, facts.payment, ctx, now)
    elif event_type in INVOICE_PAID:
        apply_invoice(session, facts.invoice, facts.subscription, ctx, now)
    elif event_type == "invoice.payment_failed":
        if facts.subscription is None or facts.subscription.status in ("incomplete", "incomplete_expired"):
            return  # not an annual gift, or a first payment that failed: the donor saw the error on the page
        subscription = sync_subscription(session, facts.subscription, now)
        queue_payment_failed_notice(
            session, subscription, facts.invoice.id, facts.invoice.amount_due_cents, ctx, now
        )
    elif event_type in SUBSCRIPTION_CHANGED:
        sync_subscription_and_tell(session, ctx, facts.subscription, now)
        for result in facts.cancelled_successors:
            sync_subscription(session, result, now)
    elif event_type == "charge.refunded":
        apply_refunds(session, ctx, ensure_entry(session, ctx, facts, now), list(facts.refunds), now)
    elif event_type == "charge.dispute.closed" and facts.charge is not None:
        # The loss dates from the event: a dispute's own `created` is when it was opened.
        apply_dispute_lost(session, ctx, ensure_entry(session, ctx, facts, now), dispute_from(obj, closed_at=event_time), now)


def ensure_entry(session: Session, ctx: MembershipContext, facts: StripeFacts, now: datetime) -> LedgerEntry:
    """The ledger entry a charge belongs to, recording its payment first if that event is late."""
    charge = facts.charge
    entry = entry_for_charge(session, charge)
    if entry is not None:
        return entry
    if facts.payment is not None:
        entry = apply_payment_intent(session, facts.payment, ctx, now)
    if entry is None and facts.invoice is not None:
        entry = apply_invoice(session, facts.invoice, facts.subscription, ctx, now)
    if entry is None:
        raise NotYetRecorded(f"no ledger entry for charge {charge.id}")
    if entry.charge_id is None:
        entry.charge_id = charge.id
    return entry
