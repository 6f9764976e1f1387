"""Giving in Chromium through the real pages and localstripe's Card Element stand-in."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from accounts.models import User
from sight.extensions import db


def fill_card(page, number: str) -> None:
    # localstripe's Card Element: plain inputs named by their placeholders.
    card = page.locator("#card-element")
    card.get_by_placeholder("number").fill(number)
    card.get_by_placeholder("exp_month").fill("12")
    card.get_by_placeholder("exp_year").fill("34")
    card.get_by_placeholder("cvc").fill("123")
    card.get_by_placeholder("postal_code").fill("2000")


def start_gift(page, email: str, card: str) -> None:
    """Finish the open donate page (its amount already chosen), then the card, then give."""
    page.get_by_label("Your name").fill("Sam Reader")
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Continue to payment").click()
    page.wait_for_url(re.compile(r"/donate/pay/"))
    fill_card(page, card)
    page.get_by_role("button", name=re.compile(r"^Give \$")).click()


def give_in_browser(page, live_server, *, amount_label: str, email: str, other: str = "") -> None:
    page.goto(f"{live_server}/donate")
    page.get_by_label(amount_label, exact=True).check()
    if other:
        page.get_by_label("Another amount (in Australian dollars)").fill(other)
    page.get_by_label("Once").check()
    start_gift(page, email, "4242424242424242")
    page.wait_for_url(re.compile(r"/donate/thanks/"))


def sign_in_browser(app, page, live_server, email: str) -> None:
    """Put the donor's session cookie in the browser (signing in is the accounts package's job)."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        value = app.session_interface.get_signing_serializer(app).dumps(
            {"_user_id": user.get_id(), "_fresh": True}
        )
    page.context.add_cookies([{"name": app.config["SESSION_COOKIE_NAME"], "value": value, "url": live_server}])


@pytest.mark.browser
def test_give_26_once_in_chromium_and_see_sight_plus_on_the_account(app, live_server, page):
    give_in_browser(page, live_server, amount_label="$26", email="chromium@example.com")
    assert page.get_by_text("You are now Sight+").is_visible()

    sign_in_browser(app, page, live_server, "chromium@example.com")
    page.goto(f"{live_server}/account")
    status = page.locator(".status-member")
    assert "You are Sight+" in status.inner_text()
    assert re.search(r"until \d{1,2} \w+ \d{4}", status.inner_text())
    assert page.get_by_role("link", name="Account settings").get_attribute("href") == "/account/settings"


@pytest.mark.browser
def test_a_ten_dollar_gift_by_a_new_donor_shows_ten_of_26(live_server, page):
    give_in_browser(page, live_server, amount_label="Another amount", other="10", email="tenner@example.com")
    assert page.get_by_text("$10 of $26 in the last 12 months").is_visible()
    assert page.locator("progress").get_attribute("value") == "1000"


@pytest.mark.browser
def test_a_card_declined_when_saved_is_shown_beside_the_card(live_server, page):
    page.goto(f"{live_server}/donate?amount=2600&frequency=yearly")
    start_gift(page, "declined@example.com", "4000000000000002")
    error = page.locator("#card-errors")
    error.get_by_text("Your card was declined.").wait_for()
    assert "/donate/pay/" in page.url


@pytest.mark.browser
def test_a_card_that_needs_3d_secure_is_authenticated_then_recorded(app, live_server, page):
    page.goto(f"{live_server}/donate?amount=5000")
    start_gift(page, "secure@example.com", "4000002500003155")
    # localstripe's stand-in for the bank's 3-D Secure page: once to save the card, and once
    # more when the server charges it and the bank asks again.
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url(re.compile(r"/donate/pay/"))
    page.get_by_text("Your bank wants to confirm this payment").wait_for()
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url(re.compile(r"/donate/thanks/"))
    assert page.get_by_text("You are now Sight+").is_visible()
    with app.app_context():
        from membership.models import LedgerEntry

        assert db.session.scalar(select(LedgerEntry.amount_cents)) == 5000


@pytest.mark.browser
def test_a_failed_3d_secure_check_is_shown_and_a_retry_with_a_fresh_card_form_succeeds(app, live_server, page):
    page.goto(f"{live_server}/donate?amount=5000")
    start_gift(page, "retry@example.com", "4000002500003155")
    page.get_by_role("button", name="Complete authentication").click()  # saving the card
    page.get_by_text("Your bank wants to confirm this payment").wait_for()
    with app.app_context():
        from membership.models import Donation, LedgerEntry

        first_setup = db.session.scalar(select(Donation.setup_intent_id))
    page.get_by_role("button", name="Fail authentication").click()  # the bank's check of the charge

    # Back on the card form, with the reason, instead of waiting for ever.
    error = page.locator("#card-errors")
    error.get_by_text("Your bank did not confirm this payment").wait_for()
    assert "/donate/pay/" in page.url
    with app.app_context():
        donation = db.session.scalar(select(Donation))
        assert donation.status.value == "awaiting_card" and donation.payment_intent_id is None
        assert donation.setup_intent_id != first_setup
        assert db.session.scalar(select(LedgerEntry.id)) is None

    # The retry uses a fresh SetupIntent: Stripe will not confirm a used one again.
    fill_card(page, "4000002500003155")
    page.get_by_role("button", name=re.compile(r"^Give \$")).click()
    page.get_by_role("button", name="Complete authentication").click()
    page.get_by_text("Your bank wants to confirm this payment").wait_for()
    page.get_by_role("button", name="Complete authentication").click()
    page.wait_for_url(re.compile(r"/donate/thanks/"))
    assert page.get_by_text("You are now Sight+").is_visible()
    with app.app_context():
        donation = db.session.scalar(select(Donation))
        assert donation.status.value == "completed"
        assert db.session.scalars(select(LedgerEntry.amount_cents)).all() == [5000]
