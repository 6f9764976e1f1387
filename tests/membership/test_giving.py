"""Giving through the app's own pages against a real localstripe, cards confirmed as Stripe.js does."""

from __future__ import annotations


from sqlalchemy import func, select

from accounts.models import User
from membership.models import Donation, Donor, GiftKind, LedgerEntry, Subscription, SubscriptionStatus
from sight.extensions import db
from tests.helpers import sign_in_as

from .conftest import CARD_DECLINED_WHEN_CHARGED, CARD_DECLINED_WHEN_SAVED


def ledger(app):
    with app.app_context():
        return db.session.scalars(select(LedgerEntry)).all()


def test_a_one_off_gift_of_26_makes_the_donor_sight_plus(app, client, give, mailbox):
    _, status, result = give("2600", email="New.Donor@Example.com")
    assert status == 200
    assert result.status_code == 302
    thanks = client.get(result.headers["Location"]).get_data(as_text=True)
    assert "You are now Sight+" in thanks
    assert "$26" in thanks

    entries = ledger(app)
    assert [(e.amount_cents, e.kind, e.refunded_cents, e.currency) for e in entries] == [
        (2600, GiftKind.one_off, 0, "aud")
    ]
    assert entries[0].stripe_object_id.startswith("pi_") and entries[0].charge_id.startswith("ch_")
    assert entries[0].message == "Keep it up"

    [receipt] = mailbox.to("new.donor@example.com")
    body = receipt.get_body(("plain",)).get_content()
    assert "Thank you for your gift of $26" in body
    assert "You are Sight+ until" in body
    assert "/manage/" not in body  # a one-off gift has nothing to manage

    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "new.donor@example.com"))
    sign_in_as(client, user)
    account = client.get("/account").get_data(as_text=True)
    assert "You are Sight+" in account and "until" in account
    assert 'href="/account/settings"' in account
    receipt_page = client.get(f"/account/receipts/{entries[0].id}")
    assert receipt_page.status_code == 200 and "$26" in receipt_page.get_data(as_text=True)


def test_a_ten_dollar_gift_shows_progress_toward_sight_plus(app, client, give):
    _, _, result = give("other", other_amount="10")
    thanks = client.get(result.headers["Location"]).get_data(as_text=True)
    assert "$10 of $26 in the last 12 months" in thanks
    assert "<progress" in thanks
    assert "You are now Sight+" not in thanks


def test_a_second_gift_by_the_same_email_reuses_the_account_and_stripe_customer(app, client, give, stripe_client):
    give("other", other_amount="10", email="twice@example.com")
    give("other", other_amount="16", email="TWICE@example.com")
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == 1
        donor = db.session.scalar(select(Donor))
        assert db.session.scalar(select(func.count(LedgerEntry.id))) == 2
    customer = stripe_client.v1.customers.retrieve(donor.stripe_customer_id)
    # One Customer for both gifts; it knows the account by number only, never by name or email.
    assert customer.metadata["user_id"] == str(donor.user_id)
    assert not customer.email and not customer.name
    assert {c.customer for c in stripe_client.v1.charges.list({"customer": customer.id}).data} == {customer.id}


def test_a_card_declined_when_charged_records_nothing_and_can_be_retried(app, client, give, confirm_card):
    pay_url, status, result = give("5000", card=CARD_DECLINED_WHEN_CHARGED)
    assert status == 200  # saving the card works; charging it does not
    html = result.get_data(as_text=True)
    assert result.status_code == 200
    assert "Your card was declined." in html
    assert 'id="card-errors"' in html
    assert ledger(app) == []

    # The page now carries a fresh SetupIntent: the donor tries another card.
    from tests.helpers import csrf_token_from
    from .conftest import data_attribute

    _, body = confirm_card(data_attribute(html, "setup-secret"))
    retried = client.post(pay_url, data={"csrf_token": csrf_token_from(html), "setup_intent": body["id"]})
    assert retried.status_code == 302
    assert [e.amount_cents for e in ledger(app)] == [5000]


def test_an_annual_gift_starts_a_yearly_subscription_and_records_the_first_year(app, client, give, stripe_client):
    _, _, result = give("2600", frequency="yearly")
    thanks = client.get(result.headers["Location"]).get_data(as_text=True)
    assert "annual gift" in thanks and "You are now Sight+" in thanks
    [entry] = ledger(app)
    assert entry.kind is GiftKind.recurring and entry.stripe_object_id.startswith("in_")
    with app.app_context():
        [subscription] = db.session.scalars(select(Subscription)).all()
        assert subscription.status is SubscriptionStatus.active
        assert subscription.yearly_amount_cents == 2600
    remote = stripe_client.v1.subscriptions.retrieve(entry.subscription_id)
    assert remote.status == "active"
    assert remote["items"]["data"][0]["plan"]["id"] == "sight-annual-aud-2600"
    assert remote["items"]["data"][0]["plan"]["interval"] == "year"


def test_an_annual_gift_with_a_card_declined_when_saved_records_nothing(app, client, give):
    _, status, result = give("2600", frequency="yearly", card=CARD_DECLINED_WHEN_SAVED)
    assert status == 402  # Stripe.js shows this error beside the card; the form is not posted
    assert result.status_code == 200
    assert "Please enter your card details" in result.get_data(as_text=True)
    assert ledger(app) == []
    with app.app_context():
        assert db.session.scalars(select(Subscription)).all() == []


def test_an_annual_gift_declined_when_charged_leaves_no_subscription(app, client, give, stripe_client):
    _, status, result = give("2600", frequency="yearly", card=CARD_DECLINED_WHEN_CHARGED)
    assert status == 200
    assert "Your card was declined." in result.get_data(as_text=True)
    assert ledger(app) == []
    with app.app_context():
        donation = db.session.scalar(select(Donation))
        customer = donation.donor.stripe_customer_id
    subscriptions = stripe_client.v1.subscriptions.list({"customer": customer, "status": "all"})
    assert [s.status for s in subscriptions.data] == ["canceled"]


def test_the_thank_you_link_cannot_be_tampered_with(client, give):
    pay_url, _, result = give("2600")
    thanks_url = result.headers["Location"]
    assert client.get(thanks_url[:-3] + "xyz").status_code == 404
    assert client.get(pay_url[:-3] + "abc").status_code == 404


def test_an_annual_gift_whose_3d_secure_check_fails_offers_a_fresh_card_form(
    app, client, confirm_card, localstripe_url, stripe_client
):
    from tests.helpers import csrf_token_from, submit_form

    from .conftest import data_attribute, post_json

    started = submit_form(client, "/donate", {"amount": "2600", "frequency": "yearly", "name": "Sam", "email": "sca@example.com",
                                              "message": "", "currency": "aud", "other_amount": ""})
    pay_url = started.headers["Location"]
    page = client.get(pay_url).get_data(as_text=True)
    secret = data_attribute(page, "setup-secret")
    status, body = confirm_card(secret, "4000002500003155")
    assert body["status"] == "requires_action"
    # The bank's check of saving the card passes (as the stand-in's "Complete authentication" does).
    status, _ = post_json(f"{localstripe_url}/v1/setup_intents/{body['id']}/confirm",
                          {"key": "pk_test_sight_development", "use_stripe_sdk": True, "client_secret": secret})
    assert status == 200
    asked = client.post(pay_url, data={"csrf_token": csrf_token_from(page), "setup_intent": body["id"]})
    payment_secret = data_attribute(asked.get_data(as_text=True), "payment-secret")
    assert payment_secret  # the bank wants to check the first year's payment too
    payment_id = payment_secret.split("_secret_")[0]
    # It fails.
    post_json(f"{localstripe_url}/v1/payment_intents/{payment_id}/_authenticate?success=false",
              {"key": "pk_test_sight_development", "client_secret": payment_secret})

    again = client.get(pay_url).get_data(as_text=True)
    assert "Your bank did not confirm this payment" in again and 'id="card-errors"' in again
    new_secret = data_attribute(again, "setup-secret")
    assert new_secret and new_secret != secret
    assert ledger(app) == []
    with app.app_context():
        customer = db.session.scalar(select(Donation)).donor.stripe_customer_id
    subscriptions = stripe_client.v1.subscriptions.list({"customer": customer, "status": "all"}).data
    assert [s.status for s in subscriptions] == ["canceled"]
