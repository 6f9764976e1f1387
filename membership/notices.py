"""Renewal reminders and failed-renewal notices: each is sent at most once (a unique key says so)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from membership.links import Links
from membership.models import NoticeKind, RenewalNotice, Subscription, SubscriptionStatus
from membership.operations import mail_donor
from sight.templating import format_money

REMINDER_LEAD = timedelta(days=14)


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
    session: Session, subscription: Subscription, subject: str, opening: str, kind: str, links: Links, now: datetime
) -> None:
    lines = [opening, "", "To update your card, cancel or change the amount, no sign-in needed:", links.manage_url(subscription.donor_id)]
    mail_donor(session, subscription.donor.user, subject=subject, lines=lines, kind=kind, now=now)


def queue_payment_failed_notice(
    session: Session,
    subscription: Subscription,
    invoice_id: str,
    amount_cents: int,
    links: Links,
    now: datetime,
) -> bool:
    if not _claim(session, subscription, NoticeKind.payment_failed, invoice_id, now):
        return False
    _queue_notice(
        session,
        subscription,
        "Your annual gift to Sight could not be renewed",
        f"We tried to renew your annual gift of {format_money(amount_cents)} to Sight, "
        "but your card was declined. Stripe will try again over the next few days, and "
        "you stay Sight+ in the meantime.",
        "renewal_failed",
        links,
        now,
    )
    return True


def send_renewal_reminders(session: Session, links: Links, now: datetime) -> int:
    """Remind every donor whose annual gift renews within 14 days; safe to run as often as you like."""
    due = session.scalars(
        select(Subscription).where(
            Subscription.status == SubscriptionStatus.active,
            Subscription.current_period_end > now,
            Subscription.current_period_end <= now + REMINDER_LEAD,
            Subscription.cancel_at_period_end.is_(False) | Subscription.pending_amount_cents.is_not(None),
        )
    ).all()
    sent = 0
    for subscription in due:
        key = subscription.current_period_end.isoformat()
        if not _claim(session, subscription, NoticeKind.renewal_reminder, key, now):
            continue
        amount = subscription.pending_amount_cents or subscription.yearly_amount_cents
        _queue_notice(
            session,
            subscription,
            "Your annual gift to Sight renews soon",
            f"Your annual gift of {format_money(amount)} to Sight renews on "
            f"{subscription.current_period_end:%d %B %Y}. Thank you for keeping Sight going.",
            "renewal_reminder",
            links,
            now,
        )
        sent += 1
    return sent
