"""Words a donor (and staff) read: an ex-member is told when Sight+ ended, an annual gift's renewal
and its grace period are two dates, the day check says which day, a failed 3-D Secure check gets our
own sentence, and the gift table fits a 390 px phone."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from sight.db import utcnow
from tests.helpers import sign_in_as

from .staff.conftest import add_annual, add_gift, days_ago, db_session, make_donor  # noqa: F401 (a fixture)
from .test_never_paid import fail_3d_secure_on_an_annual_gift

SYDNEY = ZoneInfo("Australia/Sydney")


def day(t) -> str:
    return t.astimezone(SYDNEY).strftime("%-d %B %Y")


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def signed_in_as_donor(client, app, donor):
    from accounts.models import User
    from sight.extensions import db

    with app.app_context():
        user = db.session.get(User, donor.user_id)
        sign_in_as(client, user)


def test_an_ex_member_reads_when_their_sight_plus_ended(app, client, db_session):
    donor = make_donor(db_session, "lapsed@example.com")
    paid = days_ago(400)
    add_gift(db_session, donor, 2600, paid)
    signed_in_as_donor(client, app, donor)
    page = text_of(client.get("/account").get_data(as_text=True))
    assert f"Your Sight+ ended on {day(paid + timedelta(days=365))}." in page
    assert "not Sight+ yet" not in page


def test_someone_never_sight_plus_is_still_told_how_to_join(app, client, db_session):
    donor = make_donor(db_session, "newish@example.com")
    add_gift(db_session, donor, 1000, days_ago(3))
    signed_in_as_donor(client, app, donor)
    assert "You are not Sight+ yet." in client.get("/account").get_data(as_text=True)


def test_an_annual_gift_shows_its_renewal_date_and_the_grace_period_apart(app, client, db_session):
    donor = make_donor(db_session, "annual@example.com")
    renews = utcnow() + timedelta(days=200)
    add_annual(db_session, donor, 2600, period_end=renews, created_at=days_ago(165))
    signed_in_as_donor(client, app, donor)
    page = text_of(client.get("/account").get_data(as_text=True))
    assert (f"Your annual gift renews on {day(renews)}; Sight+ stays while a renewal is retried, "
            f"until {day(renews + timedelta(days=14))}.") in page
    assert f"You are Sight+ until {day(renews + timedelta(days=14))}" not in page


def test_the_day_check_says_no_for_that_day(app, staff_client, db_session):
    donor = make_donor(db_session, "day@example.com")
    add_gift(db_session, donor, 2600, days_ago(3))
    before = (utcnow() - timedelta(days=30)).astimezone(SYDNEY).date()
    page = text_of(staff_client.get(f"/staff/members/{donor.user_id}?on={before.isoformat()}").get_data(as_text=True))
    assert f"No: not Sight+ on {before:%-d %B %Y}." in page


def test_a_failed_3d_secure_check_gets_our_own_sentence(client, confirm_card, localstripe_url):
    pay_url = fail_3d_secure_on_an_annual_gift(client, confirm_card, localstripe_url)
    page = client.get(pay_url).get_data(as_text=True)
    errors = re.search(r'id="card-errors"[^>]*>(.*?)</ul>', page, re.S).group(1)
    assert "Your bank did not confirm this payment, so nothing was charged." in errors
    assert "PaymentMethod" not in page


@pytest.mark.browser
def test_the_gift_table_fits_a_390_pixel_phone(app, live_server, page, db_session):
    from .test_browser import sign_in_browser

    donor = make_donor(db_session, "phone@example.com", "Pat Phone")
    add_gift(db_session, donor, 123456, days_ago(10), refunded=100000, refunded_at=days_ago(5))
    add_gift(db_session, donor, 2600, days_ago(40))
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in_browser(app, page, live_server, "phone@example.com")
    page.goto(f"{live_server}/account")
    table = page.locator("#history-heading ~ .table-scroll").first
    table.wait_for()
    scroll_width, client_width = table.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert scroll_width <= client_width, (scroll_width, client_width)
    assert page.get_by_role("link", name=re.compile("Receipt")).first.is_visible()
