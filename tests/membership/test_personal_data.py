"""A donor's giving in their data download, and what closing the account leaves of it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from accounts.models import Role, User
from membership.models import Donation, Donor, LedgerEntry, StripeEvent, Subscription
from membership.cli import erasures_due_check
from membership.context import context_for
from membership.grants import grant_complimentary
from membership.receipts import queue_payment_failed_notice, queue_receipt
from sight.db import utcnow
from sight.extensions import db
from sight.models import OutboxMessage
from tests.helpers import close_my_account, create_user, download_my_data, sign_in_as, submit_form

EMAIL = "giver@example.com"


def sign_in_donor(app, client) -> None:
    with app.app_context():
        sign_in_as(client, db.session.scalar(select(User).where(User.email == EMAIL)))


def test_the_download_holds_gifts_annual_gifts_and_grants(app, client, give):
    give("2600", frequency="yearly", email=EMAIL)
    now = utcnow()
    with app.app_context():
        donor = db.session.scalar(select(User).where(User.email == EMAIL))
        staff = create_user(db.session, "staff@sight.example", role=Role.staff)
        grant_complimentary(db.session, user=donor, reason="Wrote for us",
                            ends_at=now + timedelta(days=30), actor=staff, now=now, version=1)
        db.session.commit()
    sign_in_donor(app, client)
    giving = download_my_data(client)["giving"]
    [gift] = giving["gifts"]
    assert (gift["kind"], gift["amount_cents"], gift["refunded_cents"], gift["message"]) == ("recurring", 2600, 0, "Keep it up")
    [annual] = giving["annual_gifts"]
    assert (annual["status"], annual["yearly_amount_cents"], annual["renews"]) == ("active", 2600, True)
    assert giving["donor"]["stripe_customer_id"].startswith("cus_")
    assert [grant["reason"] for grant in giving["complimentary_memberships"]] == ["Wrote for us"]


def test_a_reader_who_never_gave_has_an_empty_giving_section(app, client):
    with app.app_context():
        sign_in_as(client, create_user(db.session, EMAIL))
    giving = download_my_data(client)["giving"]
    assert giving == {"donor": None, "gifts": [], "unfinished_gifts": [], "annual_gifts": [], "complimentary_memberships": []}


def test_closing_keeps_the_amounts_removes_the_message_and_stops_renewing(app, client, give, mailbox, stripe_client):
    give("2600", frequency="yearly", email=EMAIL)
    sign_in_donor(app, client)
    assert "An annual gift stops renewing" in client.get("/account/settings/close").get_data(as_text=True)
    close_my_account(client)
    with app.app_context():
        entry = db.session.scalar(select(LedgerEntry))
        assert (entry.amount_cents, entry.message) == (2600, None)
        assert entry.invoice_id and entry.customer_id == db.session.scalar(select(Donor)).stripe_customer_id
        subscription = db.session.scalar(select(Subscription))
        assert subscription.cancel_at_period_end
        subscription.current_period_end = utcnow() + timedelta(days=13)
        stripe_id = subscription.stripe_subscription_id
        db.session.commit()
    assert stripe_client.v1.subscriptions.retrieve(stripe_id).cancel_at_period_end

    mailbox.messages.clear()
    reminders = app.test_cli_runner().invoke(args=["membership", "remind"])
    assert "Sent 0 renewal reminder(s)." in reminders.output
    assert mailbox.messages == []


def test_closing_while_stripe_is_unreachable_closes_and_reconcile_finishes_in_stripe(
    app, make_app, client, give, stripe_client
):
    # A card saved with its holder's name (as an older card form, or a wallet, would).
    give("2600", frequency="yearly", email=EMAIL, name="Gale Giver", billing_details={"name": "Gale Giver"})
    with app.app_context():
        customer = db.session.scalar(select(Donor)).stripe_customer_id
        subscription_id = db.session.scalar(select(Subscription)).stripe_subscription_id
        setup_intent_id = db.session.scalar(select(Donation.setup_intent_id))
        user_id = db.session.scalar(select(User.id).where(User.email == EMAIL))
    card = stripe_client.v1.setup_intents.retrieve(setup_intent_id).payment_method
    # Port 9 (discard) is closed here: Stripe is unreachable.
    offline = make_app(STRIPE_API_BASE="http://127.0.0.1:9")
    offline_client = offline.test_client()
    sign_in_donor(offline, offline_client)
    close_my_account(offline_client)
    assert offline_client.get("/").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(User).where(User.id == user_id)).closed_at is not None
        assert db.session.scalar(select(LedgerEntry)).message is None
        [finding] = erasures_due_check(db.session, app.config, utcnow())
        assert finding.level == "fail" and "1 closed account(s)" in finding.text
    assert not stripe_client.v1.subscriptions.retrieve(subscription_id).cancel_at_period_end
    assert stripe_client.v1.payment_methods.retrieve(card).billing_details.name == "Gale Giver"

    result = app.test_cli_runner().invoke(args=["stripe", "reconcile"])
    assert "Finished closing donor 1 in Stripe" in result.output, result.output

    assert stripe_client.v1.subscriptions.retrieve(subscription_id).cancel_at_period_end
    assert not stripe_client.v1.payment_methods.retrieve(card).billing_details.name
    with app.app_context():
        assert db.session.scalar(select(Subscription)).cancel_at_period_end
        [finding] = erasures_due_check(db.session, app.config, utcnow())
        assert finding.level == "ok"
    again = app.test_cli_runner().invoke(args=["stripe", "reconcile"])
    assert "Finished closing" not in again.output


def test_no_receipt_or_notice_goes_to_a_closed_account(app, client, give, mailbox):
    give("2600", frequency="yearly", email=EMAIL)
    sign_in_donor(app, client)
    close_my_account(client)
    now = utcnow()
    with app.app_context():
        ctx = context_for(app)
        entry = db.session.scalar(select(LedgerEntry))
        queue_receipt(db.session, entry, ctx, now)
        queue_payment_failed_notice(db.session, db.session.scalar(select(Subscription)), "in_late", 2600, ctx, now)
        assert db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.sent_at.is_(None))) == 0


def test_closing_leaves_no_name_or_email_in_stripe_or_stored_events_and_kills_the_manage_link(
    app, client, give, mailbox, stripe_client, signed_event
):
    give("2600", frequency="yearly", email=EMAIL, name="Gale Giver")
    manage_link = next(
        line for body in mailbox.bodies(EMAIL) for line in body.split() if "/manage/" in line
    ).removeprefix(app.config["PUBLIC_URL"])
    assert client.get(manage_link).status_code == 200
    with app.app_context():
        customer = db.session.scalar(select(Donor)).stripe_customer_id
    assert not stripe_client.v1.customers.retrieve(customer).email  # Stripe is never given it
    # A webhook that carried their details, applied before they closed the account.
    charge = {"id": "ch_none", "object": "charge", "customer": customer, "receipt_email": EMAIL,
              "billing_details": {"name": "Gale Giver", "email": EMAIL}}
    body, headers = signed_event("customer.updated", {"id": customer, "object": "customer", "email": EMAIL, "name": "Gale Giver", "charge": charge})
    assert client.post("/stripe/webhook", data=body, headers=headers).status_code == 200

    sign_in_donor(app, client)
    close_my_account(client)

    remote = stripe_client.v1.customers.retrieve(customer)
    assert not remote.email and not remote.name
    with app.app_context():
        bodies = db.session.scalars(select(StripeEvent.body)).all()
        # The receipt's HTML part greeted them by name: it goes with the rest of the mail's content.
        html_parts = db.session.scalars(select(OutboxMessage.body_html).where(OutboxMessage.body_html.is_not(None))).all()
    assert bodies and not [b for b in bodies if EMAIL in b or "Gale Giver" in b]
    assert html_parts == []
    assert client.get(manage_link).status_code == 404

