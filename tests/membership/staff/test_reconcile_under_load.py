"""The staff repair button while donors give: each repair commits on its own and Stripe is read
before anything is written, so no donor waits out the lock or gets an error."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import select

from accounts.models import User
from membership.context import context_for
from membership.donors import find_or_create_donor
from membership.models import Donor, LedgerEntry
from sight.db import utcnow
from sight.extensions import db
from tests.helpers import give_stripe_customer
from sight.models import AuditEntry

from .conftest import fresh, submit

MISSED = 100
GIVERS = 16
CARD = {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}


def missed_gifts(app, stripe_client) -> list[str]:
    """Gifts Stripe took whose webhooks never came: ten donors, ten gifts each."""
    with app.app_context():
        gateway = context_for(app).gateway
        customers = []
        for n in range(10):
            donor = find_or_create_donor(db.session, email=f"missed{n}@example.com", name=f"Missed {n}", now=utcnow())
            customers.append(give_stripe_customer(db.session, gateway, donor))
            db.session.commit()
    payments = []
    for customer in customers:
        method = stripe_client.v1.payment_methods.create({"type": "card", "card": CARD})
        stripe_client.v1.payment_methods.attach(method.id, {"customer": customer})
        for k in range(MISSED // len(customers)):
            payment = stripe_client.v1.payment_intents.create(
                {"amount": 500 + 100 * k, "currency": "aud", "customer": customer, "payment_method": method.id,
                 "payment_method_types": ["card"], "confirm": True, "metadata": {"kind": "one_off"}}
            )
            assert payment.status == "succeeded"
            payments.append(payment.id)
    return payments


def test_reconciling_100_missed_gifts_while_16_donors_give_makes_no_errors(app, staff_client, give, stripe_client, db_session):
    missed = missed_gifts(app, stripe_client)
    today = datetime.now(UTC).date().isoformat()
    page = f"/staff/members/reconcile?since={today}"
    report = staff_client.get(page)  # the report staff read before pressing the button
    assert report.status_code == 200

    start = threading.Barrier(GIVERS + 1)
    answers: dict[str, int] = {}
    errors: list[str] = []

    def giver(n: int) -> None:
        http = app.test_client()
        start.wait()
        try:
            _, card_status, result = give("2600", email=f"giver{n}@example.com", http=http)
            answers[f"giver{n}"] = result.status_code
            assert card_status == 200
        except Exception as exc:  # noqa: BLE001 - every kind of failure is what this test counts
            errors.append(f"giver{n}: {exc!r}")

    def repair() -> None:
        start.wait()
        try:
            answers["repair"] = submit(staff_client, "/staff/members/reconcile", {"repair-since": today}, page_url=page).status_code
        except Exception as exc:  # noqa: BLE001
            errors.append(f"repair: {exc!r}")

    threads = [threading.Thread(target=giver, args=(n,)) for n in range(GIVERS)] + [threading.Thread(target=repair)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)

    assert errors == []
    assert answers.pop("repair") == 302
    assert sorted(answers.values()) == [302] * GIVERS, answers
    fresh(db_session)
    recorded = set(db_session.scalars(select(LedgerEntry.stripe_object_id)))
    assert set(missed) <= recorded  # every missed gift recorded, once (the key is unique)
    givers = db_session.scalars(
        select(LedgerEntry.amount_cents).join(Donor).join(User).where(User.email.like("giver%@example.com"))
    ).all()
    assert givers == [2600] * GIVERS
    [audit] = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "stripe.reconcile")).all()
    ours = [line for line in audit.details["lines"] if any(payment_id in line for payment_id in missed)]
    assert not [line for line in ours if line.startswith("Failed")]
    assert not [line for line in audit.details["lines"] if "locked" in line]
