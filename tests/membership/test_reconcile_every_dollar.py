"""Reconcile names every dollar: a charge made in Stripe's dashboard on a known donor's customer is
named (id, customer, donor, amount, date), the report never says "matches" while a month differs,
and the command exits non-zero (so cron alerts) while a difference is unexplained. Against localstripe."""

from __future__ import annotations

from sqlalchemy import select

from membership.models import Donor
from sight.db import utcnow
from sight.extensions import db
from tests.helpers import sign_in_as


def charge_in_the_dashboard(app, stripe_client, cents: int):
    """What staff do in Stripe's dashboard: charge the donor's saved card, with none of our metadata."""
    with app.app_context():
        customer = db.session.scalar(select(Donor.stripe_customer_id))
    [gift] = stripe_client.v1.charges.list({"customer": customer}).data
    payment = stripe_client.v1.payment_intents.create({
        "amount": cents, "currency": "aud", "customer": customer, "payment_method": gift.payment_method,
        "payment_method_types": ["card"], "confirm": True,
    })
    assert payment.status == "succeeded"
    charge = payment.latest_charge if isinstance(payment.latest_charge, str) else payment.latest_charge.id
    return customer, charge


def test_a_charge_made_in_stripe_alone_is_named_and_fails_the_run(app, give, stripe_client, staff_user, client):
    give("2600", email="known@example.com")
    customer, charge = charge_in_the_dashboard(app, stripe_client, 4000)
    today = utcnow().strftime("%Y-%m-%d")
    for args in (["--dry-run"], []):
        result = app.test_cli_runner().invoke(args=["stripe", "reconcile", "--since", today, *args])
        assert result.exit_code == 1, result.output
        assert "The ledger matches Stripe." not in result.output
        [named] = [line for line in result.output.splitlines() if charge in line]
        assert "$40" in named and customer in named and "known@example.com" in named
        assert utcnow().strftime("%Y-%m-%d") in named or utcnow().strftime("%-d %B %Y") in named
        assert "a difference of $40" in result.output

    sign_in_as(client, staff_user)
    page = client.get(f"/staff/members/reconcile?since={today}").get_data(as_text=True)
    assert charge in page and "known@example.com" in page and "The ledger matches Stripe." not in page


def test_an_orphan_successor_in_stripe_is_cancelled_by_the_repair_not_only_noted(
    app, live_server, confirm_card, mailbox, stripe_client
):
    from membership.models import Subscription

    from .test_manage_races import customer_of, give_yearly, hidden_fields, live_in_stripe

    http, manage_url = give_yearly(live_server, confirm_card, mailbox, email="orphan@example.com")
    fields = hidden_fields(http.get(manage_url).text, "amount")
    assert http.post(f"{manage_url}/amount", data={**fields, "new_amount": "60"}, allow_redirects=False).status_code == 302
    customer = customer_of(app)
    with app.app_context():
        gift = db.session.scalar(select(Subscription).where(Subscription.replaces_stripe_id.is_(None)))
        renews = int(gift.current_period_end.timestamp())
    # A second new amount that a request created in Stripe and died before writing down.
    stripe_client.v1.plans.retrieve("sight-annual-aud-6000")
    orphan = stripe_client.v1.subscriptions.create({
        "customer": customer, "items": [{"plan": "sight-annual-aud-6000"}], "trial_end": renews,
        "metadata": {"replaces": gift.stripe_subscription_id, "kind": "recurring"},
    })
    today = utcnow().strftime("%Y-%m-%d")
    dry = app.test_cli_runner().invoke(args=["stripe", "reconcile", "--dry-run", "--since", today])
    assert f"Would cancel {orphan.id}" in dry.output
    assert len(live_in_stripe(stripe_client, customer)) == 3
    real = app.test_cli_runner().invoke(args=["stripe", "reconcile", "--since", today])
    assert f"Cancelled {orphan.id}" in real.output, real.output
    live = {s.id for s in live_in_stripe(stripe_client, customer)}
    assert orphan.id not in live and len(live) == 2


def reconcile_output(app, since: str, *args: str):
    return app.test_cli_runner().invoke(args=["stripe", "reconcile", "--since", since, *args])


def test_a_refund_of_a_gift_paid_before_the_window_is_recorded_once_by_the_repair(app, give, stripe_client):
    import time

    from membership.models import LedgerAdjustment, LedgerEntry

    give("5000", email="late-refund@example.com")
    with app.app_context():
        charge, gift = db.session.execute(select(LedgerEntry.charge_id, LedgerEntry.payment_intent_id)).one()
    time.sleep(1.1)  # Stripe's times are whole seconds: the window opens unmistakably after the gift
    since = utcnow().strftime("%Y-%m-%dT%H:%M:%S")
    refund = stripe_client.v1.refunds.create({"charge": charge, "amount": 1500})

    dry = reconcile_output(app, since, "--dry-run")
    assert f"Would record $15 refunded on {gift}" in dry.output, dry.output
    real = reconcile_output(app, since)
    assert f"Recorded $15 refunded on {gift}" in real.output, real.output
    assert real.exit_code == 0 and "The ledger matches Stripe." not in real.output
    again = reconcile_output(app, since)
    assert "refund" not in again.output and again.exit_code == 0, again.output
    with app.app_context():
        assert [(a.stripe_object_id, a.amount_cents) for a in db.session.scalars(select(LedgerAdjustment))] == [
            (refund.id, 1500)
        ]


def test_a_refund_and_a_lost_dispute_of_a_charge_made_in_stripe_alone_are_named_and_fail_the_run(
    app, give, stripe_client, localstripe_url, staff_user, client
):
    from membership.models import LedgerAdjustment

    from .test_reconcile_disputes import bank

    give("2600", email="dashboard@example.com")
    customer, charge = charge_in_the_dashboard(app, stripe_client, 4000)
    refund = stripe_client.v1.refunds.create({"charge": charge, "amount": 1500})
    dispute = bank(localstripe_url, "", {"charge": charge})
    bank(localstripe_url, f"/{dispute['id']}/close", {"status": "lost"})
    today = utcnow().strftime("%Y-%m-%d")
    for args in (["--dry-run"], []):
        result = reconcile_output(app, today, *args)
        assert result.exit_code == 1, result.output
        [refund_line] = [line for line in result.output.splitlines() if refund.id in line]
        assert "$15" in refund_line and customer in refund_line and "dashboard@example.com" in refund_line
        assert today in refund_line and charge in refund_line
        [dispute_line] = [line for line in result.output.splitlines() if dispute["id"] in line]
        assert "$25" in dispute_line and "lost" in dispute_line and customer in dispute_line
        assert "dashboard@example.com" in dispute_line and today in dispute_line
    with app.app_context():
        assert db.session.scalars(select(LedgerAdjustment)).all() == []

    sign_in_as(client, staff_user)
    page = client.get(f"/staff/members/reconcile?since={today}").get_data(as_text=True)
    assert refund.id in page and dispute["id"] in page and "The ledger matches Stripe." not in page
