"""Closing an account, and purging a gift never paid, leave no name or email of the person
anywhere we control: every text of every table of the database (SQLite and PostgreSQL), and
every Stripe object of their Customer as localstripe returns it (the Customer, its cards, payment
intents, charges, subscriptions, invoices). What the accounts need (amount, date, receipt
number) stays."""

from __future__ import annotations

import json
from datetime import timedelta

import stripe
from sqlalchemy import inspect, select, text, update

from accounts.models import Role, User
from membership.context import context_for
from membership.models import Donation, Donor, LedgerEntry, StripeEvent
from membership.receipts import resend_receipt
from sight.db import utcnow
from sight.extensions import db
from tests.helpers import close_my_account, create_user, csrf_token_from, sign_in_as, submit_form

from .conftest import data_attribute

EMAIL = "quentin.zabriskie@example.com"
NAME = "Quentin Zabriskie"
# What would name them: the address, and either half of the name (a receipt says "Dear Quentin").
TRACES = (EMAIL, "quentin", "zabriskie")
CARD_HOLDER = {"name": NAME, "email": EMAIL}


def database_dump() -> str:
    """Every value of every row of every table the database has (not only those the app maps)."""
    lines = []
    with db.engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                lines.append(f"{table}: " + " | ".join(str(value) for value in row))
    return "\n".join(lines).lower()


def stripe_objects(app, stripe_client, customer: str) -> dict[str, list[str]]:
    """The ids of every object of the Customer, gathered while it still lists them. Its cards are
    those it lists, those its charges and its gifts' SetupIntents used (localstripe attaches no
    card confirmed with a SetupIntent to the Customer)."""
    v1 = stripe_client.v1
    charges = v1.charges.list({"customer": customer, "limit": 100}).data
    subscriptions = v1.subscriptions.list({"customer": customer, "status": "all", "limit": 100}).data
    with app.app_context():
        setup_intents = db.session.scalars(select(Donation.setup_intent_id).where(Donation.setup_intent_id.is_not(None))).all()
        db.session.remove()
    cards = {v1.setup_intents.retrieve(seti).payment_method for seti in setup_intents}
    cards |= {pm.id for pm in v1.payment_methods.list({"customer": customer, "type": "card"}).data}
    cards |= {charge.payment_method for charge in charges}
    return {
        "customers": [customer],
        "payment_methods": sorted(cards - {None}),
        "charges": [charge.id for charge in charges],
        "payment_intents": [charge.payment_intent for charge in charges if charge.payment_intent],
        "subscriptions": [subscription.id for subscription in subscriptions],
        "invoices": [invoice.id for invoice in v1.invoices.list({"customer": customer, "limit": 100}).data],
    }


def stripe_dump(stripe_client, objects: dict[str, list[str]]) -> str:
    """Every one of those objects as Stripe returns it now (a deleted Customer as its tombstone)."""
    v1 = stripe_client.v1
    services = {"customers": v1.customers, "payment_methods": v1.payment_methods, "charges": v1.charges,
                "payment_intents": v1.payment_intents, "subscriptions": v1.subscriptions, "invoices": v1.invoices}
    dumped = []
    for kind, ids in objects.items():
        for object_id in ids:
            try:
                dumped.append(json.dumps(services[kind].retrieve(object_id).to_dict()))
            except stripe.InvalidRequestError as gone:  # a Customer deleted for good: nothing of it is left
                dumped.append(f"{kind} {object_id}: {gone.http_status}")
    return "\n".join(dumped).lower()


def customer_deleted(stripe_client, customer: str) -> bool:
    """Stripe answers a deleted Customer with its tombstone; localstripe forgets it (404)."""
    try:
        return bool(stripe_client.v1.customers.retrieve(customer).get("deleted"))
    except stripe.InvalidRequestError as error:
        return error.http_status == 404


def assert_no_trace(dump: str) -> None:
    found = {trace: [line[:300] for line in dump.splitlines() if trace in line] for trace in TRACES}
    assert not any(found.values()), found


def give_with_card_holder(http, confirm_card, frequency: str, *, name: str = NAME) -> str:
    """Give through the real pages with a card that carries the holder's name and email (as a card
    saved by an older form, or a wallet, would); returns the pay page's address."""
    response = submit_form(http, "/donate", {"amount": "5000", "frequency": frequency, "name": name,
                                              "email": EMAIL, "message": "For Quentin's street", "currency": "aud"})
    assert response.status_code == 302, response.get_data(as_text=True)
    pay_url = response.headers["Location"]
    page = http.get(pay_url).get_data(as_text=True)
    status, setup = confirm_card(data_attribute(page, "setup-secret"), billing_details=CARD_HOLDER)
    assert status == 200
    http.post(pay_url, data={"csrf_token": csrf_token_from(page), "setup_intent": setup["id"]})
    return pay_url


def test_closing_leaves_no_name_or_email_in_the_database_or_stripe(
    app, client, confirm_card, mailbox, stripe_client, signed_event
):
    give_with_card_holder(client, confirm_card, "once")
    give_with_card_holder(client, confirm_card, "yearly")
    assert len(mailbox.to(EMAIL)) == 2  # two receipts, which greeted them by name
    with app.app_context():
        donor = db.session.scalar(select(Donor))
        # Staff resent a receipt: the audit log says to whom.
        staff = create_user(db.session, "staff@sight.example", role=Role.staff)
        resend_receipt(db.session, entry=donor.entries[0], ctx=context_for(app), actor=staff, now=utcnow())
        db.session.commit()
        customer = donor.stripe_customer_id
        entries = [(e.id, e.amount_cents, e.paid_at) for e in db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))]
        sign_in_as(client, donor.user)
    assert len(entries) == 2
    mailbox.messages  # the resent receipt goes out too
    # Webhook deliveries that carried their details: one applied, one Stripe is still retrying.
    card = {"id": "ch_unknown_here", "object": "charge", "customer": customer, "amount": 100, "amount_refunded": 100,
            "currency": "aud", "receipt_email": EMAIL, "billing_details": CARD_HOLDER, "refunds": {"data": []}}
    for event_type, obj in (("customer.updated", {"id": customer, "object": "customer", "email": EMAIL, "name": NAME}),
                            ("charge.refunded", card)):
        body, headers = signed_event(event_type, obj)
        client.post("/stripe/webhook", data=body, headers=headers)
    objects = stripe_objects(app, stripe_client, customer)
    assert len(objects["payment_methods"]) == 2 and len(objects["invoices"]) == 1
    with app.app_context():
        before_db = database_dump()
    before_stripe = stripe_dump(stripe_client, objects)
    assert EMAIL in before_db and "zabriskie" in before_db
    assert "zabriskie" in before_stripe  # the cards' billing details

    close_my_account(client)

    with app.app_context():
        assert_no_trace(database_dump())
        # The accounts keep every gift: its receipt number, amount and date.
        kept = [(e.id, e.amount_cents, e.paid_at) for e in db.session.scalars(select(LedgerEntry).order_by(LedgerEntry.id))]
        assert kept == entries
        assert db.session.scalar(select(StripeEvent.event_id).where(StripeEvent.type == "charge.refunded"))
    assert_no_trace(stripe_dump(stripe_client, objects))
    # The cards are no longer the Customer's: nothing can be charged to them any more.
    assert [stripe_client.v1.payment_methods.retrieve(card).customer for card in objects["payment_methods"]] == [None, None]


def test_purge_forgets_an_unpaid_start_its_never_used_account_and_its_stripe_customer(
    app, client, confirm_card, stripe_client
):
    response = submit_form(client, "/donate", {"amount": "5000", "frequency": "once", "name": NAME, "email": EMAIL,
                                               "message": "", "currency": "aud"})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert confirm_card(data_attribute(page, "setup-secret"), billing_details=CARD_HOLDER)[0] == 200
    # The donor walks away without pressing the button.
    with app.app_context():
        customer = db.session.scalar(select(Donor.stripe_customer_id))
    objects = stripe_objects(app, stripe_client, customer)
    assert len(objects["payment_methods"]) == 1
    with app.app_context():
        long_ago = utcnow() - timedelta(days=app.config["ABANDONED_DONATION_DAYS"] + 1)
        db.session.execute(update(Donation).values(created_at=long_ago))
        db.session.execute(update(Donor).values(created_at=long_ago))
        db.session.commit()
        assert EMAIL in database_dump()

    result = app.test_cli_runner().invoke(args=["membership", "purge"])
    assert result.exit_code == 0, result.output
    assert "Purged 1 unpaid gift start(s). Forgot 1 donor(s)" in result.output
    assert "and 1 account(s) never used" in result.output

    with app.app_context():
        assert_no_trace(database_dump())
        assert db.session.scalar(select(User).where(User.email == EMAIL)) is None
    assert_no_trace(stripe_dump(stripe_client, objects))
    assert stripe_client.v1.payment_methods.retrieve(objects["payment_methods"][0]).customer is None
    assert customer_deleted(stripe_client, customer)


def test_purge_keeps_an_account_that_was_used_and_a_donor_who_gave(app, client, confirm_card, make_user):
    """A start abandoned by someone with a password, or by a donor who gave before, takes only the start."""
    make_user("has.password@example.com", name="Pat Password")
    for email in ("has.password@example.com", "gave.before@example.com"):
        submit_form(client, "/donate", {"amount": "5000", "frequency": "once", "name": "Someone", "email": email,
                                        "message": "", "currency": "aud"})
    with app.app_context():
        long_ago = utcnow() - timedelta(days=app.config["ABANDONED_DONATION_DAYS"] + 1)
        db.session.execute(update(Donation).values(created_at=long_ago))
        db.session.execute(update(Donor).values(created_at=long_ago))
        db.session.commit()
    # The second one gives now: they are a donor.
    with app.test_client() as second:
        response = submit_form(second, "/donate", {"amount": "2600", "frequency": "once", "name": "Gabe",
                                                   "email": "gave.before@example.com", "message": "", "currency": "aud"})
        page = second.get(response.headers["Location"]).get_data(as_text=True)
        status, setup = confirm_card(data_attribute(page, "setup-secret"))
        second.post(response.headers["Location"], data={"csrf_token": csrf_token_from(page), "setup_intent": setup["id"]})

    result = app.test_cli_runner().invoke(args=["membership", "purge"])
    assert "Purged 2 unpaid gift start(s). Forgot 1 donor(s)" in result.output, result.output
    assert "and 0 account(s) never used" in result.output
    with app.app_context():
        emails = set(db.session.scalars(select(User.email)))
        assert {"has.password@example.com", "gave.before@example.com"} <= emails
        assert [d.user.email for d in db.session.scalars(select(Donor))] == ["gave.before@example.com"]
        assert db.session.scalar(select(LedgerEntry.amount_cents)) == 2600


def test_a_purge_while_stripe_is_unreachable_keeps_the_donor_for_the_next_run(app, make_app, client, stripe_client):
    submit_form(client, "/donate", {"amount": "5000", "frequency": "once", "name": NAME, "email": EMAIL,
                                    "message": "", "currency": "aud"})
    with app.app_context():
        customer = db.session.scalar(select(Donor.stripe_customer_id))
        long_ago = utcnow() - timedelta(days=app.config["ABANDONED_DONATION_DAYS"] + 1)
        db.session.execute(update(Donation).values(created_at=long_ago))
        db.session.execute(update(Donor).values(created_at=long_ago))
        db.session.commit()
    # Port 9 (discard) is closed here: Stripe is unreachable.
    offline = make_app(STRIPE_API_BASE="http://127.0.0.1:9").test_cli_runner().invoke(args=["membership", "purge"])
    assert offline.exit_code == 1 and "Failed: forgetting donor" in offline.output, offline.output
    with app.app_context():
        assert db.session.scalar(select(Donor.stripe_customer_id)) == customer
        assert db.session.scalar(select(User).where(User.email == EMAIL)) is not None

    again = app.test_cli_runner().invoke(args=["membership", "purge"])
    assert again.exit_code == 0 and "Forgot 1 donor(s)" in again.output, again.output
    with app.app_context():
        assert_no_trace(database_dump())
    assert customer_deleted(stripe_client, customer)
