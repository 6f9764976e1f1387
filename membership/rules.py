"""The Sight+ rule, as a pure function of (ledger entries, annual gifts, grants, t).

A donor is Sight+ at time t when any of these holds (DESIGN.md, "Sight+"):
1. the net of their gifts with t - 365 days < paid_at <= t is at least the threshold;
2. an annual gift that Stripe says is active or past_due, whose first invoice was paid by t, of
   at least the threshold a year, and t is no more than the grace period past the end of its
   current period (a subscription that never paid grants nothing, at any instant);
3. a complimentary grant, not revoked by t, covers t.

Nothing here reads the database, the clock or the app: callers pass plain values in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

WINDOW = timedelta(days=365)
# Datetimes have microsecond resolution, so "t <= x" is exactly "t < x + 1 µs"; with it every
# rule ends at an exclusive instant and `until` means the same thing whichever rule gave it.
RESOLUTION = timedelta(microseconds=1)
COUNTING_STATUSES = frozenset({"active", "past_due"})


@dataclass(frozen=True)
class Gift:
    """A ledger entry: `key` is its Stripe object id, so a repeated entry counts once.
    `taken_back` holds each refund and lost dispute as (when, cents)."""

    key: str
    paid_at: datetime
    amount_cents: int
    taken_back: tuple[tuple[datetime, int], ...] = ()

    def net_at(self, t: datetime) -> int:
        """The net as it stood at t: only what was taken back by then counts."""
        return self.amount_cents - min(self.amount_cents, sum(cents for at, cents in self.taken_back if at <= t))


@dataclass(frozen=True)
class AnnualGift:
    key: str
    status: str
    yearly_amount_cents: int
    current_period_end: datetime
    # Stripe's start_date and ended_at: the gift counts from its start and, once it has ended,
    # only before its end (when its status was still one that counts).
    started_at: datetime | None = None
    ended_at: datetime | None = None
    # When its first invoice was paid; None: never paid, so it never counts.
    first_paid_at: datetime | None = None

    def counts_at(self, t: datetime) -> bool:
        if self.first_paid_at is None or t < self.first_paid_at:
            return False
        if self.started_at is not None and t < self.started_at:
            return False
        if self.ended_at is not None:
            return t < self.ended_at
        return self.status in COUNTING_STATUSES

    def end(self, grace: timedelta) -> datetime:
        """The first instant it no longer counts if nothing changes (an end still to come is a change)."""
        return self.current_period_end + grace + RESOLUTION


@dataclass(frozen=True)
class Grant:
    starts_at: datetime
    ends_at: datetime
    revoked_at: datetime | None = None

    @property
    def effective_end(self) -> datetime:
        if self.revoked_at is not None and self.revoked_at < self.ends_at:
            return max(self.revoked_at, self.starts_at)
        return self.ends_at


@dataclass(frozen=True)
class SightPlusStatus:
    is_member: bool
    # The first instant at which the donor stops being Sight+ if nothing changes (None if not a member).
    until: datetime | None
    # How much more to give now to become Sight+ through gifts (0 for members).
    cents_needed: int
    # Net of the gifts in the last 365 days.
    cents_in_window: int
    threshold_cents: int
    # "gifts", "annual_gift", "complimentary" or "none": the rule that holds (first in that order).
    reason: str


def _unique_gifts(gifts: Iterable[Gift]) -> list[Gift]:
    """The same Stripe object seen twice is one gift; refunds only grow, so keep the one that knows most."""
    by_key: dict[str, Gift] = {}
    for gift in gifts:
        seen = by_key.get(gift.key)
        if seen is None or len(gift.taken_back) > len(seen.taken_back):
            by_key[gift.key] = gift
    return sorted(by_key.values(), key=lambda g: (g.paid_at, g.key))


def _gifts_until(window: list[Gift], t: datetime, threshold_cents: int) -> datetime | None:
    """When the gifts now in the window stop adding up to the threshold: the oldest drop out first."""
    remaining = sum(g.net_at(t) for g in window)
    if remaining < threshold_cents:
        return None
    for gift in window:
        remaining -= gift.net_at(t)
        if remaining < threshold_cents:
            return gift.paid_at + WINDOW
    return None  # only reached with a threshold of 0 or less: never lapses


def sight_plus_status(
    gifts: Iterable[Gift],
    annual_gifts: Iterable[AnnualGift],
    grants: Iterable[Grant],
    t: datetime,
    *,
    threshold_cents: int,
    grace_days: int,
) -> SightPlusStatus:
    gifts = [g for g in _unique_gifts(gifts) if t - WINDOW < g.paid_at <= t]
    annual_gifts = list(annual_gifts)
    grants = list(grants)
    in_window = sum(g.net_at(t) for g in gifts)
    grace = timedelta(days=grace_days)

    # (reason, exclusive end) for each rule that holds at t.
    holding: list[tuple[str, datetime]] = []
    gifts_end = _gifts_until(gifts, t, threshold_cents)
    if gifts_end is not None:
        holding.append(("gifts", gifts_end))
    for annual in annual_gifts:
        end = annual.end(grace)
        if annual.counts_at(t) and annual.yearly_amount_cents >= threshold_cents and t < end:
            holding.append(("annual_gift", end))
    for grant in grants:
        if grant.starts_at <= t < grant.effective_end:
            holding.append(("complimentary", grant.effective_end))

    if not holding:
        return SightPlusStatus(
            is_member=False,
            until=None,
            cents_needed=max(0, threshold_cents - in_window),
            cents_in_window=in_window,
            threshold_cents=threshold_cents,
            reason="none",
        )

    until = max(end for _, end in holding)
    # A grant that starts before the membership lapses carries it on without a gap.
    extended = True
    while extended:
        extended = False
        for grant in grants:
            if grant.starts_at <= until < grant.effective_end:
                until = grant.effective_end
                extended = True
    return SightPlusStatus(
        is_member=True,
        until=until,
        cents_needed=0,
        cents_in_window=in_window,
        threshold_cents=threshold_cents,
        reason=holding[0][0],
    )


def last_ended(
    gifts: Iterable[Gift],
    annual_gifts: Iterable[AnnualGift],
    grants: Iterable[Grant],
    t: datetime,
    *,
    threshold_cents: int,
    grace_days: int,
) -> datetime | None:
    """When the donor's Sight+ last ended, at or before t (None if they are Sight+ at t or never
    were). An answer only turns to No where a gift leaves the window, something is taken back, an
    annual gift ends or lapses, or a grant ends, so those are the only instants that need checking."""
    gifts, annual_gifts, grants = list(gifts), list(annual_gifts), list(grants)
    rules = {"threshold_cents": threshold_cents, "grace_days": grace_days}
    if sight_plus_status(gifts, annual_gifts, grants, t, **rules).is_member:
        return None
    grace = timedelta(days=grace_days)
    endings = {g.paid_at + WINDOW for g in gifts} | {at for g in gifts for at, _ in g.taken_back}
    endings |= {a.end(grace) for a in annual_gifts} | {a.ended_at for a in annual_gifts if a.ended_at}
    endings |= {g.effective_end for g in grants}
    for end in sorted((e for e in endings if e <= t), reverse=True):
        if sight_plus_status(gifts, annual_gifts, grants, end - RESOLUTION, **rules).is_member and not (
            sight_plus_status(gifts, annual_gifts, grants, end, **rules).is_member
        ):
            return end
    return None


def was_member_on(
    gifts: Iterable[Gift],
    annual_gifts: Iterable[AnnualGift],
    grants: Iterable[Grant],
    day: date,
    zone: tzinfo,
    *,
    threshold_cents: int,
    grace_days: int,
) -> bool:
    """Whether the donor was Sight+ at any moment of `day` (a calendar day in `zone`).

    Membership only begins at the start of the day, when a gift is paid, an annual gift
    starts or is first paid, or a grant starts, so those are the only instants that need checking.
    """
    gifts, annual_gifts, grants = list(gifts), list(annual_gifts), list(grants)
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    instants = {start}
    instants.update(g.paid_at for g in gifts if start <= g.paid_at < end)
    instants.update(
        moment for a in annual_gifts for moment in (a.started_at, a.first_paid_at) if moment and start <= moment < end
    )
    instants.update(g.starts_at for g in grants if start <= g.starts_at < end)
    return any(
        sight_plus_status(
            gifts, annual_gifts, grants, t, threshold_cents=threshold_cents, grace_days=grace_days
        ).is_member
        for t in instants
    )
