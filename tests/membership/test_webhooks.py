"""The webhook: signatures, storage, duplicates (in a row and concurrent), order, refunds, disputes."""

from __future__ import annotations

import threading
import time
import urllib.request

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from membership.context import context_for
from membership.donors import find_or_create_donor
from membership.models import LedgerEntry, StripeEvent, Subscription, SubscriptionStatus
from membership.webhook import HANDLED
from sight.db import utcnow
from sight.extensions import db
from tests.helpers import give_stripe_customer


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def unrecorded_payment(app, stripe_client, confirm_card):
    """A one-off gift that succeeded in Stripe but whose webhook we have not had yet."""

    def make(email="late@example.com", amount=2600):
        with app.app_context():
            donor = find_or_create_donor(db.session, email=email, name="Late Donor", now=utcnow())
            customer = give_stripe_customer(db.session, membership_gateway(app), donor)
            db.session.commit()
        setup = stripe_client.v1.setup_intents.create({"customer": customer, "payment_method_types": ["card"]})
        _, confirmed = confirm_card(setup.client_secret)
        payment = stripe_client.v1.payment_intents.create(
            {
                "amount": amount,
                "currency": "aud",
                "customer": customer,
                "payment_method": confirmed["payment_method"],
                "payment_method_types": ["card"],
                "confirm": True,
                "metadata": {"kind": "one_off"},
            }
        )
        assert payment.status == "succeeded"
        return payment

    return make


def membership_gateway(app):
    return context_for(app).gateway


def post(client, body, headers):
    return client.post("/stripe/webhook", data=body, headers=headers)


def test_a_payment_event_is_stored_and_records_the_gift_once(app, client, signed_event, unrecorded_payment, mailbox):
    payment = unrecorded_payment()
    body, headers = signed_event("payment_intent.succeeded", {"id": payment.id, "object": "payment_intent"}, event_id="evt_once")
    for _ in range(10):
        response = post(client, body, headers)
        assert response.status_code == 200
    with app.app_context():
        [entry] = db.session.scalars(select(LedgerEntry)).all()
        assert (entry.stripe_object_id, entry.amount_cents) == (payment.id, 2600)
        [stored] = db.session.scalars(select(StripeEvent)).all()
        assert stored.deliveries == 10 and stored.processed_at is not None and stored.error is None
        assert '"evt_once"' in stored.body
    assert len(mailbox.to("late@example.com")) == 1


def test_the_same_event_ten_times_at_once_records_one_gift(app, live_server, signed_event, unrecorded_payment):
    payment = unrecorded_payment()
    body, headers = signed_event("payment_intent.succeeded", {"id": payment.id}, event_id="evt_concurrent")
    statuses = []
    barrier = threading.Barrier(10)

    def deliver():
        request = urllib.request.Request(f"{live_server}/stripe/webhook", data=body, headers=headers, method="POST")
        barrier.wait()
        with urllib.request.urlopen(request, timeout=30) as response:
            statuses.append(response.status)

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 10
    assert count(app, LedgerEntry) == 1
    with app.app_context():
        assert db.session.scalar(select(StripeEvent.deliveries)) == 10


def test_two_different_events_for_one_payment_record_it_once(app, client, signed_event, unrecorded_payment):
    payment = unrecorded_payment()
    for _ in range(2):
        body, headers = signed_event("payment_intent.succeeded", {"id": payment.id})
        assert post(client, body, headers).status_code == 200
    assert count(app, LedgerEntry) == 1
    assert count(app, StripeEvent) == 2


def test_localstripe_delivers_its_own_signed_events(app, live_server, localstripe_webhook, give, client):
    localstripe_webhook(live_server)
    give("2600")
    deadline = time.monotonic() + 10
    with app.app_context():
        while time.monotonic() < deadline:
            types = set(db.session.scalars(select(StripeEvent.type).where(StripeEvent.processed_at.is_not(None))))
            # Every SQLite transaction takes the write lock: end this one before waiting.
            db.session.rollback()
            if "payment_intent.succeeded" in types:
                break
            time.sleep(0.2)
        assert "payment_intent.succeeded" in types
        assert db.session.scalar(select(func.count(LedgerEntry.id))) == 1


@pytest.mark.parametrize(
    "tamper",
    ["bad_signature", "wrong_secret", "too_old", "no_header", "not_json"],
)
def test_a_bad_signature_or_body_gets_400_and_changes_nothing(app, client, signed_event, unrecorded_payment, tamper):
    payment = unrecorded_payment()
    obj = {"id": payment.id}
    if tamper == "wrong_secret":
        body, headers = signed_event("payment_intent.succeeded", obj, secret="whsec_someone_else")
    elif tamper == "too_old":
        body, headers = signed_event("payment_intent.succeeded", obj, timestamp=int(time.time()) - 301)
    else:
        body, headers = signed_event("payment_intent.succeeded", obj)
    if tamper == "bad_signature":
        body = body.replace(b"2600", b"2601") + b" "
    elif tamper == "no_header":
        headers = {"Content-Type": "application/json"}
    elif tamper == "not_json":
        from sight.config import DEV_STRIPE_WEBHOOK_SECRET
        import stripe

        body = b"this is not json"
        headers = {"Stripe-Signature": stripe.WebhookSignature.generate_signature_header(body.decode(), DEV_STRIPE_WEBHOOK_SECRET)}
    assert post(client, body, headers).status_code == 400
    assert count(app, StripeEvent) == 0
    assert count(app, LedgerEntry) == 0


def test_unknown_event_types_are_acknowledged_and_ignored(app, client, signed_event):
    body, headers = signed_event("customer.tax_id.created", {"id": "txi_1"})
    response = post(client, body, headers)
    assert response.status_code == 200 and response.json["status"] == "ignored"
    assert count(app, StripeEvent) == 1


def test_live_events_are_ignored_with_a_test_key(app, client, signed_event, unrecorded_payment):
    payment = unrecorded_payment()
    body, headers = signed_event("payment_intent.succeeded", {"id": payment.id}, livemode=True)
    assert post(client, body, headers).status_code == 200
    assert count(app, LedgerEntry) == 0


def test_an_event_about_an_unknown_customer_asks_stripe_to_retry(app, client, signed_event, stripe_client, confirm_card):
    customer = stripe_client.v1.customers.create({"email": "stranger@example.com"})
    setup = stripe_client.v1.setup_intents.create({"customer": customer.id})
    _, confirmed = confirm_card(setup.client_secret)
    payment = stripe_client.v1.payment_intents.create(
        {"amount": 2600, "currency": "aud", "customer": customer.id, "payment_method": confirmed["payment_method"],
         "payment_method_types": ["card"], "confirm": True, "metadata": {"kind": "one_off"}}
    )
    body, headers = signed_event("payment_intent.succeeded", {"id": payment.id})
    response = post(client, body, headers)
    assert response.status_code == 409
    assert count(app, LedgerEntry) == 0
    with app.app_context():
        stored = db.session.scalar(select(StripeEvent))
        assert stored.processed_at is None and "not yet recorded" in stored.error


def test_a_failing_handler_answers_500_and_commits_nothing(make_app, signed_event):
    # Stripe cannot be reached (nothing listens on port 9): Stripe should deliver the event again.
    app = make_app(STRIPE_API_BASE="http://127.0.0.1:9")
    body, headers = signed_event("payment_intent.succeeded", {"id": "pi_123"})
    assert post(app.test_client(), body, headers).status_code == 500
    assert count(app, LedgerEntry) == 0
    with app.app_context():
        stored = db.session.scalar(select(StripeEvent))
        assert stored.processed_at is None and stored.error


def test_an_event_naming_what_stripe_does_not_know_answers_400_and_keeps_why(app, client, signed_event):
    # Delivering it again cannot help, so it is not a 5xx for Stripe to retry for days.
    body, headers = signed_event("payment_intent.succeeded", {"id": "pi_doesnotexist"})
    assert post(client, body, headers).status_code == 400
    assert count(app, LedgerEntry) == 0
    with app.app_context():
        stored = db.session.scalar(select(StripeEvent))
        assert stored.processed_at is None and stored.error.startswith("Stripe refused to read it")


def test_a_refund_before_the_payment_event_converges(app, client, signed_event, unrecorded_payment, stripe_client):
    payment = unrecorded_payment(amount=5000)
    charge_id = payment.latest_charge if isinstance(payment.latest_charge, str) else payment.latest_charge.id
    stripe_client.v1.refunds.create({"charge": charge_id, "amount": 3000})
    body, headers = signed_event("charge.refunded", {"id": charge_id, "object": "charge"})
    assert post(client, body, headers).status_code == 200
    body, headers = signed_event("payment_intent.succeeded", {"id": payment.id})
    assert post(client, body, headers).status_code == 200
    with app.app_context():
        [entry] = db.session.scalars(select(LedgerEntry)).all()
        assert (entry.amount_cents, entry.refunded_cents, entry.net_cents) == (5000, 3000, 2000)


def test_a_lost_dispute_adds_to_refunded_once_and_a_won_one_changes_nothing(app, client, signed_event, unrecorded_payment):
    payment = unrecorded_payment(amount=2600)
    charge_id = payment.latest_charge if isinstance(payment.latest_charge, str) else payment.latest_charge.id
    assert post(client, *signed_event("payment_intent.succeeded", {"id": payment.id})).status_code == 200
    won = {"id": "dp_1", "object": "dispute", "charge": charge_id, "amount": 2600, "status": "won"}
    assert post(client, *signed_event("charge.dispute.closed", won)).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(LedgerEntry.refunded_cents)) == 0
    lost = {**won, "status": "lost"}
    for _ in range(2):
        assert post(client, *signed_event("charge.dispute.closed", lost)).status_code == 200
    with app.app_context():
        entry = db.session.scalar(select(LedgerEntry))
        assert (entry.refunded_cents, entry.dispute_lost_cents, entry.net_cents) == (2600, 2600, 0)


def test_a_failed_renewal_sends_one_notice_and_keeps_the_donor_sight_plus(app, client, give, signed_event, mailbox):
    give("2600", frequency="yearly", email="renewer@example.com")
    with app.app_context():
        user_id = db.session.scalar(select(Subscription)).donor.user_id
        invoice_id = db.session.scalar(select(LedgerEntry.invoice_id))
    mailbox.messages.clear()
    for _ in range(2):
        body, headers = signed_event("invoice.payment_failed", {"id": invoice_id, "object": "invoice"})
        assert post(client, body, headers).status_code == 200
    notices = [m for m in mailbox.to("renewer@example.com") if "could not be renewed" in m["Subject"]]
    assert len(notices) == 1
    assert "/manage/" in notices[0].get_body(("plain",)).get_content()
    with app.app_context():
        assert db.session.scalar(select(Subscription.status)) is SubscriptionStatus.active
        from membership import sight_plus_at

        assert sight_plus_at(user_id, utcnow())


def test_subscription_events_re_read_stripe_so_an_old_event_cannot_regress(app, client, give, signed_event, stripe_client):
    give("2600", frequency="yearly")
    with app.app_context():
        stripe_id = db.session.scalar(select(Subscription.stripe_subscription_id))
    stripe_client.v1.subscriptions.update(stripe_id, {"cancel_at_period_end": True})
    updated = signed_event("customer.subscription.updated", {"id": stripe_id, "cancel_at_period_end": True})
    stale = signed_event("customer.subscription.created", {"id": stripe_id, "status": "incomplete", "cancel_at_period_end": False})
    assert post(client, *updated).status_code == 200
    assert post(client, *stale).status_code == 200
    with app.app_context():
        subscription = db.session.scalar(select(Subscription))
        assert subscription.status is SubscriptionStatus.active
        assert subscription.cancel_at_period_end is True


@pytest.mark.parametrize(
    ("event_type", "obj", "error"),
    [
        ("payment_intent.succeeded", {"object": "payment_intent"}, "the event's object has no id"),
        ("invoice.paid", {"id": 12345}, "the event's object has no id"),
        ("charge.refunded", {"id": "ch_" + "x" * 300}, "the event's object id is longer than any Stripe id"),
        # Stripe's ids are letters, digits and underscores; "{" once made the test Stripe answer
        # a 404 that is not JSON, which came out as a 500.
        ("charge.refunded", {"id": "{"}, "the event's object id is not a Stripe id"),
        ("payment_intent.succeeded", {"id": "../v1/charges"}, "the event's object id is not a Stripe id"),
        ("charge.dispute.closed", {"id": "dp_1", "status": "lost", "amount": 100}, "the event's object has no id"),
    ],
)
def test_a_signed_event_without_a_usable_object_id_gets_400_and_is_kept_with_its_error(
    app, client, signed_event, event_type, obj, error
):
    body, headers = signed_event(event_type, obj, event_id="evt_no_object_id")
    response = post(client, body, headers)
    assert response.status_code == 400
    with app.app_context():
        [stored] = db.session.scalars(select(StripeEvent)).all()
        assert (stored.event_id, stored.type, stored.processed_at, stored.error) == (
            "evt_no_object_id", event_type, None, error
        )
        assert db.session.scalar(select(func.count(LedgerEntry.id))) == 0


def test_an_event_id_longer_than_any_stripe_id_gets_400_and_is_not_stored(app, client, signed_event):
    body, headers = signed_event("payment_intent.succeeded", {"id": "pi_123"}, event_id="evt_" + "x" * 300)
    assert post(client, body, headers).status_code == 400
    assert count(app, StripeEvent) == 0


IDS = st.one_of(
    st.none(), st.integers(), st.text(max_size=40), st.just("x" * 300),
    st.sampled_from(["pi_nope", "in_nope", "sub_nope", "ch_nope", "", "../v1/charges", "pi_1?expand=x"]),
)
OBJECTS = st.fixed_dictionaries(
    {},
    optional={"id": IDS, "charge": IDS, "status": st.sampled_from(["lost", "won", ""]),
              "amount": st.one_of(st.integers(), st.text(max_size=5)), "object": st.text(max_size=10)},
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event_type=st.one_of(st.sampled_from(sorted(HANDLED)), st.text(max_size=30)), obj=OBJECTS)
@example(event_type="\x00", obj={})  # PostgreSQL's text holds no NUL character
@example(event_type="payment_intent.succeeded", obj={"id": "pi_\x00"})
@example(event_type="charge.refunded", obj={"id": "{"})
def test_any_signed_event_gets_an_answer_never_a_server_error(app, client, signed_event, event_type, obj):
    body, headers = signed_event(event_type, obj)
    response = post(client, body, headers)
    assert response.status_code in (200, 400, 409), response.get_data(as_text=True)[:300]
    if response.status_code == 400:
        with app.app_context():
            stored = db.session.scalar(select(StripeEvent).order_by(StripeEvent.id.desc()))
            assert stored.error and stored.processed_at is None
