"""Mail to donors: receipts, renewal reminders and failed-renewal notices, each through the outbox.

A reminder or failure notice is sent at most once: a unique key on `renewal_notice` says so.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.models import User
from membership.context import MembershipContext
from membership.links import Links
from membership.models import (
    Donor,
    GiftKind,
    LedgerEntry,
    NoticeKind,
    RenewalNotice,
    Subscription,
    SubscriptionStatus,
)
from membership.status import sight_plus_status_of
from sight.audit import record_audit
from sight.jobs import NO_PROGRESS, Progress
from sight.mail import queue_templated_mail
from sight.templating import Formats

REMINDER_LEAD = timedelta(days=14)


def _manage_link(links: Links, donor: Donor) -> str:
    return links.manage_url(donor.id, donor.manage_version)


def mail_donor(
    session: Session, user: User, *, template: str, values: dict, kind: str, formats: Formats, now: datetime,
    name: str | None = None,
) -> None:
    """Write to a donor by name (`name`: the one given with a gift, else the account's), signed by
    Sight, from the message's template (text and HTML); not once they have closed their account
    (the address is gone)."""
    if user.closed_at is not None:
        return
    values = {**values, "name": name or user.name or "reader", "formats": formats}
    queue_templated_mail(session, to=user.email, template=template, values=values, kind=kind, user_id=user.id, now=now)


# --- receipts -------------------------------------------------------------------------


def queue_receipt(
    session: Session, entry: LedgerEntry, ctx: MembershipContext, now: datetime, *, name: str | None = None
) -> None:
    settings, links = ctx.settings, ctx.links
    donor = session.get(Donor, entry.donor_id)
    user = session.get(User, donor.user_id)
    # Stripe's clock can be a moment ahead of the request that asked it to charge.
    status = sight_plus_status_of(session, user.id, max(now, entry.paid_at), settings=settings)
    annual = entry.kind is GiftKind.recurring
    values = {
        "entry": entry,
        "annual": annual,
        "status": status,
        "org_legal_name": settings.org_legal_name,
        "org_abn": settings.org_abn,
        "tax_statement": settings.tax_statement,
        "account_url": links.account_url(),
        # One-off gifts have nothing to manage.
        "manage_url": _manage_link(links, donor) if annual else None,
    }
    mail_donor(session, user, template="membership/email/receipt.html", values=values, kind="receipt",
               formats=settings.formats, now=now, name=name)


def resend_receipt(
    session: Session, *, entry: LedgerEntry, ctx: MembershipContext, actor: User, now: datetime
) -> str:
    """Queue the receipt for a ledger entry again (staff); returns the address it goes to."""
    queue_receipt(session, entry, ctx, now)
    to = entry.donor.user.email
    record_audit(
        session, actor=actor, action="membership.resend_receipt", target=f"ledger_entry:{entry.id}",
        details={"to": to}, now=now,
    )
    return to


# --- confirmations of changes ---------------------------------------------------------


def queue_adjustment_notice(
    session: Session, ctx: MembershipContext, entry: LedgerEntry, lost_to_dispute: bool, cents: int, now: datetime
) -> None:
    """Tell the donor, once per refund or lost dispute (the caller has just recorded it), what
    happened, where their Sight+ stands now and how to give again."""
    values = {
        "entry": entry,
        "cents": cents,
        "status": sight_plus_status_of(session, entry.donor.user_id, now, settings=ctx.settings),
        "donate_url": ctx.links.donate_url(),
    }
    kind = "dispute_lost_notice" if lost_to_dispute else "refund_notice"
    mail_donor(session, entry.donor.user, template=f"membership/email/{kind}.html", values=values,
               kind=kind, formats=ctx.settings.formats, now=now)


def queue_change_confirmation(
    session: Session, ctx: MembershipContext, subscription: Subscription, change: str, now: datetime
) -> None:
    """Tell the donor what just changed in their annual gift ("cancel", "resume", "amount" or "card"),
    whoever made the change."""
    values = {"subscription": subscription, "manage_url": _manage_link(ctx.links, subscription.donor)}
    mail_donor(session, subscription.donor.user, template=f"membership/email/annual_gift_{change}.html", values=values,
               kind=f"annual_gift_{change}", formats=ctx.settings.formats, now=now)


def queue_new_link(session: Session, ctx: MembershipContext, donor: Donor, now: datetime) -> None:
    mail_donor(session, donor.user, template="membership/email/manage_link.html",
               values={"manage_url": _manage_link(ctx.links, donor)}, kind="manage_link",
               formats=ctx.settings.formats, now=now)


def queue_grant_confirmation(session: Session, user: User, ends_at: datetime, formats: Formats, now: datetime) -> None:
    mail_donor(session, user, template="membership/email/complimentary_grant.html", values={"ends_at": ends_at},
               kind="complimentary_grant", formats=formats, now=now)


def queue_sight_plus_ended_if_so(
    session: Session, ctx: MembershipContext, user: User, why: str, now: datetime
) -> None:
    """After a change that may have ended someone's Sight+ (the caller makes it once), tell them if it did."""
    status = sight_plus_status_of(session, user.id, now, settings=ctx.settings)
    if status.is_member:
        return
    values = {"ended_at": now, "why": why, "status": status, "donate_url": ctx.links.donate_url()}
    mail_donor(session, user, template="membership/email/sight_plus_ended.html", values=values,
               kind="sight_plus_ended", formats=ctx.settings.formats, now=now)


# --- renewal reminders and failure notices --------------------------------------------


def _claim(session: Session, subscription: Subscription, kind: NoticeKind, key: str, now: datetime) -> bool:
    """True for the one caller that may send this notice; everyone else finds it taken."""
    try:
        with session.begin_nested():
            session.add(
                RenewalNotice(subscription_id=subscription.id, kind=kind, period_key=key, sent_at=now)
            )
    except IntegrityError:
        return False
    return True


def _queue_notice(
    session: Session, subscription: Subscription, kind: str, values: dict, ctx: MembershipContext, now: datetime
) -> None:
    values = {**values, "manage_url": _manage_link(ctx.links, subscription.donor)}
    mail_donor(session, subscription.donor.user, template=f"membership/email/{kind}.html", values=values, kind=kind,
               formats=ctx.settings.formats, now=now)


def queue_payment_failed_notice(
    session: Session,
    subscription: Subscription,
    invoice_id: str,
    amount_cents: int,
    ctx: MembershipContext,
    now: datetime,
) -> bool:
    if not _claim(session, subscription, NoticeKind.payment_failed, invoice_id, now):
        return False
    _queue_notice(session, subscription, "renewal_failed", {"amount_cents": amount_cents}, ctx, now)
    return True


def send_renewal_reminders(
    session: Session, ctx: MembershipContext, now: datetime, progress: Progress = NO_PROGRESS
) -> int:
    """Remind every donor whose annual gift renews within 14 days; safe to run as often as you like.

    A batch job: each reminder is committed on its own, so a donor giving meanwhile waits for one
    reminder at most, and a failure part-way keeps the reminders already queued."""
    due = session.scalars(
        select(Subscription).where(
            Subscription.status == SubscriptionStatus.active,
            Subscription.current_period_end > now,
            Subscription.current_period_end <= now + REMINDER_LEAD,
            Subscription.cancel_at_period_end.is_(False) | Subscription.pending_amount_cents.is_not(None),
        )
    ).all()
    sent = 0
    progress.start(len(due), "Renewal reminders")
    for subscription in due:
        progress.advance()
        key = subscription.current_period_end.isoformat()
        if not _claim(session, subscription, NoticeKind.renewal_reminder, key, now):
            continue
        amount = subscription.pending_amount_cents or subscription.yearly_amount_cents
        values = {"amount_cents": amount, "renews_at": subscription.current_period_end}
        _queue_notice(session, subscription, "renewal_reminder", values, ctx, now)
        session.commit()
        sent += 1
    return sent
