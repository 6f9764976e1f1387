"""The Sight+ rule written in SQL (`membership.status.sight_plus_ids_at`, which the dashboard counts and
the members list filters with) names exactly the people the Python rule calls Sight+, for random
ledgers, annual gifts and grants, at random instants and at the instants where answers change."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from accounts.models import Role, User
from membership.context import Settings
from membership.models import (
    AdjustmentKind,
    ComplimentaryGrant,
    Donor,
    GiftKind,
    LedgerAdjustment,
    LedgerEntry,
    Subscription,
    SubscriptionStatus,
)
from membership.rules import RESOLUTION, WINDOW
from membership.status import as_grant, covered_by_a_grant_at, giving_of, sight_plus_ids_at

_ids = itertools.count(1)

instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
spans = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=800))


@st.composite
def ledger_entries(draw):
    """(paid_at, cents, [(when, cents, kind) taken back]): refunds and lost disputes at random
    times after the payment, never more than was paid."""
    amount = draw(st.integers(min_value=1, max_value=6_000))
    paid_at = draw(instants)
    taken_back, left = [], amount
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        if left == 0:
            break
        cents = draw(st.integers(min_value=1, max_value=left))
        taken_back.append((paid_at + draw(spans), cents, draw(st.sampled_from(list(AdjustmentKind)))))
        left -= cents
    return paid_at, amount, taken_back


@st.composite
def annual_gifts(draw):
    """An annual gift in any of Stripe's statuses, ended or not, started or not known to have,
    never paid (a failed 3-D Secure check, a card declined) or first paid at some time."""
    started_at = draw(st.none() | instants)
    base = started_at or draw(instants)
    return dict(
        status=draw(st.sampled_from(list(SubscriptionStatus))),
        yearly_amount_cents=draw(st.integers(min_value=500, max_value=6_000)),
        current_period_end=base + draw(spans) - draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30))),
        started_at=started_at,
        ended_at=draw(st.none() | spans.map(lambda d: base + d + RESOLUTION)),
        first_paid_at=draw(st.none() | spans.map(lambda d: base + d)),
    )


@st.composite
def grants(draw):
    starts_at = draw(instants)
    ends_at = starts_at + draw(spans) + RESOLUTION
    revoked_at = draw(st.none() | instants | st.sampled_from([starts_at, ends_at]))
    return dict(starts_at=starts_at, ends_at=ends_at, revoked_at=revoked_at)


def store(session, person, grace: timedelta) -> set[datetime]:
    """One person with their giving, flushed (the caller rolls back); and the instants where
    the rule's answer for them can change, to ask about exactly there and a microsecond before."""
    entries, annual, grant_rows = person
    n = next(_ids)
    user = User(email=f"person{n}@example.com", name=f"Person {n}", role=Role.reader)
    session.add(user)
    session.flush()
    donor = Donor(user_id=user.id, stripe_customer_id=f"cus_sql{n}")
    session.add(donor)
    session.flush()
    edges = set()
    for paid_at, amount, taken_back in entries:
        entry = LedgerEntry(
            donor_id=donor.id, stripe_object_id=f"pi_sql{next(_ids)}", kind=GiftKind.one_off,
            amount_cents=amount, refunded_cents=sum(c for _, c, _ in taken_back),
            dispute_lost_cents=sum(c for _, c, kind in taken_back if kind is AdjustmentKind.dispute_lost),
            currency="aud", paid_at=paid_at,
        )
        session.add(entry)
        for when, cents, kind in taken_back:
            entry.adjustments.append(
                LedgerAdjustment(kind=kind, stripe_object_id=f"re_sql{next(_ids)}",
                                 amount_cents=cents, occurred_at=when)
            )
            edges.add(when)
        edges |= {paid_at, paid_at + WINDOW}
    for gift in annual:
        session.add(Subscription(donor_id=donor.id, stripe_subscription_id=f"sub_sql{next(_ids)}",
                                 currency="aud", **gift))
        edges |= {t for t in (gift["started_at"], gift["ended_at"], gift["first_paid_at"]) if t is not None}
        # The last instant of the grace period, and the first after it (`AnnualGift.end`).
        edges |= {gift["current_period_end"] + grace, gift["current_period_end"] + grace + RESOLUTION}
    for grant in grant_rows:
        session.add(ComplimentaryGrant(user_id=user.id, reason="Contributor", **grant))
        edges |= {t for t in grant.values() if t is not None}
    session.flush()
    return edges


people = st.lists(
    st.tuples(
        st.lists(ledger_entries(), max_size=4),
        st.lists(annual_gifts(), max_size=2),
        st.lists(grants(), max_size=2),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    everyone=people,
    # 0: the rule's gifts never hold with a threshold of nothing, and the SQL agrees.
    threshold=st.sampled_from([2600, 1, 0]) | st.integers(min_value=0, max_value=12_000),
    grace_days=st.sampled_from([14, 0]) | st.integers(min_value=0, max_value=30),
    moments=st.lists(instants, min_size=1, max_size=3),
)
def test_the_sql_rule_names_exactly_whom_the_rule_calls_sight_plus(db_session, everyone, threshold, grace_days, moments):
    """At random instants and at every instant where an answer can change (and 1 µs before)."""
    rules = Settings("aud", threshold, grace_days, 500, 1_000_000)
    try:
        edges = set(moments)
        for person in everyone:
            edges |= store(db_session, person, timedelta(days=grace_days))
        db_session.expire_all()  # the rule reads what the database holds, not what was added
        giving = giving_of(db_session, db_session.scalars(select(User.id)))
        for t in sorted(edges | {t - RESOLUTION for t in edges}):
            members = {user_id for user_id, own in giving.items() if own.status(t, rules).is_member}
            assert set(db_session.scalars(sight_plus_ids_at(t, rules))) == members, t
            covered = {
                user_id for user_id, own in giving.items()
                if any(g.starts_at <= t < g.effective_end for g in map(as_grant, own.grants))
            }
            assert set(db_session.scalars(covered_by_a_grant_at(t))) == covered, t
    finally:
        db_session.rollback()
