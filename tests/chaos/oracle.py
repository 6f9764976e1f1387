"""The Sight+ rule of DESIGN.md, written again from its text, for the chaos replay to check against.

It shares no code with `membership/` and is built differently on purpose: membership is
decided by testing the rule's three sentences at an instant, and "until when" by trying
every instant at which a sentence can stop holding, in order.

    A donor is Sight+ at time t when any of these holds:
    1. the net of their ledger entries with t − 365 days < paid_at ≤ t is at least
       SIGHT_PLUS_THRESHOLD_CENTS;
    2. they have an annual recurring gift whose subscription is active or past_due in Stripe
       and whose yearly amount is at least the threshold, and t is no more than
       SIGHT_PLUS_GRACE_DAYS past the end of its current period;
    3. staff have granted a complimentary membership covering t.
    Net = amount − refunded; refunds and lost disputes add to refunded.
    "Was X Sight+ at t?" uses only what was true at t: an annual gift counts from its start,
    a refund from its time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

YEAR = timedelta(days=365)
# Times are kept to the microsecond: "no more than N days past" ends one microsecond later.
SMALLEST_STEP = timedelta(microseconds=1)


@dataclass(frozen=True)
class PaymentSeen:
    """A payment as Stripe has it: its time, its amount, and each refund and lost dispute as (when, cents)."""

    paid_at: datetime
    amount_cents: int
    taken_back: tuple[tuple[datetime, int], ...]

    def net_at(self, t: datetime) -> int:
        return max(0, self.amount_cents - sum(cents for when, cents in self.taken_back if when <= t))


@dataclass(frozen=True)
class AnnualGiftSeen:
    status: str
    yearly_cents: int
    period_end: datetime
    started_at: datetime
    ended_at: datetime | None

    def in_force_at(self, t: datetime) -> bool:
        """Stripe said active or past_due at t: from its start, and until it ended if it has."""
        if t < self.started_at:
            return False
        return t < self.ended_at if self.ended_at else self.status in ("active", "past_due")


@dataclass(frozen=True)
class Expected:
    member: bool
    until: datetime | None
    cents_needed: int


def net_in_last_year(payments: list[PaymentSeen], t: datetime) -> int:
    return sum(p.net_at(t) for p in payments if t - YEAR < p.paid_at <= t)


def is_sight_plus(payments, annual_gifts, t: datetime, *, threshold: int, grace_days: int) -> bool:
    if net_in_last_year(payments, t) >= threshold:
        return True
    return any(
        gift.in_force_at(t)
        and gift.yearly_cents >= threshold
        and t <= gift.period_end + timedelta(days=grace_days)
        for gift in annual_gifts
    )


def as_known_at(t: datetime, payments, annual_gifts):
    """Only what had happened by t: the answer for t must not lean on anything later."""
    payments = [
        PaymentSeen(p.paid_at, p.amount_cents, tuple((w, c) for w, c in p.taken_back if w <= t))
        for p in payments
        if p.paid_at <= t
    ]
    annual_gifts = [
        g if g.ended_at is None or g.ended_at <= t else AnnualGiftSeen("active", g.yearly_cents, g.period_end, g.started_at, None)
        for g in annual_gifts
        if g.started_at <= t
    ]
    return payments, annual_gifts


def expected_at(payments, annual_gifts, t: datetime, *, threshold: int, grace_days: int) -> Expected:
    """Sight+ at t, and until when and how much more, as they stood at t."""
    payments, annual_gifts = as_known_at(t, payments, annual_gifts)
    rule = dict(threshold=threshold, grace_days=grace_days)
    if not is_sight_plus(payments, annual_gifts, t, **rule):
        return Expected(False, None, max(0, threshold - net_in_last_year(payments, t)))
    # If nothing changes, membership can only end where a payment leaves the year or a grace
    # period runs out; the first of those instants at which the rule fails is "until".
    ends = {p.paid_at + YEAR for p in payments} | {when for p in payments for when, _ in p.taken_back}
    ends |= {g.period_end + timedelta(days=grace_days) + SMALLEST_STEP for g in annual_gifts}
    ends |= {g.ended_at for g in annual_gifts if g.ended_at}
    for instant in sorted(e for e in ends if e > t):
        if not is_sight_plus(payments, annual_gifts, instant, **rule):
            return Expected(True, instant, 0)
    return Expected(True, None, 0)


def instants_worth_checking(payments, annual_gifts, now: datetime, grace_days: int) -> list[datetime]:
    """Now, and a second either side of every instant, past or to come, where the answer can change."""
    edges = {p.paid_at for p in payments} | {p.paid_at + YEAR for p in payments}
    edges |= {when for p in payments for when, _ in p.taken_back}
    edges |= {g.started_at for g in annual_gifts} | {g.ended_at for g in annual_gifts if g.ended_at}
    edges |= {g.period_end + timedelta(days=grace_days) for g in annual_gifts}
    around = {e + timedelta(seconds=s) for e in edges for s in (-1, 0, 1)}
    return sorted({now} | around)
