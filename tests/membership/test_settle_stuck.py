"""A charge the app never wrote down heals itself: a request that died between Stripe's answer and
its commit (a worker killed, the database gone) leaves the donation "charging"; `flask membership
settle` (its timer runs it every minute) asks Stripe, records it once, sends the receipt once, and
the donor's page turns into the thanks page. Against localstripe, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from membership.giving import charge_gift, claim_donation
from membership.models import Donation, DonationStatus, LedgerEntry
from membership.status import sight_plus_status_of
from membership.views import context
from sight.db import utcnow
from sight.extensions import db
from sight.models import OutboxMessage
from tests.helpers import csrf_token_from, submit_form

from .conftest import data_attribute


def die_after_stripe_answered(app, client, confirm_card, frequency: str) -> str:
    """Give through the real pages up to the card, then do what the pay form's request does up
    to Stripe's answer, and die there: the claim is committed, the charge made, nothing recorded.
    Returns the pay page's URL."""
    started = submit_form(client, "/donate", {"amount": "2600", "other_amount": "", "frequency": frequency,
                                              "name": "Kim Killed", "email": "killed@example.com",
                                              "message": "", "currency": "aud"})
    pay_url = started.headers["Location"]
    page = client.get(pay_url).get_data(as_text=True)
    assert csrf_token_from(page)
    status, _ = confirm_card(data_attribute(page, "setup-secret"))
    assert status == 200
    with app.app_context():
        donation_id = db.session.scalar(select(Donation.id))
        gift = claim_donation(db.session, donation_id, utcnow())
        db.session.commit()
        outcome = charge_gift(context().gateway, gift)
        assert outcome.paid  # Stripe charged the card ...
        db.session.rollback()  # ... and the worker died before writing it down.
    return pay_url


def age_the_claim(app, minutes: int) -> None:
    with app.app_context():
        db.session.execute(update(Donation).values(claimed_at=utcnow() - timedelta(minutes=minutes)))
        db.session.commit()


def counts(app) -> tuple[int, int, str]:
    with app.app_context():
        entries = db.session.scalar(select(func.count(LedgerEntry.id)))
        receipts = db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.kind == "receipt"))
        return entries, receipts, db.session.scalar(select(Donation.status)).value


@pytest.mark.parametrize("frequency", ["once", "yearly"])
def test_a_charge_left_unrecorded_is_settled_once_by_the_job(app, client, confirm_card, runner, frequency):
    pay_url = die_after_stripe_answered(app, client, confirm_card, frequency)
    assert counts(app) == (0, 0, "charging")
    waiting = client.get(pay_url).get_data(as_text=True)
    assert "We're taking your payment now" in waiting and 'http-equiv="refresh"' in waiting

    # A claim younger than two minutes may still be at work: left alone.
    first = runner.invoke(args=["membership", "settle"])
    assert first.exit_code == 0 and "Settled 0 donation(s)" in first.output
    assert counts(app) == (0, 0, "charging")

    age_the_claim(app, 3)
    for _ in range(2):  # the timer runs it again and again: once is once
        result = runner.invoke(args=["membership", "settle"])
        assert result.exit_code == 0, result.output
    assert counts(app) == (1, 1, "completed")
    with app.app_context():
        entry = db.session.scalar(select(LedgerEntry))
        assert entry.amount_cents == 2600
        status = sight_plus_status_of(db.session, entry.donor.user_id, utcnow(), settings=context().settings)
        assert status.is_member
    # The donor's page, opened again, is the thanks page.
    answer = client.get(pay_url)
    assert answer.status_code == 302 and "/donate/thanks/" in answer.headers["Location"]


def test_a_claim_that_never_reached_stripe_goes_back_to_the_card_form(app, client, confirm_card, runner):
    started = submit_form(client, "/donate", {"amount": "2600", "other_amount": "", "frequency": "once",
                                              "name": "Nia Never", "email": "never@example.com",
                                              "message": "", "currency": "aud"})
    with app.app_context():
        donation_id = db.session.scalar(select(Donation.id))
        claim_donation(db.session, donation_id, utcnow() - timedelta(minutes=5))
        db.session.commit()
    result = runner.invoke(args=["membership", "settle"])
    assert result.exit_code == 0, result.output
    assert counts(app) == (0, 0, DonationStatus.awaiting_card.value)
    assert 'data-setup-secret="' in client.get(started.headers["Location"]).get_data(as_text=True)
