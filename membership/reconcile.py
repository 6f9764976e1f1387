"""Reconcile: re-read Stripe and repair the ledger after missed webhooks.

Stripe is asked from two sides: its events (payments, annual gifts) and the charges themselves
(which Stripe keeps for good, unlike the 30 days of events, and which carry their refunds and
disputes; localstripe sends no `charge.refunded` at all). Each repair is one item in a
transaction of its own, committed before the next: Stripe is read before anything is written,
so no write transaction waits on Stripe, a donor giving meanwhile waits for one item at most,
and a failure costs that item only, counted as a failure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from accounts.models import User
from membership.context import MembershipContext
from membership.donors import NotYetRecorded
from membership.ledger import (
    apply_dispute_lost,
    apply_payment_intent,
    apply_refunds,
    entry_for_charge,
    record_invoice,
    sync_subscription,
    sync_subscription_and_tell,
)
from membership.models import Donor, GiftKind, LedgerAdjustment, LedgerEntry, StripeEvent, Subscription, SubscriptionStatus
from membership.personal_data import erasures_due_in_stripe, finish_closing_in_stripe
from membership.giving import scheduled_successor
from membership.stripe_api import ChargeResult, DisputeResult, RefundResult, StripeProblem, SubscriptionResult
from sight.audit import record_audit
from sight.db import read_session
from sight.jobs import NO_PROGRESS, Progress
from sight.templating import Formats

INVOICE_PAID = ("invoice.paid", "invoice.payment_succeeded")


@dataclass(frozen=True)
class Finding:
    """One difference, in words: `outcome` is "repaired", "would repair", "failed", "note" or
    "unexplained" (money in Stripe that no repair can attribute: staff must look)."""

    outcome: str
    text: str


class Unexplained(str):
    """A repair's words for money it cannot attribute (reported, never repaired)."""


class Note(str):
    """A repair's words for something staff should know that changes no money yet (an open dispute)."""


@dataclass(frozen=True)
class MonthTotals:
    month: str  # YYYY-MM, UTC
    ledger_cents: int
    stripe_cents: int


@dataclass
class ReconcileReport:
    dry_run: bool
    formats: Formats = field(default_factory=Formats)
    findings: list[Finding] = field(default_factory=list)
    months: list[MonthTotals] = field(default_factory=list)

    @property
    def repairs(self) -> list[Finding]:
        return [f for f in self.findings if f.outcome in ("repaired", "would repair")]

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.outcome == "failed"]

    @property
    def unexplained(self) -> list[Finding]:
        return [f for f in self.findings if f.outcome == "unexplained"]

    @property
    def months_differ(self) -> bool:
        return any(m.ledger_cents != m.stripe_cents for m in self.months)

    @property
    def needs_staff(self) -> bool:
        """What cron should alert on: a failure, money nobody can attribute, a month that differs."""
        return bool(self.failures or self.unexplained or self.months_differ)

    @property
    def lines(self) -> list[str]:
        return [f.text for f in self.findings]

    def month_lines(self) -> list[str]:
        return [
            f"{m.month}: ledger {self.formats.money(m.ledger_cents)}, Stripe {self.formats.money(m.stripe_cents)}"
            + (" (the same)" if m.ledger_cents == m.stripe_cents else f", a difference of {self.formats.money(m.stripe_cents - m.ledger_cents)}")
            for m in self.months
        ]

    def summary(self) -> str:
        verb = "would be repaired" if self.dry_run else "repaired"
        text = f"{len(self.repairs)} difference(s) {verb}, {len(self.failures)} failure(s)"
        if self.unexplained:
            text += f", {len(self.unexplained)} charge(s), refund(s) or dispute(s) in Stripe that nothing here explains"
        if not self.findings:
            if self.months_differ:
                return "The ledger and Stripe differ in some months (below), and nothing found explains it."
            return "The ledger matches Stripe."
        if self.months_differ and not self.dry_run:
            text += "; some months still differ (below)"
        return text + "."


def reconcile(
    session: Session,
    ctx: MembershipContext,
    *,
    since: datetime | None,
    now: datetime,
    dry_run: bool,
    progress: Progress = NO_PROGRESS,
) -> ReconcileReport:
    """Compare the ledger and annual gifts with Stripe and, unless `dry_run`, repair them.

    Commits after each repair (a batch job: see the module's docstring); a dry run writes nothing.
    """
    report = ReconcileReport(dry_run=dry_run, formats=ctx.settings.formats)
    verb = "Would record" if dry_run else "Recorded"

    def item(what: str, repair: Callable[[], str | None]) -> None:
        try:
            text = repair()
            if dry_run:
                session.rollback()
            else:
                session.commit()
        except (StripeProblem, NotYetRecorded, SQLAlchemyError) as exc:
            session.rollback()
            report.findings.append(Finding("failed", f"Failed: {what}: {exc}"))
            return
        if isinstance(text, Unexplained):
            report.findings.append(Finding("unexplained", text))
        elif isinstance(text, Note):
            report.findings.append(Finding("note", text))
        elif text:
            report.findings.append(Finding("would repair" if dry_run else "repaired", text))
        progress.advance()

    # Closed accounts first: a gift Stripe still renews for someone who left is the costliest gap.
    erasures = erasures_due_in_stripe(session)
    if erasures and not dry_run:
        progress.start(len(erasures), "Closing accounts in Stripe")
    for donor_id in erasures:
        if dry_run:  # a dry run calls Stripe only to read
            report.findings.append(Finding("would repair", f"Would finish closing donor {donor_id} in Stripe"))
        else:
            item(f"closing donor {donor_id} in Stripe", lambda donor_id=donor_id: _finish_closing(session, ctx, donor_id, now))
    session.rollback()
    # A new amount no annual gift here expects would charge on its own: cancelled, not only noted.
    orphans = orphan_successors(session, ctx)
    if orphans and not dry_run:
        progress.start(len(orphans), "Cancelling new amounts nothing expects")
    for remote in orphans:
        words = (f"{remote.id}, a new amount of {ctx.settings.formats.money(remote.yearly_amount_cents)} a year "
                 f"scheduled to replace {remote.metadata.get('replaces')} that no annual gift here expects")
        if dry_run:
            report.findings.append(Finding("would repair", f"Would cancel {words}."))
        else:
            item(remote.id, lambda remote=remote, words=words: _cancel_orphan(session, ctx, remote, words, now))
    session.rollback()
    # Stripe keeps events for 30 days, subscriptions for ever.
    orphan_ids = {remote.id for remote in orphans}
    report.findings += [
        Finding("note", line) for line in subscriptions_without_a_gift(session, ctx) if line.split()[1] not in orphan_ids
    ]
    payments, invoices, subscriptions, disputes_closed = _from_events(ctx, since)
    charges = [c for c in ctx.gateway.charges_since(since) if c.status == "succeeded"]
    # Refunds and disputes on their own too: one may come long after the charge it takes back.
    refunds = [r for r in ctx.gateway.refunds_since(since) if r.status == "succeeded" and r.charge_id]
    disputes = ctx.gateway.disputes_since(since)

    progress.start(
        len(payments) + len(invoices) + len(charges) + len(refunds) + len(disputes) + len(subscriptions), "Checking Stripe"
    )
    for payment_id in payments:
        item(payment_id, lambda payment_id=payment_id: _missing_payment(session, ctx, payment_id, verb, now))
    for invoice_id in invoices:
        item(invoice_id, lambda invoice_id=invoice_id: _missing_invoice(session, ctx, invoice_id, verb, now))
    unexplained_charges: set[str] = set()
    for charge in charges:
        item(charge.id, lambda charge=charge: _charge(session, ctx, charge, disputes_closed, unexplained_charges, verb, now))
    # The refunds and lost disputes of a gift's charge just read were settled with it (a dry run kept
    # nothing to show so); those of a charge no gift explains are named on their own.
    settled = {c.id for c in charges} - unexplained_charges
    for refund in refunds:
        if refund.charge_id in settled:
            progress.advance()
            continue
        item(refund.id, lambda refund=refund: _refund(session, ctx, refund, verb, now))
    for dispute in disputes:
        if dispute.charge_id in settled and dispute.status in ("won", "lost", "warning_closed"):
            progress.advance()
            continue
        item(dispute.id, lambda dispute=dispute: _dispute(session, ctx, dispute, disputes_closed, verb, now))
    for subscription_id in subscriptions:
        item(subscription_id, lambda subscription_id=subscription_id: _subscription(session, ctx, subscription_id, dry_run, now))

    session.rollback()
    # The comparison after the repairs reads one snapshot, and takes no lock while it does.
    with read_session(session.get_bind()) as reader:
        unapplied = reader.scalars(select(StripeEvent.event_id).where(StripeEvent.processed_at.is_(None))).all()
        report.months = _months(reader, charges, since)
    if unapplied:
        report.findings.append(
            Finding("note", f"{len(unapplied)} stored webhook event(s) never applied (see the webhook log): {', '.join(unapplied)}")
        )
    return report


def subscriptions_without_a_gift(session: Session, ctx: MembershipContext) -> list[str]:
    """Subscriptions Stripe still renews for one of our donors with no live annual gift here:
    reported, not changed (someone must decide whether to cancel them)."""
    customers = set(session.scalars(select(Donor.stripe_customer_id).where(Donor.stripe_customer_id.is_not(None))))
    # Recorded and not ended here (a new amount scheduled to start at a renewal is "incomplete"
    # in localstripe, "trialing" in Stripe): the same gift on both sides, not a difference.
    live_here = set(
        session.scalars(
            select(Subscription.stripe_subscription_id).where(
                Subscription.status.not_in([SubscriptionStatus.canceled, SubscriptionStatus.incomplete_expired])
            )
        )
    )
    return [
        f"subscription {remote.id} ({remote.status}, {ctx.settings.formats.money(remote.yearly_amount_cents)} a year) "
        f"has no live annual gift here"
        for remote in ctx.gateway.live_subscriptions()
        if remote.customer in customers and remote.id not in live_here
    ]


def orphan_successors(session: Session, ctx: MembershipContext) -> list[SubscriptionResult]:
    """Subscriptions Stripe has scheduled to replace one of our donors' annual gifts that nothing
    here expects: the gift asks for no new amount, or another one is the new amount it recorded
    (a request that died after Stripe answered, or a race from before manage actions were claimed)."""
    customers = set(session.scalars(select(Donor.stripe_customer_id).where(Donor.stripe_customer_id.is_not(None))))
    orphans = []
    for remote in ctx.gateway.live_subscriptions():
        replaces = remote.metadata.get("replaces")
        if remote.customer not in customers or not replaces:
            continue
        replaced = session.scalar(select(Subscription).where(Subscription.stripe_subscription_id == replaces))
        expected = scheduled_successor(session, replaced) if replaced is not None and replaced.pending_amount_cents else None
        if expected is None or expected.stripe_subscription_id != remote.id:
            orphans.append(remote)
    return orphans


def _cancel_orphan(session: Session, ctx: MembershipContext, remote: SubscriptionResult, words: str, now: datetime) -> str:
    result = ctx.gateway.cancel_subscription_now(remote.id, idempotency_key=f"sight-orphan-{remote.id}-cancel")
    with suppress(NotYetRecorded):
        sync_subscription(session, result, now)
    return f"Cancelled {words}."


def _finish_closing(session: Session, ctx: MembershipContext, donor_id: int, now: datetime) -> str | None:
    if finish_closing_in_stripe(session, ctx, donor_id, now):
        return f"Finished closing donor {donor_id} in Stripe: annual gifts stopped, name and email removed"
    return None


def _from_events(
    ctx: MembershipContext, since: datetime | None
) -> tuple[list[str], list[str], list[str], dict[str, datetime]]:
    """The payments, invoices and subscriptions the events name, and when each dispute closed."""
    payments: dict[str, None] = {}
    invoices: dict[str, None] = {}
    subscriptions: dict[str, None] = {}
    disputes_closed: dict[str, datetime] = {}
    for event in ctx.gateway.events_since(since):
        object_id = event.get("data", {}).get("object", {}).get("id")
        if not object_id:
            continue
        if event["type"] == "payment_intent.succeeded":
            payments[object_id] = None
        elif event["type"] in INVOICE_PAID:
            invoices[object_id] = None
        elif event["type"].startswith("customer.subscription."):
            subscriptions[object_id] = None
        elif event["type"] == "charge.dispute.closed":
            disputes_closed[object_id] = datetime.fromtimestamp(event["created"], UTC)
    return list(payments), list(invoices), list(subscriptions), disputes_closed


def _recorded(session: Session, stripe_object_id: str) -> bool:
    return session.scalar(select(LedgerEntry.id).where(LedgerEntry.stripe_object_id == stripe_object_id)) is not None


def _gift_words(
    formats: Formats, entry_kind: GiftKind, cents: int, object_id: str, paid_at: datetime | None
) -> str:
    kind = "an annual gift" if entry_kind is GiftKind.recurring else "a one-off gift"
    paid = f", paid {formats.day(paid_at)}" if paid_at else ""
    return f"{kind} of {formats.money(cents)} ({object_id}{paid})"


def _missing_payment(session: Session, ctx: MembershipContext, payment_id: str, verb: str, now: datetime) -> str | None:
    if _recorded(session, payment_id):
        return None
    payment = ctx.gateway.retrieve_payment_intent(payment_id)
    entry = apply_payment_intent(session, payment, ctx, now)
    if entry is None:
        return None
    return f"{verb} {_gift_words(ctx.settings.formats, GiftKind.one_off, entry.amount_cents, payment_id, entry.paid_at)} that no webhook brought."


def _missing_invoice(session: Session, ctx: MembershipContext, invoice_id: str, verb: str, now: datetime) -> str | None:
    if _recorded(session, invoice_id):
        return None
    entry = record_invoice(session, ctx, invoice_id, now)
    if entry is None:
        return None
    return f"{verb} {_gift_words(ctx.settings.formats, GiftKind.recurring, entry.amount_cents, invoice_id, entry.paid_at)} that no webhook brought."


def _charge(
    session: Session,
    ctx: MembershipContext,
    charge: ChargeResult,
    disputes_closed: dict[str, datetime],
    unexplained_charges: set[str],
    verb: str,
    now: datetime,
) -> str | None:
    """A payment whose events are gone or were missed, its refunds, and its disputes.

    A lost dispute dates from its `charge.dispute.closed` event, as the webhook dates it; a
    dispute keeps no time of its own for its verdict, so once Stripe's events are gone (30 days)
    it dates from its opening, when Stripe took the money back.
    """
    gateway = ctx.gateway
    refunds = gateway.refunds_of_charge(charge.id) if charge.amount_refunded_cents else []
    disputes = gateway.disputes_of_charge(charge.id) if charge.disputed else []
    words: list[str] = []
    entry = entry_for_charge(session, charge)
    if entry is None and charge.payment_intent_id:
        payment = gateway.retrieve_payment_intent(charge.payment_intent_id)
        invoice_id = charge.invoice_id or payment.invoice_id
        if payment.metadata.get("kind") == GiftKind.one_off.value:
            entry = apply_payment_intent(session, payment, ctx, now)
        elif invoice_id:
            entry = record_invoice(session, ctx, invoice_id, now)
        if entry is not None:
            words.append(f"{verb} {_gift_words(ctx.settings.formats, entry.kind, entry.amount_cents, entry.stripe_object_id, entry.paid_at)} found among Stripe's charges")
    if entry is None:
        unexplained_charges.add(charge.id)
        return _unattributed(session, ctx, charge)
    if entry.charge_id is None:
        entry.charge_id = charge.id
    refunded = apply_refunds(session, ctx, entry, refunds, now)
    if refunded:
        money = ctx.settings.formats.money
        words.append(f"{verb} {money(refunded)} refunded on {entry.stripe_object_id} ({money(entry.refunded_cents)} of {money(entry.amount_cents)} refunded in all)")
    for dispute in disputes:
        dispute = replace(dispute, created=disputes_closed.get(dispute.id, dispute.created))
        lost = apply_dispute_lost(session, ctx, entry, dispute, now)
        if lost:
            words.append(f"{verb} a lost dispute of {ctx.settings.formats.money(lost)} on {entry.stripe_object_id}")
    return "; ".join(words) + "." if words else None


def _donor_words(session: Session, customer: str | None) -> str | None:
    """Who a Stripe customer is here (None: another customer of the Stripe account, not ours to count)."""
    donor = session.scalar(select(Donor).where(Donor.stripe_customer_id == customer)) if customer else None
    if donor is None:
        return None
    return donor.user.email if donor.user.closed_at is None else f"closed account {donor.user_id}"


def _day(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d}" if at else "an unknown day"


def _unattributed(session: Session, ctx: MembershipContext, charge: ChargeResult) -> Unexplained | None:
    """A charge on one of our donors' customers that is no gift made here (one made in Stripe's
    dashboard, say): named for staff, since it is in the monthly totals and nothing explains it."""
    who = _donor_words(session, charge.customer)
    if who is None:
        return None
    return Unexplained(
        f"Stripe charge {charge.id} of {ctx.settings.formats.money(charge.amount_cents)} on {_day(charge.created)} (UTC) to customer "
        f"{charge.customer} ({who}) has no ledger entry and is not a gift made here: record it by hand or refund it in Stripe."
    )


def _adjusted(session: Session, stripe_object_id: str) -> bool:
    """Whether the ledger holds this refund or lost dispute; ends the read, so that no transaction
    stays open while Stripe is asked next (on SQLite it would hold the write lock)."""
    found = session.scalar(select(LedgerAdjustment.id).where(LedgerAdjustment.stripe_object_id == stripe_object_id))
    session.rollback()
    return found is not None


def _refund(session: Session, ctx: MembershipContext, refund: RefundResult, verb: str, now: datetime) -> str | None:
    """A refund the ledger lacks: recorded as the charge.refunded webhook records it when its charge
    is a gift here, else named for staff."""
    if _adjusted(session, refund.id):
        return None
    charge = ctx.gateway.retrieve_charge(refund.charge_id)
    refunds = ctx.gateway.refunds_of_charge(charge.id)
    entry = entry_for_charge(session, charge)
    money = ctx.settings.formats.money
    if entry is None:
        who = _donor_words(session, charge.customer)
        if who is None:
            return None
        return Unexplained(
            f"Stripe refund {refund.id} of {money(refund.amount_cents)} on {_day(refund.created)} (UTC) of charge {charge.id} "
            f"to customer {charge.customer} ({who}) has no ledger entry and its charge is not a gift made here: "
            "record it by hand with the charge."
        )
    refunded = apply_refunds(session, ctx, entry, refunds, now)
    if not refunded:
        return None  # already counted among the refunds recorded before they kept Stripe's ids
    return (f"{verb} {money(refunded)} refunded on {entry.stripe_object_id} ({money(entry.refunded_cents)} of "
            f"{money(entry.amount_cents)} refunded in all).")


def _dispute(
    session: Session,
    ctx: MembershipContext,
    dispute: DisputeResult,
    disputes_closed: dict[str, datetime],
    verb: str,
    now: datetime,
) -> str | None:
    """A lost dispute the ledger lacks (recorded when its charge is a gift here, else named), or an
    open one (named for staff, the ledger unchanged: the bank has not decided)."""
    if dispute.status in ("won", "warning_closed"):
        return None
    if _adjusted(session, dispute.id):
        return None
    charge = ctx.gateway.retrieve_charge(dispute.charge_id)
    who = _donor_words(session, charge.customer)
    if who is None:
        return None
    money = ctx.settings.formats.money
    if dispute.status != "lost":
        respond = f"needs a response by {ctx.settings.formats.day(dispute.respond_by)}" if dispute.respond_by else dispute.status
        return Note(
            f"Stripe dispute {dispute.id} of {money(dispute.amount_cents)} on charge {charge.id} is open ({respond}); "
            f"customer {charge.customer} ({who}), opened {_day(dispute.created)} (UTC). Nothing is recorded until the bank decides."
        )
    entry = entry_for_charge(session, charge)
    if entry is None:
        return Unexplained(
            f"Stripe dispute {dispute.id} of {money(dispute.amount_cents)} lost on {_day(disputes_closed.get(dispute.id, dispute.created))} "
            f"(UTC) on charge {charge.id} to customer {charge.customer} ({who}) has no ledger entry and its charge is not "
            "a gift made here: record it by hand with the charge."
        )
    lost = apply_dispute_lost(session, ctx, entry, replace(dispute, created=disputes_closed.get(dispute.id, dispute.created)), now)
    return f"{verb} a lost dispute of {money(lost)} on {entry.stripe_object_id}." if lost else None


def _subscription(session: Session, ctx: MembershipContext, subscription_id: str, dry_run: bool, now: datetime) -> str | None:
    result = ctx.gateway.retrieve_subscription(subscription_id)
    ours = session.scalar(select(Subscription).where(Subscription.stripe_subscription_id == subscription_id))
    before = None if ours is None else (ours.status.value, ours.current_period_end, ours.yearly_amount_cents, ours.cancel_at_period_end)
    after = (result.status, result.current_period_end, result.yearly_amount_cents, result.cancel_at_period_end)
    if before == after:
        return None
    sync_subscription_and_tell(session, ctx, result, now)
    was = "not known here" if before is None else before[0]
    verb = "Would update" if dry_run else "Updated"
    return (
        f"{verb} the annual gift {subscription_id} of {ctx.settings.formats.money(result.yearly_amount_cents)} a year: "
        f"{was} → {result.status}, current year ends {ctx.settings.formats.day(result.current_period_end)}."
    )


def _months(session: Session, charges: list[ChargeResult], since: datetime | None) -> list[MonthTotals]:
    """Net given per month (UTC), ledger against Stripe's charges, for the donors known here."""
    stripe: dict[str, int] = defaultdict(int)
    customers = set(session.scalars(select(LedgerEntry.customer_id).distinct()))
    # Stripe keeps whole seconds: both sides start at the same second, or a gift paid in the
    # second `since` falls in would count on one side only.
    since = since.replace(microsecond=0) if since is not None else None
    for charge in charges:
        if charge.customer in customers and charge.created is not None and (since is None or charge.created >= since):
            stripe[f"{charge.created:%Y-%m}"] += charge.amount_cents - charge.amount_refunded_cents
    ledger: dict[str, int] = defaultdict(int)
    query = select(LedgerEntry.paid_at, LedgerEntry.amount_cents - LedgerEntry.refunded_cents + LedgerEntry.dispute_lost_cents)
    if since is not None:
        query = query.where(LedgerEntry.paid_at >= since)
    for paid_at, net_of_refunds in session.execute(query):
        ledger[f"{paid_at.astimezone(UTC):%Y-%m}"] += net_of_refunds
    return [MonthTotals(month, ledger.get(month, 0), stripe.get(month, 0)) for month in sorted(set(stripe) | set(ledger))]


def record_reconcile(
    session: Session, *, report: ReconcileReport, since: datetime | None, actor: User, now: datetime
) -> None:
    """Audit a repair made from the staff page: what differed, and from when."""
    details = {
        "since": since.astimezone(UTC).isoformat().replace("+00:00", "Z") if since else None,
        "differences": len(report.repairs),
        "failures": len(report.failures),
        "lines": report.lines[:200],
    }
    record_audit(session, actor=actor, action="stripe.reconcile", target="ledger", details=details, now=now)
