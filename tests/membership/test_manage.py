"""Managing an annual gift (signed link or /account), renewal reminders, and reconciling with Stripe."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from membership.models import LedgerEntry, RenewalNotice, Subscription
from sight.db import utcnow
from sight.extensions import db
from tests.helpers import csrf_token_from, sign_in_as, sign_in_url, submit_form

from .conftest import data_attribute


def manage_path(app, mailbox, email):
    [receipt] = [m for m in mailbox.to(email) if "receipt" in m["Subject"].lower()]
    return re.search(r"/manage/\S+", receipt.get_content()).group(0)


def test_cancelling_reaches_stripe_and_keeps_the_paid_year(app, client, give, mailbox, stripe_client):
    give("2600", frequency="yearly", email="cancel@example.com")
    path = manage_path(app, mailbox, "cancel@example.com")
    unticked = submit_form(client, f"{path}/cancel", {}, page_url=path)
    assert unticked.status_code == 400 and "Tick the box to confirm." in unticked.get_data(as_text=True)

    response = submit_form(client, f"{path}/cancel", {"confirm": "y"}, page_url=path)
    assert response.status_code == 302
    page = client.get(path).get_data(as_text=True)
    assert "will not renew" in page and "You are Sight+" in page
    with app.app_context():
        subscription = db.session.scalar(select(Subscription))
        assert subscription.cancel_at_period_end
    assert stripe_client.v1.subscriptions.retrieve(subscription.stripe_subscription_id).cancel_at_period_end


def test_changing_the_amount_takes_effect_at_renewal(app, client, give, mailbox, stripe_client):
    give("2600", frequency="yearly", email="change@example.com")
    path = manage_path(app, mailbox, "change@example.com")
    bad = submit_form(client, f"{path}/amount", {"new_amount": "2"}, page_url=path)
    assert bad.status_code == 400 and "The smallest gift we can take is $5." in bad.get_data(as_text=True)

    response = submit_form(client, f"{path}/amount", {"new_amount": "50"}, page_url=path)
    assert response.status_code == 302
    page = client.get(path).get_data(as_text=True)
    assert "at your new amount of $50" in page
    with app.app_context():
        old, new = db.session.scalars(select(Subscription).order_by(Subscription.id)).all()
        assert old.pending_amount_cents == 5000 and old.cancel_at_period_end
        assert new.replaces_stripe_id == old.stripe_subscription_id
        assert new.yearly_amount_cents == 5000
        assert db.session.scalar(select(func.count(LedgerEntry.id))) == 1  # nothing charged now
    remote = stripe_client.v1.subscriptions.retrieve(new.stripe_subscription_id)
    assert remote["items"]["data"][0]["plan"]["amount"] == 5000
    assert remote.trial_end == int(old.current_period_end.timestamp())

    # Changing it again moves the scheduled gift to the new plan instead of adding another.
    submit_form(client, f"{path}/amount", {"new_amount": "100"}, page_url=path)
    with app.app_context():
        assert db.session.scalar(select(func.count(Subscription.id))) == 2
    remote = stripe_client.v1.subscriptions.retrieve(new.stripe_subscription_id)
    assert remote["items"]["data"][0]["plan"]["amount"] == 10000


def test_updating_the_card_saves_it_as_the_default(app, client, give, mailbox, stripe_client, confirm_card):
    give("2600", frequency="yearly", email="card@example.com")
    path = manage_path(app, mailbox, "card@example.com")
    page = client.get(f"{path}/card").get_data(as_text=True)
    _, setup = confirm_card(data_attribute(page, "setup-secret"), "5555555555554444")
    response = client.post(f"{path}/card", data={"csrf_token": csrf_token_from(page), "setup_intent": setup["id"]})
    assert response.status_code == 302
    with app.app_context():
        customer = db.session.scalar(select(Subscription)).donor.stripe_customer_id
    remote = stripe_client.v1.customers.retrieve(customer)
    assert remote.invoice_settings.default_payment_method == setup["payment_method"]


def test_a_tampered_manage_link_is_refused(client):
    assert client.get("/manage/not-a-real-token").status_code == 404


def test_account_links_to_the_manage_page(app, client, give):
    give("2600", frequency="yearly", email="acct@example.com")
    with app.app_context():
        user = db.session.scalar(select(Subscription)).donor.user
    sign_in_as(client, user)
    html = client.get("/account").get_data(as_text=True)
    assert "$26 a year" in html and "/manage/" in html


def test_account_needs_a_sign_in(client):
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"] == sign_in_url("/account")


def test_renewal_reminders_are_sent_once(app, give, mailbox):
    give("2600", frequency="yearly", email="remind@example.com")
    with app.app_context():
        subscription = db.session.scalar(select(Subscription))
        subscription.current_period_end = utcnow() + timedelta(days=13)
        db.session.commit()
    mailbox.messages.clear()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["membership", "remind"])
    second = runner.invoke(args=["membership", "remind"])
    assert "Sent 1 renewal reminder(s)." in first.output
    assert "Sent 0 renewal reminder(s)." in second.output
    [reminder] = mailbox.to("remind@example.com")
    body = reminder.get_content()
    assert "$26" in body and "/manage/" in body
    with app.app_context():
        assert db.session.scalar(select(func.count(RenewalNotice.id))) == 1


def test_reconcile_repairs_a_missed_payment_and_dry_run_writes_nothing(app, give, signed_event):
    give("2600")
    with app.app_context():
        db.session.execute(LedgerEntry.__table__.delete())
        db.session.commit()
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["stripe", "reconcile", "--dry-run"])
    assert "Would record a one-off gift of $26 (pi_" in dry.output and "difference(s) would be repaired" in dry.output
    with app.app_context():
        assert db.session.scalar(select(func.count(LedgerEntry.id))) == 0
    real = runner.invoke(args=["stripe", "reconcile", "--since", utcnow().strftime("%Y-%m-%d")])
    assert "Recorded a one-off gift of $26 (pi_" in real.output
    with app.app_context():
        assert db.session.scalar(select(func.count(LedgerEntry.id))) == 1
    again = runner.invoke(args=["stripe", "reconcile"])
    assert "Recorded a one-off gift" not in again.output
