"""The account page's next thing that happens to a membership, and the periods someone was Sight+."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from accounts.models import User
from membership.context import context_for
from membership.outlook import Next, Period, outlook_of
from membership.models import SubscriptionStatus
from sight.db import utcnow
from sight.extensions import db
from tests.helpers import sign_in_as
from tests.membership.staff.conftest import add_annual, add_gift, add_grant, at, db_session, make_donor  # noqa: F401

ZONE = ZoneInfo("Australia/Sydney")
T0 = at(2026, 3, 1, 1)
YEAR = timedelta(days=365)


def day(n: int):
    return T0 + timedelta(days=n)


def outlook(app, donor, now):
    with app.app_context():
        return outlook_of(db.session, donor.user_id, now, context_for(app).settings)


def test_periods_follow_gifts_refunds_and_grants(app, db_session):
    donor = make_donor(db_session, "periods@example.com")
    add_gift(db_session, donor, 2600, day(0))
    add_gift(db_session, donor, 2600, day(300))  # carries the first period on: one period to day 665
    add_gift(db_session, donor, 3000, day(800), refunded=3000, refunded_at=day(850))  # Sight+ only until the refund
    add_grant(db_session, donor.user_id, day(900), day(950))
    add_gift(db_session, donor, 2600, day(949))  # starts inside the grant: one period from 900 to 949 + a year

    assert outlook(app, donor, day(1000)).periods == [
        Period(day(900), day(949) + YEAR, current=True),
        Period(day(800), day(850)),
        Period(day(0), day(300) + YEAR),
    ]
    assert outlook(app, donor, day(400)).periods == [Period(day(0), day(300) + YEAR, current=True)]
    assert outlook(app, donor, day(700)).periods == [Period(day(0), day(300) + YEAR)]
    nobody = make_donor(db_session, "nobody@example.com")
    add_gift(db_session, nobody, 1000, day(0))
    assert outlook(app, nobody, day(10)).periods == []


def test_the_next_thing_is_a_renewal_a_lapse_a_grant_ending_or_the_end(app, db_session):
    annual = make_donor(db_session, "annual@example.com")
    add_annual(db_session, annual, 5000, period_end=day(200), created_at=day(0))
    assert outlook(app, annual, day(10)).next.kind is Next.renewal
    assert (outlook(app, annual, day(10)).next.at, outlook(app, annual, day(10)).next.cents) == (day(200), 5000)

    ending = make_donor(db_session, "ending@example.com")
    add_annual(db_session, ending, 5000, period_end=day(200), created_at=day(0), cancel_at_period_end=True)
    assert outlook(app, ending, day(10)).next.kind is Next.ends

    gifts = make_donor(db_session, "gifts@example.com")
    add_gift(db_session, gifts, 2000, day(0))
    add_gift(db_session, gifts, 1000, day(50))
    upcoming = outlook(app, gifts, day(60)).next
    assert (upcoming.kind, upcoming.at, upcoming.cents) == (Next.lapse, day(365), 1600)

    granted = make_donor(db_session, "granted@example.com")
    add_grant(db_session, granted.user_id, day(0), day(90))
    upcoming = outlook(app, granted, day(10)).next
    assert (upcoming.kind, upcoming.at) == (Next.grant_ends, day(90))

    failing = make_donor(db_session, "failing@example.com")
    add_annual(db_session, failing, 5000, status=SubscriptionStatus.past_due, period_end=day(200), created_at=day(0))
    assert outlook(app, failing, day(201)).next.kind is Next.ends

    small = make_donor(db_session, "small@example.com")
    add_gift(db_session, small, 1000, day(0))
    upcoming = outlook(app, small, day(1)).next
    assert (upcoming.kind, upcoming.cents) == (Next.join, 1600)


def sign_in(app, client, donor):
    with app.app_context():
        sign_in_as(client, db.session.get(User, donor.user_id))


def written(moment) -> str:
    return f"{moment.astimezone(ZONE):%-d %B %Y}"


def test_the_account_page_says_what_happens_next_and_lists_the_periods(app, client, db_session):
    now = utcnow()
    donor = make_donor(db_session, "page@example.com")
    add_gift(db_session, donor, 2600, now - timedelta(days=700))
    add_annual(db_session, donor, 5000, period_end=now + timedelta(days=40), created_at=now - timedelta(days=100))
    sign_in(app, client, donor)
    html = client.get("/account").get_data(as_text=True)
    assert f"Your annual gift renews on {written(now + timedelta(days=40))} for $50, and keeps you Sight+." in html
    rows = re.findall(r"<tr><td>([^<]+)</td>\s*<td>([^<]+)</td></tr>", html)
    assert rows == [
        (written(now - timedelta(days=100)), f"now (until {written(now + timedelta(days=54))} unless something changes)"),
        (written(now - timedelta(days=700)), written(now - timedelta(days=335))),
    ]


def test_a_member_through_a_grant_reads_when_it_ends(app, client, db_session):
    now = utcnow()
    donor = make_donor(db_session, "grant-page@example.com")
    add_grant(db_session, donor.user_id, now - timedelta(days=1), now + timedelta(days=30))
    sign_in(app, client, donor)
    html = client.get("/account").get_data(as_text=True)
    assert f"Your complimentary Sight+ ends on {written(now + timedelta(days=30))}." in html
