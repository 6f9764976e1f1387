"""The one way to ask "is this person Sight+?": load what the rule needs for a batch of people
in a fixed number of queries, then apply the pure rule of `membership.rules` to each.

For counting and filtering everyone at once (the dashboard, the members list), `sight_plus_ids_at`
asks the same question in SQL; a property test holds it equal to the rule."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import CompoundSelect, Select, and_, case, func, or_, select, union
from sqlalchemy.orm import Session, selectinload

from membership.context import Settings
from membership.models import (
    ComplimentaryGrant,
    Donor,
    LedgerAdjustment,
    LedgerEntry,
    Subscription,
    SubscriptionStatus,
)
from membership.rules import (
    COUNTING_STATUSES,
    WINDOW,
    AnnualGift,
    Gift,
    Grant,
    SightPlusStatus,
    last_ended,
    sight_plus_status,
)

# Ids per IN (...) list: well under every database's limit on bound parameters.
BATCH = 500


def as_gift(entry: LedgerEntry) -> Gift:
    taken_back = tuple((a.occurred_at, a.amount_cents) for a in entry.adjustments)
    return Gift(entry.stripe_object_id, entry.paid_at, entry.amount_cents, taken_back)


def as_annual(subscription: Subscription) -> AnnualGift:
    return AnnualGift(
        subscription.stripe_subscription_id,
        subscription.status.value,
        subscription.yearly_amount_cents,
        subscription.current_period_end,
        subscription.started_at,
        subscription.ended_at,
        subscription.first_paid_at,
    )


def as_grant(grant: ComplimentaryGrant) -> Grant:
    return Grant(grant.starts_at, grant.ends_at, grant.revoked_at)


@dataclass
class Giving:
    """Everything the rule reads about one person: gifts oldest first, annual gifts with the latest
    period end first."""

    donor: Donor | None = None
    entries: list[LedgerEntry] = field(default_factory=list)
    subscriptions: list[Subscription] = field(default_factory=list)
    grants: list[ComplimentaryGrant] = field(default_factory=list)

    def status(self, t: datetime, settings: Settings) -> SightPlusStatus:
        return sight_plus_status(
            map(as_gift, self.entries),
            map(as_annual, self.subscriptions),
            map(as_grant, self.grants),
            t,
            threshold_cents=settings.threshold_cents,
            grace_days=settings.grace_days,
        )


def giving_of(session: Session, user_ids: Iterable[int]) -> dict[int, Giving]:
    """Each person's giving, five queries per batch of people however many gifts they made."""
    ids = list(dict.fromkeys(user_ids))
    result = {user_id: Giving() for user_id in ids}
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        donors = {d.id: d for d in session.scalars(select(Donor).where(Donor.user_id.in_(batch)))}
        for donor in donors.values():
            result[donor.user_id].donor = donor
        for entry in session.scalars(
            select(LedgerEntry)
            .options(selectinload(LedgerEntry.adjustments))
            .where(LedgerEntry.donor_id.in_(list(donors)))
            .order_by(LedgerEntry.paid_at, LedgerEntry.id)
        ):
            result[donors[entry.donor_id].user_id].entries.append(entry)
        for subscription in session.scalars(
            select(Subscription)
            .where(Subscription.donor_id.in_(list(donors)))
            .order_by(Subscription.current_period_end.desc(), Subscription.id.desc())
        ):
            result[donors[subscription.donor_id].user_id].subscriptions.append(subscription)
        for grant in session.scalars(
            select(ComplimentaryGrant).where(ComplimentaryGrant.user_id.in_(batch))
        ):
            result[grant.user_id].grants.append(grant)
    return result


def sight_plus_statuses(
    session: Session, user_ids: Iterable[int], t: datetime, *, settings: Settings
) -> dict[int, SightPlusStatus]:
    """Each person's Sight+ status at `t`, for the member page, the members list, the dashboard
    and `sight_plus_ids_at` alike."""
    return {user_id: giving.status(t, settings) for user_id, giving in giving_of(session, user_ids).items()}


def sight_plus_status_of(session: Session, user_id: int, t: datetime, *, settings: Settings) -> SightPlusStatus:
    return sight_plus_statuses(session, [user_id], t, settings=settings)[user_id]


def sight_plus_ended_at(session: Session, user_id: int, t: datetime, *, settings: Settings) -> datetime | None:
    """When this person's Sight+ last ended (None while they are Sight+, or if they never were)."""
    giving = giving_of(session, [user_id])[user_id]
    return last_ended(
        map(as_gift, giving.entries),
        map(as_annual, giving.subscriptions),
        map(as_grant, giving.grants),
        t,
        threshold_cents=settings.threshold_cents,
        grace_days=settings.grace_days,
    )


# --- the same rule in SQL, for everyone at once ------------------------------------------------


def covered_by_a_grant_at(t: datetime) -> Select:
    """Ids of the people a complimentary grant covers at t (rule 3): started by t, not yet ended,
    and not revoked by t. A grant revoked before it started never covers anyone, as in the rule."""
    return select(ComplimentaryGrant.user_id).where(
        ComplimentaryGrant.starts_at <= t,
        ComplimentaryGrant.ends_at > t,
        or_(ComplimentaryGrant.revoked_at.is_(None), ComplimentaryGrant.revoked_at > t),
    )


def _through_gifts_at(t: datetime, threshold_cents: int) -> Select:
    """Rule 1: the net of gifts paid in (t - 365 days, t], each net of what was taken back by t
    (never below nothing), reaches the threshold. Stripe object ids are unique in the ledger, so
    each row is one gift."""
    taken_back = (
        select(LedgerAdjustment.entry_id, func.sum(LedgerAdjustment.amount_cents).label("cents"))
        .where(LedgerAdjustment.occurred_at <= t)
        .group_by(LedgerAdjustment.entry_id)
        .subquery()
    )
    taken = func.coalesce(taken_back.c.cents, 0)
    net = case((taken >= LedgerEntry.amount_cents, 0), else_=LedgerEntry.amount_cents - taken)
    return (
        select(Donor.user_id)
        .join(LedgerEntry, LedgerEntry.donor_id == Donor.id)
        .outerjoin(taken_back, taken_back.c.entry_id == LedgerEntry.id)
        .where(LedgerEntry.paid_at > t - WINDOW, LedgerEntry.paid_at <= t)
        .group_by(Donor.user_id)
        .having(func.sum(net) >= threshold_cents)
    )


def _through_an_annual_gift_at(t: datetime, threshold_cents: int, grace_days: int) -> Select:
    """Rule 2: an annual gift of at least the threshold that counts at t (first paid and started by
    t; before its end if it ended, else in a status that counts), with t no later than its period
    end plus grace (`AnnualGift.end` is that instant plus 1 µs, exclusive)."""
    counting = [SubscriptionStatus(status) for status in sorted(COUNTING_STATUSES)]
    return (
        select(Donor.user_id)
        .join(Subscription, Subscription.donor_id == Donor.id)
        .where(
            Subscription.yearly_amount_cents >= threshold_cents,
            Subscription.current_period_end >= t - timedelta(days=grace_days),
            Subscription.first_paid_at <= t,
            or_(Subscription.started_at.is_(None), Subscription.started_at <= t),
            or_(
                and_(Subscription.ended_at.is_(None), Subscription.status.in_(counting)),
                Subscription.ended_at > t,
            ),
        )
    )


def sight_plus_ids_at(t: datetime, settings: Settings) -> CompoundSelect:
    """Ids of everyone Sight+ at t, each once: `sight_plus_status(...).is_member` for all at once."""
    rules = [
        _through_an_annual_gift_at(t, settings.threshold_cents, settings.grace_days),
        covered_by_a_grant_at(t),
    ]
    # The rule's gifts never hold with a threshold of nothing (`rules._gifts_until`).
    if settings.threshold_cents > 0:
        rules.insert(0, _through_gifts_at(t, settings.threshold_cents))
    return union(*rules)
