"""Reconcile: re-read Stripe's events and objects and repair the ledger after missed webhooks."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import User
from membership.context import MembershipContext
from membership.donors import NotYetRecorded
from membership.ledger import apply_payment_intent, apply_refund, record_invoice, sync_subscription
from membership.models import LedgerEntry, StripeEvent, Subscription
from membership.webhook import ensure_entry
from sight.audit import record_audit
from sight.templating import format_money


def _entry(session: Session, stripe_object_id: str) -> LedgerEntry | None:
    return session.scalar(select(LedgerEntry).where(LedgerEntry.stripe_object_id == stripe_object_id))


def reconcile(
    session: Session,
    ctx: MembershipContext,
    *,
    since: datetime | None,
    now: datetime,
) -> list[str]:
    """Bring the ledger and subscriptions in line with Stripe; returns one line per difference.

    The caller commits (or, for a dry run, rolls back: the differences are the same).
    """
    drift: list[str] = []
    seen: set[str] = set()
    for event in ctx.gateway.events_since(since):
        obj = event.get("data", {}).get("object", {})
        object_id = obj.get("id")
        if not object_id or (event["type"], object_id) in seen:
            continue
        seen.add((event["type"], object_id))
        try:
            drift.extend(_reconcile_one(session, ctx, event["type"], object_id, now))
        except NotYetRecorded as exc:
            drift.append(f"cannot record {object_id}: {exc}")
    unprocessed = session.scalars(
        select(StripeEvent.event_id).where(StripeEvent.processed_at.is_(None))
    ).all()
    if unprocessed:
        drift.append(f"{len(unprocessed)} stored webhook event(s) never applied: {', '.join(unprocessed)}")
    return drift


def _reconcile_one(
    session: Session,
    ctx: MembershipContext,
    event_type: str,
    object_id: str,
    now: datetime,
) -> list[str]:
    gateway = ctx.gateway
    if event_type == "payment_intent.succeeded":
        if _entry(session, object_id) is not None:
            return []
        entry = apply_payment_intent(session, gateway.retrieve_payment_intent(object_id), ctx, now)
        return [f"missing gift {object_id}: {format_money(entry.amount_cents)} recorded"] if entry else []
    if event_type in ("invoice.paid", "invoice.payment_succeeded"):
        if _entry(session, object_id) is not None:
            return []
        entry = record_invoice(session, ctx, object_id, now)
        return [f"missing annual gift {object_id}: {format_money(entry.amount_cents)} recorded"] if entry else []
    if event_type.startswith("customer.subscription."):
        result = gateway.retrieve_subscription(object_id)
        ours = session.scalar(select(Subscription).where(Subscription.stripe_subscription_id == object_id))
        before = None if ours is None else (ours.status.value, ours.current_period_end, ours.yearly_amount_cents, ours.cancel_at_period_end)
        after = (result.status, result.current_period_end, result.yearly_amount_cents, result.cancel_at_period_end)
        if before == after:
            return []
        sync_subscription(session, result, now)
        return [f"annual gift {object_id}: {before or 'missing'} -> {after[0]}, renews {after[1]:%Y-%m-%d}, {format_money(after[2])}"]
    if event_type == "charge.refunded":
        charge = gateway.retrieve_charge(object_id)
        entry = ensure_entry(session, ctx, charge, now)
        before = entry.refunded_cents
        apply_refund(entry, charge)
        if entry.refunded_cents == before:
            return []
        return [f"refund on {entry.stripe_object_id}: {format_money(before)} -> {format_money(entry.refunded_cents)}"]
    return []


def record_reconcile(
    session: Session, *, drift: list[str], since: datetime | None, actor: User, now: datetime
) -> None:
    """Audit a repair made from the staff page: what differed, and from when."""
    details = {
        "since": since.astimezone(UTC).isoformat().replace("+00:00", "Z") if since else None,
        "differences": len(drift),
        "lines": drift[:200],
    }
    record_audit(session, actor=actor, action="stripe.reconcile", target="ledger", details=details, now=now)
