"""An annual gift counts towards Sight+ only from its first paid invoice: a donor whose bank's
3-D Secure check fails, and who walks away, was never Sight+ at any instant (against localstripe)."""

from __future__ import annotations

from sqlalchemy import select

from membership.models import Donation, Subscription
from sight.db import utcnow
from sight.extensions import db
from tests.helpers import csrf_token_from, submit_form

from .conftest import data_attribute, post_json


def fail_3d_secure_on_an_annual_gift(client, confirm_card, localstripe_url) -> str:
    """Start a $26 annual gift whose first payment the bank refuses to authenticate; the pay URL."""
    started = submit_form(client, "/donate", {"amount": "2600", "frequency": "yearly", "name": "Sam Walkaway",
                                              "email": "walked@example.com", "message": "", "currency": "aud",
                                              "other_amount": ""})
    pay_url = started.headers["Location"]
    page = client.get(pay_url).get_data(as_text=True)
    secret = data_attribute(page, "setup-secret")
    _, body = confirm_card(secret, "4000002500003155")
    post_json(f"{localstripe_url}/v1/setup_intents/{body['id']}/confirm",
              {"key": "pk_test_sight_development", "use_stripe_sdk": True, "client_secret": secret})
    asked = client.post(pay_url, data={"csrf_token": csrf_token_from(page), "setup_intent": body["id"]})
    payment_secret = data_attribute(asked.get_data(as_text=True), "payment-secret")
    post_json(f"{localstripe_url}/v1/payment_intents/{payment_secret.split('_secret_')[0]}/_authenticate?success=false",
              {"key": "pk_test_sight_development", "client_secret": payment_secret})
    return pay_url


def test_an_annual_gift_that_never_paid_never_made_anyone_sight_plus(
    app, client, staff_user, confirm_card, localstripe_url, stripe_client, signed_event
):
    pay_url = fail_3d_secure_on_an_annual_gift(client, confirm_card, localstripe_url)
    assert "Your bank did not confirm this payment" in client.get(pay_url).get_data(as_text=True)
    with app.app_context():
        donation = db.session.scalar(select(Donation))
        user_id, customer = donation.donor.user_id, donation.donor.stripe_customer_id
    # Stripe tells us of the subscription it ended (the app re-reads it from Stripe).
    [remote] = stripe_client.v1.subscriptions.list({"customer": customer, "status": "all"}).data
    body, headers = signed_event("customer.subscription.deleted", {"id": remote.id, "object": "subscription"})
    assert client.post("/stripe/webhook", data=body, headers=headers).status_code == 200
    with app.app_context():
        [subscription] = db.session.scalars(select(Subscription)).all()
        started_at = subscription.started_at

    from tests.helpers import sign_in_as

    sign_in_as(client, staff_user)
    today = utcnow().date().isoformat()
    html = client.get(f"/staff/members/{user_id}?on={today}").get_data(as_text=True)
    assert "Not Sight+." in html
    assert "Never Sight+." in html and 'id="status-history"' not in html
    assert "<strong>No:</strong>" in html
    # Not on the list of Sight+ members, at the instant the gift started or now.
    listing = client.get("/staff/members?status=sight_plus").get_data(as_text=True)
    assert "walked@example.com" not in listing
    with app.app_context():
        from membership.context import Settings
        from membership.status import sight_plus_ids_at, sight_plus_status_of

        rules = Settings("aud", 2600, 14, 500, 1_000_000)
        for t in (started_at, utcnow()):
            assert not sight_plus_status_of(db.session, user_id, t, settings=rules).is_member
            assert user_id not in set(db.session.scalars(sight_plus_ids_at(t, rules)))
