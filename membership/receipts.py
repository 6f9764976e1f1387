"""Mail to donors: receipts, renewal reminders and failed-renewal notices, each through the outbox.

A reminder or failure notice is sent at most once: a unique key on `renewal_notice` says so.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader
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
from sight.mail import queue_mail
from sight.templating import format_money

REMINDER_LEAD = timedelta(days=14)

# Mail is written outside any request, so it has its own environment on the app's templates;
# autoescaping is on for every template, whatever its name.
_email_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"), autoescape=True
)


def day(moment: datetime, zone: str) -> str:
    """A date as a donor reads it: in the display time zone, like the pages ("1 December 2027")."""
    return f"{moment.astimezone(ZoneInfo(zone)):%-d %B %Y}"


def day_and_time(moment: datetime, zone: str) -> str:
    return f"{moment.astimezone(ZoneInfo(zone)):%-d %B %Y, %-I:%M %p %Z}"


def _manage_link(links: Links, donor: Donor) -> str:
    return links.manage_url(donor.id, donor.manage_version)


def mail_donor(
    session: Session,
    user: User,
    *,
    subject: str,
    lines: list[str],
    kind: str,
    now: datetime,
    name: str | None = None,
    html_template: str | None = None,
    html_values: dict | None = None,
) -> None:
    """Write to a donor by name (`name`: the one given with a gift, else the account's), signed by
    Sight; not once they have closed their account (the address is gone). With `html_template`, the
    same words go as an HTML part too, rendered from `html_values` with autoescaping."""
    if user.closed_at is not None:
        return
    greeting = name or user.name or "reader"
    body = "\n".join([f"Dear {greeting},", "", *lines, "", "Sight"])
    html = None
    if html_template is not None:
        html = _email_templates.get_template(html_template).render(subject=subject, name=greeting, **(html_values or {}))
    queue_mail(session, to=user.email, subject=subject, body=body, html=html, kind=kind, user_id=user.id, now=now)


# --- receipts -------------------------------------------------------------------------


def queue_receipt(
    session: Session, entry: LedgerEntry, ctx: MembershipContext, now: datetime, *, name: str | None = None
) -> None:
    settings, links = ctx.settings, ctx.links
    donor = session.get(Donor, entry.donor_id)
    user = session.get(User, donor.user_id)
    # Stripe's clock can be a moment ahead of the request that asked it to charge.
    status = sight_plus_status_of(session, user.id, max(now, entry.paid_at), settings=settings)
    zone = settings.display_timezone
    annual = entry.kind is GiftKind.recurring
    gift = "annual gift" if annual else "gift"
    currency = entry.currency.upper()
    facts = {
        "thanks": f"Thank you for your {gift} of {format_money(entry.amount_cents)} ({currency}) to Sight.",
        "receipt_number": entry.id,
        "paid": day_and_time(entry.paid_at, zone),
        "amount": f"{format_money(entry.amount_cents)} {currency}",
        "org_legal_name": settings.org_legal_name,
        "org_abn": settings.org_abn,
        "stripe_reference": entry.stripe_object_id,
        "tax_statement": settings.tax_statement,
        "account_url": links.account_url(),
        # One-off gifts have nothing to manage.
        "manage_url": _manage_link(links, donor) if annual else None,
    }
    if status.is_member:
        facts["status"] = f"You are Sight+ until {day(status.until, zone)}. Thank you for supporting us."
    else:
        facts["status"] = (
            f"You have given {format_money(status.cents_in_window)} of "
            f"{format_money(settings.threshold_cents)} in the last 12 months: "
            f"{format_money(status.cents_needed)} more makes you Sight+."
        )
    lines = [
        facts["thanks"],
        "",
        f"Receipt number: {entry.id}",
        f"Paid: {facts['paid']}",
        f"Amount: {facts['amount']}",
        f"Received by: {settings.org_legal_name}" + (f", ABN {settings.org_abn}" if settings.org_abn else ""),
        f"Stripe reference: {entry.stripe_object_id}",
        *([settings.tax_statement] if settings.tax_statement else []),
        "",
        facts["status"],
        "",
        f"Your receipts and Sight+ status: {facts['account_url']}",
    ]
    if annual:
        lines += [
            "Manage your annual gift (cancel, change the amount, update the card), no sign-in needed:",
            facts["manage_url"],
        ]
    mail_donor(
        session, user, subject=f"Your receipt: {format_money(entry.amount_cents)} to Sight", lines=lines, kind="receipt",
        now=now, name=name, html_template="membership/email/receipt.html", html_values=facts,
    )


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
    zone = ctx.settings.display_timezone
    what = f"your gift of {format_money(entry.amount_cents)} made on {day(entry.paid_at, zone)}"
    if lost_to_dispute:
        subject = "Your bank took back your gift to Sight"
        happened = f"After a dispute with your bank, your bank took back {format_money(cents)} of {what}."
    else:
        subject = "Your gift to Sight has been refunded"
        happened = f"We have refunded {format_money(cents)} of {what}. It will reach your card in 5–10 days."
    status = sight_plus_status_of(session, entry.donor.user_id, now, settings=ctx.settings)
    if status.is_member:
        standing = f"You are still Sight+ until {day(status.until, zone)}."
    else:
        standing = (f"You are no longer Sight+: {format_money(status.cents_needed)} more in gifts "
                    "in the last 12 months would make you Sight+ again.")
    lines = [happened, "", standing, "", "To give again:", ctx.links.donate_url()]
    kind = "dispute_lost_notice" if lost_to_dispute else "refund_notice"
    mail_donor(session, entry.donor.user, subject=subject, lines=lines, kind=kind, now=now)


def queue_change_confirmation(
    session: Session, ctx: MembershipContext, subscription: Subscription, change: str, now: datetime
) -> None:
    """Tell the donor what just changed in their annual gift, whoever made the change."""
    zone = ctx.settings.display_timezone
    ends = day(subscription.current_period_end, zone)
    amount = format_money(subscription.yearly_amount_cents)
    link = _manage_link(ctx.links, subscription.donor)
    subject, lines = {
        "cancel": (
            "Your annual gift to Sight is cancelled",
            [f"Your annual gift of {amount} will not renew. It ends on {ends}; the year you paid for still counts.",
             "", "Changed your mind? You can resume it before then, no sign-in needed:", link],
        ),
        "resume": (
            "Your annual gift to Sight will renew",
            [f"Your annual gift of {amount} is back on: it renews on {ends}.",
             "", "To change it, no sign-in needed:", link],
        ),
        "amount": (
            "The amount of your annual gift to Sight has changed",
            [f"From {ends} your annual gift will be {format_money(subscription.pending_amount_cents or 0)} a year "
             f"(it was {amount}). Nothing is charged before then.",
             "", "To change it again, no sign-in needed:", link],
        ),
        "card": (
            "The card for your annual gift to Sight has changed",
            [f"Your next renewal, on {ends}, will be charged to the card you just gave us.",
             "", "If you did not make this change, reply to this email. To manage your gift:", link],
        ),
    }[change]
    lines += ["", "If you didn't ask for this, please reply to this email."] if change != "card" else []
    mail_donor(session, subscription.donor.user, subject=subject, lines=lines, kind=f"annual_gift_{change}", now=now)


def queue_new_link(session: Session, ctx: MembershipContext, donor: Donor, now: datetime) -> None:
    lines = [
        "Here is a new link to manage your annual gift to Sight. Links we sent you before no longer work.",
        "",
        _manage_link(ctx.links, donor),
    ]
    mail_donor(session, donor.user, subject="Your new link to manage your annual gift", lines=lines, kind="manage_link", now=now)


def queue_grant_confirmation(session: Session, user: User, ends_at: datetime, zone: str, now: datetime) -> None:
    lines = [
        f"You are Sight+ until {day(ends_at, zone)}, with our compliments.",
        "Thank you for what you do for Sight.",
    ]
    mail_donor(session, user, subject="You are Sight+", lines=lines, kind="complimentary_grant", now=now)


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
    session: Session, subscription: Subscription, subject: str, opening: str, kind: str, links: Links, now: datetime
) -> None:
    lines = [opening, "", "To update your card, cancel or change the amount, no sign-in needed:", _manage_link(links, subscription.donor)]
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
        _queue_notice(
            session,
            subscription,
            "Your annual gift to Sight renews soon",
            f"Your annual gift of {format_money(amount)} to Sight renews on "
            f"{day(subscription.current_period_end, ctx.settings.display_timezone)}. Thank you for keeping Sight going.",
            "renewal_reminder",
            ctx.links,
            now,
        )
        session.commit()
        sent += 1
    return sent
