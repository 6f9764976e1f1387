"""Stripe webhook events: stored raw first, then applied once, re-reading Stripe where state matters.

Stripe delivers at least once, in any order, for days. Each event is applied inside one
transaction that also marks it processed, so a duplicate finds it processed and does nothing,
and the ledger's unique key makes two different events about one payment record it once.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from membership.context import MembershipContext
from membership.donors import NotYetRecorded
from membership.ledger import (
    apply_dispute_lost,
    apply_payment_intent,
    apply_refunds,
    entry_for_charge,
    record_invoice,
    sync_subscription,
)
from membership.models import LedgerEntry, StripeEvent
from membership.receipts import queue_payment_failed_notice
from membership.stripe_api import ChargeResult, dispute_from

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
        type=str(event.get("type", "")),
        livemode=bool(event.get("livemode", False)),
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


def apply_stored_event(session: Session, ctx: MembershipContext, event_id: str, now: datetime) -> str:
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
        _apply(session, ctx, stored.type, event["data"]["object"], event_time, now)
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
    session: Session, ctx: MembershipContext, event_type: str, obj: dict, event_time: datetime, now: datetime
) -> None:
    gateway = ctx.gateway
    if event_type == "payment_intent.succeeded":
        apply_payment_intent(session, gateway.retrieve_payment_intent(obj["id"]), ctx, now)
    elif event_type in INVOICE_PAID:
        record_invoice(session, ctx, obj["id"], now)
    elif event_type == "invoice.payment_failed":
        invoice = gateway.retrieve_invoice(obj["id"])
        if invoice.subscription_id is None:
            return
        result = gateway.retrieve_subscription(invoice.subscription_id)
        if result.status in ("incomplete", "incomplete_expired"):
            return  # a first payment that failed: the donor saw the error on the page
        subscription = sync_subscription(session, result, now)
        queue_payment_failed_notice(session, subscription, invoice.id, invoice.amount_due_cents, ctx.links, now)
    elif event_type in SUBSCRIPTION_CHANGED:
        sync_subscription(session, gateway.retrieve_subscription(obj["id"]), now)
    elif event_type == "charge.refunded":
        charge = gateway.retrieve_charge(obj["id"])
        apply_refunds(session, ensure_entry(session, ctx, charge, now), gateway.refunds_of_charge(charge.id), now)
    elif event_type == "charge.dispute.closed":
        # localstripe has no disputes API, so the payload is all there is; the charge is re-read.
        # The loss dates from the event: a dispute's own `created` is when it was opened.
        dispute = dispute_from(obj, closed_at=event_time)
        if dispute.status != "lost":
            return
        entry = ensure_entry(session, ctx, gateway.retrieve_charge(dispute.charge_id), now)
        apply_dispute_lost(session, entry, dispute, now)


def ensure_entry(session: Session, ctx: MembershipContext, charge: ChargeResult, now: datetime) -> LedgerEntry:
    """The ledger entry a charge belongs to, recording its payment first if that event is late."""
    entry = entry_for_charge(session, charge)
    if entry is not None:
        return entry
    if charge.payment_intent_id:
        payment = ctx.gateway.retrieve_payment_intent(charge.payment_intent_id)
        entry = apply_payment_intent(session, payment, ctx, now)
        invoice_id = charge.invoice_id or payment.invoice_id
        if entry is None and invoice_id:
            entry = record_invoice(session, ctx, invoice_id, now)
    if entry is None:
        raise NotYetRecorded(f"no ledger entry for charge {charge.id}")
    if entry.charge_id is None:
        entry.charge_id = charge.id
    return entry
