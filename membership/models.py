"""Donors, the donation ledger, annual gifts, complimentary grants, webhook events, benefits.

Sight+ status is never stored: it is derived from these tables by `membership.rules`.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from sight.db import utcnow
from sight.extensions import db


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # A VARCHAR with a named CHECK: the same schema on SQLite and PostgreSQL.
    return Enum(cls, native_enum=False, create_constraint=True, length=24, name=name)


class GiftKind(enum.Enum):
    one_off = "one_off"
    recurring = "recurring"


class Donor(db.Model):
    """The giving side of a user account: one Stripe Customer per donor, reused."""

    __tablename__ = "donor"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), unique=True
    )
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Signed manage links carry this number; cancelling, closing the account and "send me a new
    # link" raise it, and every older link stops working.
    manage_version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the account closes, cleared once Stripe has stopped the annual gifts and forgotten
    # the person's name and email: Stripe is told after the closing commits, and retried by
    # `flask stripe reconcile` while this is set.
    stripe_erasure_due_at: Mapped[datetime | None]
    # Staff's grant form carries this number and a grant raises it (a conditional UPDATE), so
    # the same form sent twice, or one from before another grant, grants nothing more.
    grants_version: Mapped[int] = mapped_column(default=1, server_default="1")

    user: Mapped[User] = relationship()
    entries: Mapped[list[LedgerEntry]] = relationship(
        back_populates="donor", order_by="LedgerEntry.paid_at"
    )
    subscriptions: Mapped[list[Subscription]] = relationship(back_populates="donor")


class LedgerEntry(db.Model):
    """One payment Stripe confirmed. Never deleted; refunds and lost disputes raise refunded_cents."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint(
            "refunded_cents >= 0 AND refunded_cents <= amount_cents", name="refund_within_amount"
        ),
        CheckConstraint(
            "dispute_lost_cents >= 0 AND dispute_lost_cents <= refunded_cents",
            name="dispute_within_refunded",
        ),
        # Covers "each donor's gifts in a window, and their amounts": who is Sight+ through gifts
        # is read from this index alone (`membership.status.sight_plus_ids_at`).
        Index("ix_ledger_entry_donor_paid_at_amount", "donor_id", "paid_at", "amount_cents"),
        # Covers a month's gifts net of refunds (the dashboard) without reading the whole ledger.
        Index("ix_ledger_entry_paid_at_amounts", "paid_at", "amount_cents", "refunded_cents"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    donor_id: Mapped[int] = mapped_column(ForeignKey("donor.id", ondelete="RESTRICT"))
    # The PaymentIntent (one-off) or Invoice (annual) that was paid: the idempotency key.
    stripe_object_id: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[GiftKind] = mapped_column(_enum(GiftKind, "gift_kind"))
    amount_cents: Mapped[int]
    # Refunds plus lost disputes; net = amount_cents - refunded_cents.
    refunded_cents: Mapped[int] = mapped_column(default=0)
    # The part of refunded_cents that a lost dispute took (Stripe does not count it as refunded).
    dispute_lost_cents: Mapped[int] = mapped_column(default=0)
    currency: Mapped[str] = mapped_column(String(3))
    paid_at: Mapped[datetime]
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    charge_id: Mapped[str | None] = mapped_column(String(255), index=True)
    invoice_id: Mapped[str | None] = mapped_column(String(255))
    subscription_id: Mapped[str | None] = mapped_column(String(255), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(255))
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    donor: Mapped[Donor] = relationship(back_populates="entries")

    adjustments: Mapped[list[LedgerAdjustment]] = relationship(
        back_populates="entry", order_by="LedgerAdjustment.occurred_at"
    )

    @property
    def net_cents(self) -> int:
        return self.amount_cents - self.refunded_cents


class AdjustmentKind(enum.Enum):
    refund = "refund"
    dispute_lost = "dispute_lost"


class LedgerAdjustment(db.Model):
    """A refund or a lost dispute, with Stripe's time, so that the net of an entry as it stood at
    any past instant is known. The entry's refunded_cents is their running total."""

    __tablename__ = "ledger_adjustment"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entry.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[AdjustmentKind] = mapped_column(_enum(AdjustmentKind, "adjustment_kind"))
    # The Refund or Dispute id: recording it twice is impossible. Empty only for rows carried
    # over from before adjustments had rows of their own.
    stripe_object_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    amount_cents: Mapped[int]
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    entry: Mapped[LedgerEntry] = relationship(back_populates="adjustments")


class DonationStatus(enum.Enum):
    """awaiting_card → charging (claimed by one request) → completed; a declined card goes back to
    awaiting_card with a fresh SetupIntent; a bank that asks for 3-D Secure parks it in
    authenticating until Stripe says how that ended."""

    awaiting_card = "awaiting_card"
    charging = "charging"
    authenticating = "authenticating"
    completed = "completed"


class Donation(db.Model):
    """A gift being made through /donate: what the donor asked for, before and after Stripe."""

    __tablename__ = "donation"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    donor_id: Mapped[int] = mapped_column(ForeignKey("donor.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[GiftKind] = mapped_column(_enum(GiftKind, "gift_kind"))
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    # The name given with this gift: its pages and receipt use it, never the account's.
    donor_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    message: Mapped[str | None] = mapped_column(Text)
    # Where the gift was started, e.g. "survey:reader-survey" for a survey's thank-you page.
    source: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[DonationStatus] = mapped_column(
        _enum(DonationStatus, "donation_status"), default=DonationStatus.awaiting_card
    )
    # The SetupIntent the browser confirms with the card; replaced after a declined card.
    setup_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When a request claimed it to charge the card: only that request calls Stripe.
    claimed_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]

    donor: Mapped[Donor] = relationship()


class SubscriptionStatus(enum.Enum):
    incomplete = "incomplete"
    incomplete_expired = "incomplete_expired"
    trialing = "trialing"
    active = "active"
    past_due = "past_due"
    canceled = "canceled"
    unpaid = "unpaid"
    paused = "paused"


class Subscription(db.Model):
    """An annual gift as Stripe last told us (re-read from Stripe on every event)."""

    __tablename__ = "subscription"
    __table_args__ = (
        CheckConstraint("yearly_amount_cents > 0", name="amount_positive"),
        CheckConstraint(
            "pending_amount_cents IS NULL OR pending_amount_cents > 0", name="pending_positive"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    donor_id: Mapped[int] = mapped_column(ForeignKey("donor.id", ondelete="RESTRICT"), index=True)
    stripe_subscription_id: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[SubscriptionStatus] = mapped_column(
        _enum(SubscriptionStatus, "subscription_status")
    )
    yearly_amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    current_period_end: Mapped[datetime]
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    # Stripe's start_date and ended_at: an annual gift counts from its start, and until it ended.
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    # When its first invoice was paid (the earliest ledger entry for it): an annual gift counts
    # towards Sight+ only from then, and one that never paid never counts.
    first_paid_at: Mapped[datetime | None]
    # A new yearly amount the donor asked for; it is charged from the next renewal.
    pending_amount_cents: Mapped[int | None]
    # Changing the amount schedules a new annual gift that starts when this one ends;
    # the new one names the one it replaces.
    replaces_stripe_id: Mapped[str | None] = mapped_column(String(255), index=True)
    # Every manage form carries the version it was shown; an action claims the gift by raising
    # it (a conditional UPDATE) and holds it while Stripe answers (claimed_at), so of any
    # number of concurrent or stale submits exactly one changes the gift. Stripe keys derive
    # from (gift, action, version).
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    claimed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    donor: Mapped[Donor] = relationship(back_populates="subscriptions")


class ComplimentaryGrant(db.Model):
    """Sight+ given by staff for a period, with a reason; revoking keeps the row."""

    __tablename__ = "complimentary_grant"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ends_after_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    granted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    revoke_reason: Mapped[str | None] = mapped_column(Text)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    granted_by: Mapped[User | None] = relationship(foreign_keys=[granted_by_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])


class StripeEvent(db.Model):
    """Every webhook delivery, stored raw before it is applied, for inspection and replay."""

    __tablename__ = "stripe_event"
    __table_args__ = (CheckConstraint("deliveries >= 1", name="deliveries_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100), index=True)
    livemode: Mapped[bool] = mapped_column(default=False)
    # The Stripe API version the event was rendered in (the webhook endpoint's): one other than
    # `stripe_api.STRIPE_API_VERSION` may carry fields where our readers do not look.
    api_version: Mapped[str | None] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    deliveries: Mapped[int] = mapped_column(default=1)
    processed_at: Mapped[datetime | None]
    # Why the last attempt to apply it failed (cleared once it is applied).
    error: Mapped[str | None] = mapped_column(Text)


class NoticeKind(enum.Enum):
    renewal_reminder = "renewal_reminder"
    payment_failed = "payment_failed"


class RenewalNotice(db.Model):
    """A reminder or failure notice that was sent: the unique key is what makes "never twice" true."""

    __tablename__ = "renewal_notice"
    __table_args__ = (
        UniqueConstraint(
            "subscription_id", "kind", "period_key", name="uq_renewal_notice_once_per_period"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscription.id", ondelete="CASCADE")
    )
    kind: Mapped[NoticeKind] = mapped_column(_enum(NoticeKind, "notice_kind"))
    # The renewal date (ISO) for reminders, the invoice id for failure notices.
    period_key: Mapped[str] = mapped_column(String(255))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)


class Benefit(db.Model):
    """One thing Sight+ members get; staff edit the list."""

    __tablename__ = "benefit"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # Shown to members only.
    members_content: Mapped[str] = mapped_column(Text, default="")
    members_link: Mapped[str | None] = mapped_column(String(500))
    position: Mapped[int] = mapped_column(default=0)
    published: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LapseReminder(db.Model):
    """A lapse reminder that was claimed for sending: one per person and lapse date, so two runs
    at once send it once, and a gift that moves the date allows a reminder for the new one."""

    __tablename__ = "lapse_reminder"
    __table_args__ = (UniqueConstraint("user_id", "lapse_at", name="uq_lapse_reminder_once_per_lapse"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    # The first instant the person stops being Sight+ if they give nothing more.
    lapse_at: Mapped[datetime]
    # The gift that, given when the reminder was sent, kept them Sight+.
    shortfall_cents: Mapped[int]
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)


class SightPlusEndedNotice(db.Model):
    """A "your Sight+ has ended" mail claimed for sending when gifts left the twelve months: one per
    person and end, so two runs at once, or a run repeated, send it once."""

    __tablename__ = "sight_plus_ended_notice"
    __table_args__ = (UniqueConstraint("user_id", "ended_at", name="uq_sight_plus_ended_notice_once_per_end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    # The instant the person stopped being Sight+.
    ended_at: Mapped[datetime]
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)


class LapseReminderOptOut(db.Model):
    """Someone who asked (with the link in a reminder) to hear no more about their Sight+ lapsing."""

    __tablename__ = "lapse_reminder_opt_out"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    opted_out_at: Mapped[datetime] = mapped_column(default=utcnow)


class StatementSent(db.Model):
    """A giving statement emailed for a financial year: one per person and year (the unique key),
    so the job can be run again after a crash, or twice at once, and nobody gets two."""

    __tablename__ = "statement_sent"
    __table_args__ = (UniqueConstraint("user_id", "financial_year", name="uq_statement_sent_once_per_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    # Named by the calendar year it ends in: 2026 is 1 July 2025 to 30 June 2026.
    financial_year: Mapped[int] = mapped_column(index=True)
    # The net of the year's gifts the statement gave.
    total_cents: Mapped[int]
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)


class SightPlusCount(db.Model):
    """How many people were Sight+ at a past instant (a month's or financial year's last), kept
    once the instant is settled, so that staff's retention page does not ask the rule again for
    every month it shows (`membership.retention`)."""

    __tablename__ = "sight_plus_count"

    at: Mapped[datetime] = mapped_column(primary_key=True)
    members: Mapped[int]
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
