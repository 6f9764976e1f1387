"""What a donor sees of their membership over time: the next thing that will happen to it (one
sentence on the account page), and the periods they have been Sight+.

Both come from the one Sight+ rule (`membership.rules`) applied to what `membership.status` loads;
nothing here is stored."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from membership.context import Settings
from membership.lapse import coming_lapse
from membership.models import SubscriptionStatus
from membership.status import Giving, as_annual, as_grant, giving_of


class Next(enum.Enum):
    # Not Sight+: what more to give to join.
    join = "join"
    # An annual gift renews on `at` for `cents`, which keeps them Sight+.
    renewal = "renewal"
    # Sight+ through one-off gifts ends at `at` unless they give `cents` (or more) before then.
    lapse = "lapse"
    # A complimentary membership ends at `at`.
    grant_ends = "grant_ends"
    # Sight+ ends at `at` (an annual gift that will not renew) unless they give again.
    ends = "ends"


@dataclass(frozen=True)
class NextEvent:
    kind: Next
    at: datetime | None = None
    cents: int | None = None


def next_event(giving: Giving, now: datetime, settings: Settings) -> NextEvent:
    status = giving.status(now, settings)
    if not status.is_member:
        return NextEvent(Next.join, cents=status.cents_needed)
    for subscription in giving.subscriptions:
        renews = subscription.status is SubscriptionStatus.active and (
            not subscription.cancel_at_period_end or subscription.pending_amount_cents is not None
        )
        amount = subscription.pending_amount_cents or subscription.yearly_amount_cents
        # Only a renewal that keeps them Sight+ is the next thing for their membership.
        if (renews and as_annual(subscription).counts_at(now) and subscription.current_period_end > now
                and amount >= settings.threshold_cents):
            return NextEvent(Next.renewal, subscription.current_period_end, amount)
    lapse = coming_lapse(giving, now, settings)
    if lapse is not None:
        return NextEvent(Next.lapse, lapse.lapse_at, lapse.suggested_cents)
    if any(as_grant(grant).effective_end == status.until for grant in giving.grants):
        return NextEvent(Next.grant_ends, status.until)
    return NextEvent(Next.ends, status.until)


@dataclass(frozen=True)
class Period:
    starts_at: datetime
    # The first instant they were no longer Sight+; for the current period, when it ends if nothing changes.
    ends_at: datetime
    current: bool = False


def _changes(giving: Giving) -> set[datetime]:
    """The instants at which what the rule reads changes: a gift, a refund or lost dispute, an annual
    gift starting or ending, a grant starting or revoked. Between them, membership only ends where
    the rule said it would (`until`)."""
    instants = set()
    for entry in giving.entries:
        instants.add(entry.paid_at)
        instants.update(adjustment.occurred_at for adjustment in entry.adjustments)
    for subscription in giving.subscriptions:
        instants.add(subscription.started_at or subscription.created_at)
        if subscription.ended_at is not None:
            instants.add(subscription.ended_at)
    for grant in giving.grants:
        instants.add(grant.starts_at)
        if grant.revoked_at is not None:
            instants.add(grant.revoked_at)
    return instants


def sight_plus_periods(giving: Giving, now: datetime, settings: Settings) -> list[Period]:
    """Each period the person was (or is) Sight+, oldest first; periods that meet are one."""
    periods: list[Period] = []
    start: datetime | None = None
    end: datetime | None = None

    def close(at: datetime) -> None:
        periods.append(Period(start, at))

    for t in sorted(i for i in _changes(giving) if i <= now):
        if start is not None and end <= t:
            close(end)
            start = None
        status = giving.status(t, settings)
        if status.is_member:
            if start is None:
                # A period that begins the instant the last one ended carries it on.
                start = periods.pop().starts_at if periods and periods[-1].ends_at == t else t
            end = status.until
        elif start is not None:
            close(t)
            start = None
    if start is not None:
        if end <= now:
            close(end)
        else:
            periods.append(Period(start, end, current=True))
    return periods


@dataclass(frozen=True)
class Outlook:
    next: NextEvent
    # Newest first, as the account page lists them.
    periods: list[Period]


def outlook_of(session: Session, user_id: int, now: datetime, settings: Settings) -> Outlook:
    giving = giving_of(session, [user_id])[user_id]
    return Outlook(next_event(giving, now, settings), sight_plus_periods(giving, now, settings)[::-1])
