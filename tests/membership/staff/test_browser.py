"""In Chromium at 360 px: a staff member finds a donor, gives complimentary Sight+ and downloads the CSV."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sight.db import utcnow

from .conftest import add_gift, days_ago, make_donor

pytestmark = pytest.mark.browser


def sign_in_browser(page, app, base_url: str, user) -> None:
    """The session cookie sign_in_as would give, signed by the app itself (the sign-in pages are accounts')."""
    cookie = app.session_interface.get_signing_serializer(app).dumps({"_user_id": user.get_id(), "_fresh": True})
    page.context.add_cookies([{"name": app.config["SESSION_COOKIE_NAME"], "value": cookie, "url": base_url}])


def test_staff_find_a_donor_and_give_complimentary_sight_plus(app, live_server, page, db_session, staff_user, tmp_path):
    donor = make_donor(db_session, "long.name.for.a.narrow.screen@example.com", "Dana Donor")
    add_gift(db_session, donor, 1000, days_ago(3))
    sign_in_browser(page, app, live_server, staff_user)

    page.goto(f"{live_server}/staff/members")
    page.get_by_label("Email or name").fill("dana")
    page.get_by_label("Status").select_option("not_sight_plus")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="long.name.for.a.narrow.screen@example.com").click()
    assert page.locator("#member-status").inner_text().startswith("Not Sight+.")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # a mistake first: no reason
    ends_on = (utcnow() + timedelta(days=60)).date().isoformat()
    page.get_by_label("Ends on").fill(ends_on)
    page.get_by_role("button", name="Give Sight+").click()
    assert page.locator("#grant-reason-error").inner_text() == "Say why this membership is given."
    assert page.get_by_label("Ends on").input_value() == ends_on

    page.get_by_label("Why is this membership given?").fill("Letter of the month")
    page.get_by_role("button", name="Give Sight+").click()
    assert "is Sight+ until" in page.locator(".flashes").inner_text()
    assert "complimentary membership" in page.locator("#member-status").inner_text()
    assert "Letter of the month" in page.locator("#grants").inner_text()

    page.goto(f"{live_server}/staff/members")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    path = tmp_path / "members.csv"
    download.value.save_as(path)
    assert "long.name.for.a.narrow.screen@example.com" in path.read_text(encoding="utf-8")
