"""One charge per gift, whatever the browser does: eight submits of the pay form at the same
moment (a double click, a second tab, a retrying proxy) over real HTTP make one charge in Stripe,
one ledger entry and one receipt, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from membership.models import Donation, DonationStatus, LedgerEntry, Subscription
from sight.extensions import db
from sight.models import OutboxMessage
from tests.helpers import csrf_token_from

from .conftest import data_attribute, start_gift

SUBMITS = 8


@pytest.mark.parametrize("frequency", ["once", "yearly"])
def test_eight_concurrent_submits_make_one_charge_one_entry_one_receipt(
    app, live_server, confirm_card, stripe_client, frequency
):
    http, pay_url, page = start_gift(live_server, frequency, "double@example.com")
    status, setup = confirm_card(data_attribute(page, "setup-secret"))
    assert status == 200
    form = {"csrf_token": csrf_token_from(page), "setup_intent": setup["id"]}
    start = threading.Barrier(SUBMITS)
    answers: list[int] = []

    def submit():
        start.wait()
        answers.append(http.post(pay_url, data=form, allow_redirects=False, timeout=60).status_code)

    threads = [threading.Thread(target=submit) for _ in range(SUBMITS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(set(answers)) == [302] and len(answers) == SUBMITS

    with app.app_context():
        donation = db.session.scalar(select(Donation))
        assert donation.status is DonationStatus.completed
        customer = donation.donor.stripe_customer_id
        assert db.session.scalar(select(func.count(LedgerEntry.id))) == 1
        assert db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.kind == "receipt")) == 1
        assert db.session.scalar(select(func.count(Subscription.id))) == (1 if frequency == "yearly" else 0)
    charges = stripe_client.v1.charges.list({"customer": customer, "limit": 100}).data
    assert len(charges) == 1 and charges[0].amount == 5000
    subscriptions = stripe_client.v1.subscriptions.list({"customer": customer, "status": "all"}).data
    assert len(subscriptions) == (1 if frequency == "yearly" else 0)

    # Every one of the eight browsers ends on the thank-you page.
    assert "Thank you" in http.get(pay_url).text
