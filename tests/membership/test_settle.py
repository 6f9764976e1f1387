"""A gift charged in Stripe that the app never wrote down heals itself: the worker "dies" the
moment Stripe has answered (the donor sees a 500, the gift stays "charging"), and two minutes
later `flask membership settle` asks Stripe, records it once, sends one receipt and makes the
donor Sight+; the donor's "we're taking your payment" page becomes the thank-you page by itself.
Over real HTTP against localstripe, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select, update

from membership.context import Settings, context_for
from membership.models import Donation, DonationStatus, LedgerEntry
from membership.settle import settle_stuck_donations
from membership.status import sight_plus_status_of
from membership.stripe_api import StripeGateway
from sight.config import DEV_STRIPE_PUBLISHABLE_KEY
from sight.db import utcnow
from sight.extensions import db
from sight.models import OutboxMessage
from tests.helpers import csrf_token_from, run_at_once, submit_form

from .conftest import data_attribute, post_json, start_gift

EMAIL = "half-done@example.com"
CARD_3D_SECURE = "4000002500003155"


class WorkerKilled(Exception):
    """Stands for kill -9 of the worker between Stripe's answer and the commit."""


class DiesAfterStripeAnswers(StripeGateway):
    """The app's real gateway to localstripe, except that the request ends the moment Stripe has
    charged the card, before anything is written down."""

    def charge_card(self, **kwargs):
        super().charge_card(**kwargs)
        raise WorkerKilled("after Stripe charged the card")

    def create_subscription(self, **kwargs):
        super().create_subscription(**kwargs)
        raise WorkerKilled("after Stripe started the annual gift")


def pay_and_die(app, live_server, confirm_card, frequency: str) -> tuple[requests.Session, str]:
    """Give $50 through the real pages; the request that charges the card dies after Stripe answered."""
    http, pay_url, page = start_gift(live_server, frequency, EMAIL)
    status, setup = confirm_card(data_attribute(page, "setup-secret"))
    assert status == 200
    real_gateway = app.extensions["sight_stripe"]
    app.extensions["sight_stripe"] = DiesAfterStripeAnswers(app.config["STRIPE_SECRET_KEY"], app.config["STRIPE_API_BASE"])
    try:
        answer = http.post(pay_url, data={"csrf_token": csrf_token_from(page), "setup_intent": setup["id"]},
                           allow_redirects=False, timeout=60)
    finally:
        app.extensions["sight_stripe"] = real_gateway
    assert answer.status_code == 500
    with app.app_context():
        donation = db.session.scalar(select(Donation))
        assert donation.status is DonationStatus.charging
        assert db.session.scalar(select(func.count(LedgerEntry.id))) == 0
    return http, pay_url


def two_minutes_pass() -> None:
    db.session.execute(update(Donation).values(claimed_at=utcnow() - timedelta(minutes=2, seconds=5)))
    db.session.commit()


def receipts() -> int:
    return db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.kind == "receipt"))


@pytest.mark.parametrize("frequency", ["once", "yearly"])
def test_a_gift_charged_but_never_written_down_is_settled_once_by_the_job(
    app, live_server, confirm_card, mailbox, stripe_client, frequency
):
    http, pay_url = pay_and_die(app, live_server, confirm_card, frequency)
    # The donor's page says the payment is being taken, and refreshes itself.
    waiting = http.get(pay_url).text
    assert "We're taking your payment now" in waiting and '<meta http-equiv="refresh"' in waiting
    almost = http.get(pay_url.replace("/pay/", "/thanks/")).text
    assert "Almost there" in almost and '<meta http-equiv="refresh"' in almost

    runner = app.test_cli_runner()
    early = runner.invoke(args=["membership", "settle"])
    assert "Settled 0 donation(s)" in early.output, early.output  # a claim younger than two minutes is left alone
    with app.app_context():
        two_minutes_pass()
    settled = runner.invoke(args=["membership", "settle"])
    assert settled.exit_code == 0, settled.output
    assert "Settled 1 donation(s) left half-done: 1 paid and recorded" in settled.output
    again = runner.invoke(args=["membership", "settle"])
    assert "Settled 0 donation(s)" in again.output

    with app.app_context():
        donation = db.session.scalar(select(Donation))
        assert donation.status is DonationStatus.completed
        [entry] = db.session.scalars(select(LedgerEntry)).all()
        assert entry.amount_cents == 5000
        assert receipts() == 1
        user_id = donation.donor.user_id
        customer = donation.donor.stripe_customer_id
        assert sight_plus_status_of(db.session, user_id, utcnow(), settings=Settings.from_config(app.config)).is_member
    assert len(mailbox.to(EMAIL)) == 1
    assert len(stripe_client.v1.charges.list({"customer": customer}).data) == 1
    # The page the donor is looking at turns into the thank-you page.
    thanked = http.get(pay_url)
    assert "Thank you" in thanked.text and "You are now Sight+" in thanked.text


def test_two_runs_at_once_record_one_entry_and_send_one_receipt(app, live_server, confirm_card, mailbox):
    pay_and_die(app, live_server, confirm_card, "once")
    with app.app_context():
        two_minutes_pass()
    reports = run_at_once(app, lambda session: settle_stuck_donations(session, context_for(app), utcnow()))
    assert sorted(report.paid for report in reports) == [0, 1], reports
    assert not [report.failures for report in reports if report.failures]
    with app.app_context():
        assert db.session.scalar(select(func.count(LedgerEntry.id))) == 1
        assert receipts() == 1
        assert db.session.scalar(select(Donation.status)) is DonationStatus.completed
    assert len(mailbox.to(EMAIL)) == 1


def test_a_gift_nothing_was_charged_for_goes_back_to_the_card_form(app, live_server, confirm_card):
    """The request died before Stripe was called: nothing to record, and the donor can pay again."""
    http, pay_url, _ = start_gift(live_server, "once", EMAIL)
    with app.app_context():
        db.session.execute(update(Donation).values(status=DonationStatus.charging, claimed_at=utcnow()))
        two_minutes_pass()
    settled = app.test_cli_runner().invoke(args=["membership", "settle"])
    assert "1 back to the card form (nothing was charged)" in settled.output, settled.output
    with app.app_context():
        assert db.session.scalar(select(Donation.status)) is DonationStatus.awaiting_card
        assert db.session.scalar(select(func.count(LedgerEntry.id))) == 0
    assert data_attribute(http.get(pay_url).text, "setup-secret")


def test_the_waiting_page_becomes_the_thank_you_page_by_itself(app, live_server, confirm_card, page):
    http, pay_url = pay_and_die(app, live_server, confirm_card, "once")
    page.goto(pay_url)
    assert "We're taking your payment now" in page.inner_text("main")
    with app.app_context():
        two_minutes_pass()
    assert app.test_cli_runner().invoke(args=["membership", "settle"]).exit_code == 0
    page.wait_for_url(re.compile(r"/donate/thanks/"))
    assert "Thank you" in page.inner_text("h1")


def test_a_bank_check_passed_in_a_browser_that_never_came_back_is_recorded(
    app, client, confirm_card, localstripe_url, mailbox
):
    """3-D Secure: the donor passed their bank's check and closed the tab before it returned to us."""
    started = submit_form(client, "/donate", {"amount": "5000", "frequency": "once", "name": "Hal Fdone",
                                              "email": EMAIL, "message": "", "currency": "aud"})
    pay_url = started.headers["Location"]
    page = client.get(pay_url).get_data(as_text=True)
    secret = data_attribute(page, "setup-secret")
    status, body = confirm_card(secret, CARD_3D_SECURE)
    assert body["status"] == "requires_action"
    # The bank's check of saving the card passes (as the stand-in's "Complete authentication" does).
    status, _ = post_json(f"{localstripe_url}/v1/setup_intents/{body['id']}/confirm",
                          {"key": DEV_STRIPE_PUBLISHABLE_KEY, "use_stripe_sdk": True, "client_secret": secret})
    assert status == 200
    asked = client.post(pay_url, data={"csrf_token": csrf_token_from(page), "setup_intent": body["id"]})
    payment_secret = data_attribute(asked.get_data(as_text=True), "payment-secret")
    payment_id = payment_secret.split("_secret_")[0]
    status, _ = post_json(f"{localstripe_url}/v1/payment_intents/{payment_id}/_authenticate?success=true",
                          {"key": DEV_STRIPE_PUBLISHABLE_KEY, "client_secret": payment_secret})
    assert status == 200
    with app.app_context():
        assert db.session.scalar(select(Donation.status)) is DonationStatus.authenticating
        two_minutes_pass()
        # Started more than a day ago: a bank check that old is left to the webhook and reconcile.
        db.session.execute(update(Donation).values(created_at=utcnow() - timedelta(days=1, minutes=1)))
        db.session.commit()
    assert "Settled 0 donation(s)" in app.test_cli_runner().invoke(args=["membership", "settle"]).output
    with app.app_context():
        db.session.execute(update(Donation).values(created_at=utcnow() - timedelta(minutes=5)))
        db.session.commit()

    settled = app.test_cli_runner().invoke(args=["membership", "settle"])
    assert "1 paid and recorded" in settled.output, settled.output
    with app.app_context():
        assert db.session.scalar(select(Donation.status)) is DonationStatus.completed
        assert db.session.scalar(select(func.count(LedgerEntry.id))) == 1
        assert receipts() == 1
    assert len(mailbox.to(EMAIL)) == 1
