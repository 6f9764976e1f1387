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
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

YEAR = timedelta(days=365)
# Times are kept to the microsecond: "no more than N days past" ends one microsecond later.
SMALLEST_STEP = timedelta(microseconds=1)


@dataclass(frozen=True)
class PaymentSeen:
    """A payment as Stripe has it: its time, its amount, and what refunds and lost disputes took back."""

    paid_at: datetime
    amount_cents: int
    taken_back_cents: int


@dataclass(frozen=True)
class AnnualGiftSeen:
    status: str
    yearly_cents: int
    period_end: datetime


@dataclass(frozen=True)
class Expected:
    member: bool
    until: datetime | None
    cents_needed: int


def net_in_last_year(payments: list[PaymentSeen], t: datetime) -> int:
    return sum(p.amount_cents - p.taken_back_cents for p in payments if t - YEAR < p.paid_at <= t)


def is_sight_plus(payments, annual_gifts, t: datetime, *, threshold: int, grace_days: int) -> bool:
    if net_in_last_year(payments, t) >= threshold:
        return True
    return any(
        gift.status in ("active", "past_due")
        and gift.yearly_cents >= threshold
        and t <= gift.period_end + timedelta(days=grace_days)
        for gift in annual_gifts
    )


def expected_at(payments, annual_gifts, t: datetime, *, threshold: int, grace_days: int) -> Expected:
    rule = dict(threshold=threshold, grace_days=grace_days)
    if not is_sight_plus(payments, annual_gifts, t, **rule):
        return Expected(False, None, max(0, threshold - net_in_last_year(payments, t)))
    # If nothing changes, membership can only end where a payment leaves the year or a grace
    # period runs out; the first of those instants at which the rule fails is "until".
    ends = {p.paid_at + YEAR for p in payments}
    ends |= {g.period_end + timedelta(days=grace_days) + SMALLEST_STEP for g in annual_gifts}
    for instant in sorted(e for e in ends if e > t):
        if not is_sight_plus(payments, annual_gifts, instant, **rule):
            return Expected(True, instant, 0)
    return Expected(True, None, 0)


def instants_worth_checking(payments, annual_gifts, now: datetime, grace_days: int) -> list[datetime]:
    """Now, and a second either side of every later instant where the answer can change."""
    edges = {p.paid_at + YEAR for p in payments}
    edges |= {g.period_end + timedelta(days=grace_days) for g in annual_gifts}
    around = {e + timedelta(seconds=s) for e in edges for s in (-1, 0, 1)}
    return sorted({now} | {t for t in around if t > now})
