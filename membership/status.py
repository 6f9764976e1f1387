"""The one way to ask "is this person Sight+?": load what the rule needs for a batch of people
in a fixed number of queries, then apply the pure rule of `membership.rules` to each."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from membership.context import Settings
from membership.models import ComplimentaryGrant, Donor, LedgerEntry, Subscription
from membership.rules import AnnualGift, Gift, Grant, SightPlusStatus, sight_plus_status

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
    and `sight_plus_at` alike."""
    return {user_id: giving.status(t, settings) for user_id, giving in giving_of(session, user_ids).items()}


def sight_plus_status_of(session: Session, user_id: int, t: datetime, *, settings: Settings) -> SightPlusStatus:
    return sight_plus_statuses(session, [user_id], t, settings=settings)[user_id]
