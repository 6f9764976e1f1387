"""Factories for members, their gifts, annual gifts and grants, written straight to the database.

`db_session` is the tests' own session. Its reads take no lock (sight/db.py), so a test reading
the database never holds the write lock a request it makes then needs; and it keeps loaded
values after a commit. Call `fresh(db_session)` before reading what a request wrote.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

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
from sight.db import utcnow
from sight.extensions import db
from tests.helpers import create_user
from tests.membership.conftest import hidden_fields

_ids = itertools.count(1)


def days_ago(days: float) -> datetime:
    return utcnow() - timedelta(days=days)


def make_donor(session, email: str, name: str = "", *, created_at: datetime | None = None) -> Donor:
    user = create_user(session, email, password=None, name=name, created_at=created_at or utcnow())
    donor = Donor(user_id=user.id, stripe_customer_id=f"cus_test{next(_ids)}")
    session.add(donor)
    session.commit()
    return donor


def add_gift(
    session,
    donor: Donor,
    cents: int,
    paid_at: datetime,
    *,
    refunded: int = 0,
    refunded_at: datetime | None = None,
    kind: GiftKind = GiftKind.one_off,
    subscription_id: str | None = None,
) -> LedgerEntry:
    """A gift; `refunded` cents go back at `refunded_at` (by default when it was paid)."""
    entry = LedgerEntry(
        donor_id=donor.id,
        stripe_object_id=f"pi_test{next(_ids)}",
        kind=kind,
        amount_cents=cents,
        refunded_cents=refunded,
        currency="aud",
        paid_at=paid_at,
        subscription_id=subscription_id,
        customer_id=donor.stripe_customer_id,
    )
    session.add(entry)
    if refunded:
        session.add(
            LedgerAdjustment(
                entry=entry, kind=AdjustmentKind.refund, stripe_object_id=f"re_test{next(_ids)}",
                amount_cents=refunded, occurred_at=refunded_at or paid_at,
            )
        )
    session.commit()
    return entry


def add_annual(
    session,
    donor: Donor,
    cents: int,
    *,
    status: SubscriptionStatus = SubscriptionStatus.active,
    period_end: datetime | None = None,
    created_at: datetime | None = None,
    cancel_at_period_end: bool = False,
    paid: bool = True,
) -> Subscription:
    """An annual gift; `paid` (the default) as if its first invoice was paid when it started."""
    subscription = Subscription(
        donor_id=donor.id,
        stripe_subscription_id=f"sub_test{next(_ids)}",
        status=status,
        yearly_amount_cents=cents,
        currency="aud",
        current_period_end=period_end or utcnow() + timedelta(days=200),
        cancel_at_period_end=cancel_at_period_end,
        created_at=created_at or utcnow(),
        started_at=created_at or utcnow(),
        first_paid_at=(created_at or utcnow()) if paid else None,
    )
    session.add(subscription)
    session.commit()
    return subscription


def add_grant(
    session,
    user_id: int,
    starts_at: datetime,
    ends_at: datetime,
    *,
    reason: str = "Contributor",
    revoked_at: datetime | None = None,
) -> ComplimentaryGrant:
    grant = ComplimentaryGrant(
        user_id=user_id, reason=reason, starts_at=starts_at, ends_at=ends_at, revoked_at=revoked_at
    )
    session.add(grant)
    session.commit()
    return grant


@pytest.fixture
def db_session(app):
    # No app context stays pushed: a request would share it, and with it one db.session for
    # the whole test.
    with app.app_context():
        engine = db.engine
    session = Session(engine, expire_on_commit=False)
    yield session
    session.close()


def fresh(session: Session) -> Session:
    """End the session's snapshot and forget what it loaded, to read what requests wrote since."""
    session.rollback()
    session.expire_all()
    return session


def at(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


PREFIXED_CSRF = re.compile(r'name="(?:[\w-]+-)?csrf_token"[^>]*value="([^"]+)"')


def submit(client, url: str, data: dict, *, page_url: str):
    """Post a form of the page at page_url with its CSRF token (these forms carry a prefix)."""
    page = client.get(page_url).get_data(as_text=True)
    match = PREFIXED_CSRF.search(page)
    assert match, "the page has no CSRF token"
    # The form's hidden fields too (a grant form carries the version of the member it showed).
    action = url.rsplit("/", 1)[1]
    hidden = hidden_fields(page, action) if f'/{action}"' in page else {}
    return client.post(url, data={**hidden, **data, "csrf_token": match.group(1)})
