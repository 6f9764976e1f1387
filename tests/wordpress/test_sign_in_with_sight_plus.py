"""End to end with a real WordPress: a reader clicks "Sign in with Sight+" on the WordPress login
page, signs in on the app, lands back signed in to WordPress; a reader who gave $26 (through the
real donate form and localstripe) sees no "support us" box and sees the members-only paragraph, a
non-member the reverse; after a refund below the threshold, the member's next page past the hour
shows the box. Screenshots of both."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from accounts.models import User
from membership.models import LedgerEntry
from identity import operations as ops
from sight.db import utcnow
from sight.extensions import db
from tests.conftest import free_port
from tests.helpers import PASSWORD
from tests.membership.conftest import confirm_card, give, signed_event, stripe_client  # noqa: F401  (fixtures: a gift, a refund)

pytestmark = [pytest.mark.wordpress, pytest.mark.browser]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


def sign_in_on_wordpress(page, wordpress, email: str) -> None:
    page.goto(wordpress.url + "/wp-login.php")
    page.get_by_role("link", name="Sign in with Sight+").click()
    page.wait_for_url(re.compile(r"/sign-in\?next="))
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile("^" + re.escape(wordpress.url)))
    page.goto(wordpress.article_url)


def test_a_member_signed_in_with_sight_plus_sees_no_support_us_box_and_a_non_member_does(
    app, client, live_server, browser, make_user, wordpress_site, give, stripe_client, signed_event
):
    wordpress_port = free_port()
    with app.app_context():
        site, secret = ops.register_client(db.session, ops.ClientValues(
            "The Sight website", [f"http://127.0.0.1:{wordpress_port}/wp-login.php?action=sight_plus_callback"],
            ["openid", "email", "profile", "sight_plus"], first_party=True), None, utcnow())
        client_id = site.client_id
        db.session.commit()
    wordpress = wordpress_site(client_id, secret, wordpress_port)

    make_user("member@example.com", name="Mia Member")
    make_user("reader@example.com", name="Rae Reader")
    _, status, result = give("2600", email="member@example.com", name="Mia Member")
    assert status == 200 and result.status_code == 302
    SCREENSHOTS.mkdir(exist_ok=True)

    pages = {}
    for email, is_member in (("member@example.com", True), ("reader@example.com", False)):
        context = browser.new_context(viewport={"width": 1024, "height": 900})
        page = pages[email] = context.new_page()
        page.set_default_timeout(30_000)
        sign_in_on_wordpress(page, wordpress, email)
        assert page.locator("p.who").inner_text() == f"Signed in as {email}"
        body_class = page.locator("body").get_attribute("class")
        assert ("sight-plus-member" if is_member else "sight-plus-not-member") in body_class.split()
        assert page.locator(".support-us").is_visible() is not is_member
        assert (page.get_by_text("Thank you for being Sight+.").count() == 1) is is_member
        page.screenshot(path=SCREENSHOTS / f"wordpress-{'member' if is_member else 'non-member'}.png", full_page=True)

    # WordPress made one user per reader, linked by the pairwise sub, and keeps what Sight said.
    meta = wordpress.sql(
        "SELECT u.user_email, m.meta_key, m.meta_value FROM wp_users u JOIN wp_usermeta m ON m.user_id = u.ID "
        "WHERE m.meta_key IN ('sight_plus', 'sight_plus_sub') ORDER BY u.user_email, m.meta_key")
    assert [(email, key) for email, key, _ in meta] == [
        ("member@example.com", "sight_plus"), ("member@example.com", "sight_plus_sub"),
        ("reader@example.com", "sight_plus"), ("reader@example.com", "sight_plus_sub")]
    assert [value for _, key, value in meta if key == "sight_plus"] == ["1", "0"]
    subs = [value for _, key, value in meta if key == "sight_plus_sub"]
    with app.app_context():
        user_ids = [str(i) for i in db.session.scalars(select(User.id))]
    assert len(set(subs)) == 2 and not set(subs) & set(user_ids)

    # A refund below the threshold: WordPress keeps what Sight said for up to an hour, then asks
    # again (a rotated refresh token, then userinfo) and the box comes back.
    with app.app_context():
        charge_id = db.session.scalar(select(LedgerEntry.charge_id))
    stripe_client.v1.refunds.create({"charge": charge_id, "amount": 100})
    body, headers = signed_event("charge.refunded", {"id": charge_id, "object": "charge"})
    assert client.post("/stripe/webhook", data=body, headers=headers).status_code == 200
    member_page = pages["member@example.com"]
    member_page.reload()
    assert not member_page.locator(".support-us").is_visible()
    wordpress.sql("UPDATE wp_usermeta SET meta_value = UNIX_TIMESTAMP() - 3601 WHERE meta_key = 'sight_plus_checked_at'")
    member_page.reload()
    assert member_page.locator(".support-us").is_visible()
    assert "sight-plus-not-member" in member_page.locator("body").get_attribute("class").split()
    for page in pages.values():
        page.context.close()
