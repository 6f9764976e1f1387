"""Managing an annual gift (signed link or /account), renewal reminders, and reconciling with Stripe."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from membership.models import LedgerEntry, RenewalNotice, Subscription
from sight.db import utcnow
from sight.extensions import db
from tests.helpers import close_my_account, csrf_token_from, sign_in_as, sign_in_url, submit_form

from .conftest import data_attribute, hidden_fields, submit_manage_form


def manage_path(app, mailbox, email):
    [receipt] = [m for m in mailbox.to(email) if "receipt" in m["Subject"].lower()]
    return re.search(r"/manage/\S+", receipt.get_body(("plain",)).get_content()).group(0)


def test_cancelling_reaches_stripe_and_keeps_the_paid_year(app, client, give, mailbox, stripe_client):
    give("2600", frequency="yearly", email="cancel@example.com")
    path = manage_path(app, mailbox, "cancel@example.com")
    unticked = submit_manage_form(client, f"{path}/cancel", {}, page_url=path)
    assert unticked.status_code == 400 and "Tick the box to confirm." in unticked.get_data(as_text=True)

    response = submit_manage_form(client, f"{path}/cancel", {"confirm": "y"}, page_url=path)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "will not renew" in page and "You are Sight+" in page
    assert "<title>Manage your annual gift · Sight</title>" in page
    assert page.count("Send me a new link") == 1
    with app.app_context():
        subscription = db.session.scalar(select(Subscription))
        assert subscription.cancel_at_period_end
    assert stripe_client.v1.subscriptions.retrieve(subscription.stripe_subscription_id).cancel_at_period_end


def test_changing_the_amount_takes_effect_at_renewal(app, client, give, mailbox, stripe_client):
    give("2600", frequency="yearly", email="change@example.com")
    path = manage_path(app, mailbox, "change@example.com")
    bad = submit_manage_form(client, f"{path}/amount", {"new_amount": "2"}, page_url=path)
    assert bad.status_code == 400 and "The smallest gift we can take is $5." in bad.get_data(as_text=True)

    response = submit_manage_form(client, f"{path}/amount", {"new_amount": "50"}, page_url=path)
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
    submit_manage_form(client, f"{path}/amount", {"new_amount": "100"}, page_url=path)
    with app.app_context():
        assert db.session.scalar(select(func.count(Subscription.id))) == 2
    remote = stripe_client.v1.subscriptions.retrieve(new.stripe_subscription_id)
    assert remote["items"]["data"][0]["plan"]["amount"] == 10000


def test_updating_the_card_saves_it_as_the_default(app, client, give, mailbox, stripe_client, confirm_card):
    give("2600", frequency="yearly", email="card@example.com")
    path = manage_path(app, mailbox, "card@example.com")
    page = client.get(f"{path}/card").get_data(as_text=True)
    _, setup = confirm_card(data_attribute(page, "setup-secret"), "5555555555554444")
    response = client.post(f"{path}/card", data={**hidden_fields(page, "card"), "setup_intent": setup["id"]})
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
    body = reminder.get_body(("plain",)).get_content()
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


def latest_link(mailbox, email: str) -> str:
    return re.findall(r"/manage/\S+", mailbox.bodies(email)[-1])[-1]


def remote_subscriptions(stripe_client, app):
    with app.app_context():
        customer = db.session.scalar(select(Subscription)).donor.stripe_customer_id
    return stripe_client.v1.subscriptions.list({"customer": customer, "status": "all"}).data


def test_after_cancelling_the_old_links_amount_form_is_refused_and_the_gift_stays_cancelled(
    app, client, give, mailbox, stripe_client
):
    give("2600", frequency="yearly", email="gone@example.com")
    old = manage_path(app, mailbox, "gone@example.com")
    page = client.get(old).get_data(as_text=True)
    token = csrf_token_from(page)
    assert client.post(f"{old}/cancel", data={**hidden_fields(page, "cancel"), "confirm": "y"}).status_code == 302

    # The donor is told, with a link that can only resume the gift.
    confirmation = mailbox.to("gone@example.com")[-1]
    assert confirmation["Subject"] == "Your annual gift to Sight is cancelled"
    # It names the gift that stops, by its amount, and the day it ends.
    assert "Your annual gift of $26 will not renew." in confirmation.get_body(("plain",)).get_content()
    new = latest_link(mailbox, "gone@example.com")
    assert new != old

    # The old link's amount form, posted as an attacker would with the page they kept.
    refused = client.post(f"{old}/amount", data={"csrf_token": token, "new_amount": "10000"})
    assert refused.status_code == 404
    # Even the newest link cannot change a cancelled gift: only resuming it is offered.
    newest = client.get(new).get_data(as_text=True)
    assert "Resume my annual gift" in newest and "Change the amount" not in newest
    for action, data in (("amount", {"new_amount": "10000"}), ("cancel", {"confirm": "y"})):
        response = client.post(f"{new}/{action}", data={"csrf_token": csrf_token_from(newest), **data})
        assert response.status_code == 409
        assert "resume it first" in response.get_data(as_text=True)
    assert client.get(f"{new}/card").status_code == 409

    [remote] = remote_subscriptions(stripe_client, app)
    assert remote.cancel_at_period_end
    with app.app_context():
        assert db.session.scalar(select(func.count(Subscription.id))) == 1
        assert db.session.scalar(select(func.count(LedgerEntry.id))) == 1


def test_a_cancelled_gift_is_resumed_only_when_the_donor_confirms(app, client, give, mailbox, stripe_client):
    give("2600", frequency="yearly", email="back@example.com")
    path = manage_path(app, mailbox, "back@example.com")
    submit_manage_form(client, f"{path}/cancel", {"confirm": "y"}, page_url=path)
    link = latest_link(mailbox, "back@example.com")
    unticked = submit_manage_form(client, f"{link}/resume", {}, page_url=link)
    assert unticked.status_code == 400 and "Tick the box to confirm." in unticked.get_data(as_text=True)
    assert remote_subscriptions(stripe_client, app)[0].cancel_at_period_end

    resumed = submit_manage_form(client, f"{link}/resume", {"confirm": "y"}, page_url=link)
    assert resumed.status_code == 302
    assert not remote_subscriptions(stripe_client, app)[0].cancel_at_period_end
    assert mailbox.to("back@example.com")[-1]["Subject"] == "Your annual gift to Sight will renew"
    assert "Next renewal" in client.get(resumed.headers["Location"]).get_data(as_text=True)


def test_every_change_is_confirmed_by_email(app, client, give, mailbox, confirm_card):
    give("2600", frequency="yearly", email="told@example.com")
    path = manage_path(app, mailbox, "told@example.com")
    submit_manage_form(client, f"{path}/amount", {"new_amount": "50"}, page_url=path)
    amount = mailbox.to("told@example.com")[-1]
    assert amount["Subject"] == "The amount of your annual gift to Sight has changed"
    assert "will be $50 a year (it was $26)" in amount.get_body(("plain",)).get_content()

    page = client.get(f"{path}/card").get_data(as_text=True)
    _, setup = confirm_card(data_attribute(page, "setup-secret"), "5555555555554444")
    client.post(f"{path}/card", data={**hidden_fields(page, "card"), "setup_intent": setup["id"]})
    assert mailbox.to("told@example.com")[-1]["Subject"] == "The card for your annual gift to Sight has changed"


def test_send_me_a_new_link_revokes_the_old_ones(app, client, give, mailbox):
    give("2600", frequency="yearly", email="leak@example.com")
    old = manage_path(app, mailbox, "leak@example.com")
    response = submit_form(client, f"{old}/new-link", {}, page_url=old)
    assert response.status_code == 200 and "emailed you a new link" in response.get_data(as_text=True)
    assert client.get(old).status_code == 404
    new = latest_link(mailbox, "leak@example.com")
    assert client.get(new).status_code == 200


def test_closing_the_account_kills_the_link(app, client, give, mailbox):
    give("2600", frequency="yearly", email="closing@example.com")
    path = manage_path(app, mailbox, "closing@example.com")
    assert client.get(path).status_code == 200
    with app.app_context():
        user = db.session.scalar(select(Subscription)).donor.user
    sign_in_as(client, user)
    close_my_account(client, password="")
    assert client.get(path).status_code == 404
    page = client.get(path).get_data(as_text=True)
    assert "doesn" in page and "work any more" in page


def test_a_gift_cancelled_in_stripe_takes_its_scheduled_new_amount_with_it(
    app, client, give, mailbox, stripe_client, signed_event
):
    give("2600", frequency="yearly", email="early@example.com")
    path = manage_path(app, mailbox, "early@example.com")
    submit_manage_form(client, f"{path}/amount", {"new_amount": "50"}, page_url=path)
    with app.app_context():
        old, new = db.session.scalars(select(Subscription).order_by(Subscription.id)).all()
        old_id, new_id = old.stripe_subscription_id, new.stripe_subscription_id
    # Someone cancels the current gift in Stripe's dashboard, before its year is up.
    stripe_client.v1.subscriptions.cancel(old_id)
    body, headers = signed_event("customer.subscription.deleted", {"id": old_id, "object": "subscription"})
    assert client.post("/stripe/webhook", data=body, headers=headers).status_code == 200
    assert stripe_client.v1.subscriptions.retrieve(new_id).status == "canceled"
    with app.app_context():
        statuses = {s.stripe_subscription_id: s.status.value for s in db.session.scalars(select(Subscription))}
    assert statuses == {old_id: "canceled", new_id: "canceled"}


def test_reconcile_reports_a_subscription_with_no_live_gift_here(app, give, stripe_client):
    give("2600", frequency="yearly", email="orphan@example.com")
    with app.app_context():
        subscription = db.session.scalar(select(Subscription))
        remote_id = subscription.stripe_subscription_id
        db.session.delete(subscription)
        db.session.commit()
    # Long after Stripe's events about it have gone: only the subscription itself says it exists.
    tomorrow = (utcnow() + timedelta(days=1)).strftime("%Y-%m-%d")
    report = app.test_cli_runner().invoke(args=["stripe", "reconcile", "--dry-run", "--since", tomorrow])
    assert f"subscription {remote_id} (active, $26 a year) has no live annual gift here" in report.output
