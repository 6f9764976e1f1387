"""Resending a receipt (real SMTP), and the reconcile report against a real localstripe."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select

from membership.models import LedgerEntry, Subscription, SubscriptionStatus
from sight.models import AuditEntry
from tests.helpers import sign_in_as

from .conftest import add_gift, days_ago, fresh, make_donor, submit


def today_utc() -> str:
    return datetime.now(UTC).date().isoformat()


def drift_lines(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    if 'id="drift"' not in html:
        return []
    block = html[html.index('id="drift"'):html.index("</ul>", html.index('id="drift"'))]
    return re.findall(r"<li>(.*?)</li>", block)


def test_resend_receipt_sends_a_real_email_and_is_audited(staff_client, db_session, staff_user, mailbox):
    donor = make_donor(db_session, "donor@example.com", "Dana Donor")
    entry = add_gift(db_session, donor, 2600, days_ago(3))
    url = f"/staff/members/{donor.user_id}"
    response = submit(staff_client, f"{url}/receipts/{entry.id}/resend", {}, page_url=url)
    assert response.status_code == 302
    page = staff_client.get(url).get_data(as_text=True)
    assert f"Receipt {entry.id} sent again to donor@example.com." in page
    assert "Your receipt: $26 to Sight" in page  # listed under mail sent to them, as sent

    [message] = mailbox.to("donor@example.com")
    assert message["Subject"] == "Your receipt: $26 to Sight"
    body = message.get_body(("plain",)).get_content()
    assert "Dear Dana Donor" in body and f"Receipt number: {entry.id}" in body and entry.stripe_object_id in body
    fresh(db_session)
    [audit] = db_session.scalars(select(AuditEntry)).all()
    assert (audit.action, audit.target, audit.details) == ("membership.resend_receipt", f"ledger_entry:{entry.id}", {"to": "donor@example.com"})


def test_a_receipt_of_another_member_is_404(staff_client, db_session, staff_user, mailbox):
    one = make_donor(db_session, "one@example.com")
    other = make_donor(db_session, "other@example.com")
    entry = add_gift(db_session, other, 2600, days_ago(3))
    url = f"/staff/members/{one.user_id}"
    response = submit(staff_client, f"{url}/receipts/{entry.id}/resend", {}, page_url="/donate")
    assert response.status_code == 404
    assert staff_client.post(f"{url}/receipts/{entry.id}/resend").status_code == 400  # no CSRF token
    assert mailbox.messages == []


@pytest.fixture
def staff_signed_in(client, db_session, staff_user):
    def sign_in():
        sign_in_as(client, staff_user)
        return client

    return sign_in


def test_a_deleted_ledger_row_shows_as_drift_and_repair_restores_it(app, give, db_session, staff_signed_in, mailbox):
    give("2600", email="lost@example.com")
    [entry] = db_session.scalars(select(LedgerEntry)).all()
    payment_intent = entry.stripe_object_id
    db_session.execute(delete(LedgerEntry))
    db_session.commit()

    staff = staff_signed_in()
    report = staff.get(f"/staff/members/reconcile?since={today_utc()}")
    assert [line for line in drift_lines(report) if line.startswith(f"Would record a one-off gift of $26 ({payment_intent}, paid ")]
    assert 'type="hidden"' in report.get_data(as_text=True) and "Repair the ledger" in report.get_data(as_text=True)
    fresh(db_session)
    assert db_session.scalars(select(LedgerEntry)).all() == []  # a report changes nothing

    repaired = submit(staff, "/staff/members/reconcile", {"repair-since": today_utc()}, page_url=f"/staff/members/reconcile?since={today_utc()}")
    assert repaired.status_code == 302
    after = staff.get(repaired.headers["Location"])
    assert "difference(s) repaired" in after.get_data(as_text=True)
    assert not [line for line in drift_lines(after) if payment_intent in line]

    fresh(db_session)
    [restored] = db_session.scalars(select(LedgerEntry)).all()
    assert (restored.stripe_object_id, restored.amount_cents) == (payment_intent, 2600)
    [audit] = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "stripe.reconcile")).all()
    assert audit.details["since"] == f"{today_utc()}T00:00:00Z"
    assert [line for line in audit.details["lines"] if line.startswith(f"Recorded a one-off gift of $26 ({payment_intent}, paid ")]


def test_a_payment_made_in_stripe_behind_our_back_is_found(give, db_session, staff_signed_in, stripe_client):
    give("other", other_amount="10", email="direct@example.com")
    customer = db_session.scalar(select(LedgerEntry.customer_id))
    db_session.commit()
    method = stripe_client.v1.payment_methods.create(
        {"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"}}
    )
    stripe_client.v1.payment_methods.attach(method.id, {"customer": customer})
    payment = stripe_client.v1.payment_intents.create(
        {
            "amount": 4000,
            "currency": "aud",
            "customer": customer,
            "payment_method": method.id,
            "payment_method_types": ["card"],
            "confirm": True,
            "metadata": {"kind": "one_off"},
        }
    )
    assert payment.status == "succeeded"

    staff = staff_signed_in()
    assert [
        line for line in drift_lines(staff.get(f"/staff/members/reconcile?since={today_utc()}"))
        if line.startswith(f"Would record a one-off gift of $40 ({payment.id}, paid ")
    ]
    submit(staff, "/staff/members/reconcile", {"repair-since": today_utc()}, page_url=f"/staff/members/reconcile?since={today_utc()}")
    fresh(db_session)
    assert sorted(db_session.scalars(select(LedgerEntry.amount_cents))) == [1000, 4000]


def test_an_annual_gift_cancelled_in_stripe_is_brought_up_to_date(give, db_session, staff_signed_in, stripe_client):
    give("5000", frequency="yearly", email="yearly@example.com")
    sub_id = db_session.scalar(select(Subscription.stripe_subscription_id))
    db_session.commit()
    stripe_client.v1.subscriptions.cancel(sub_id)

    staff = staff_signed_in()
    assert "yearly@example.com" in staff.get("/staff/members?status=annual").get_data(as_text=True)
    lines = drift_lines(staff.get(f"/staff/members/reconcile?since={today_utc()}"))
    assert [line for line in lines if line.startswith(f"Would update the annual gift {sub_id} of $50 a year: active → canceled")]
    submit(staff, "/staff/members/reconcile", {"repair-since": today_utc()}, page_url=f"/staff/members/reconcile?since={today_utc()}")
    fresh(db_session)
    assert db_session.scalar(select(Subscription.status)) is SubscriptionStatus.canceled
    assert "yearly@example.com" not in staff.get("/staff/members?status=annual").get_data(as_text=True)
    assert not [line for line in drift_lines(staff.get(f"/staff/members/reconcile?since={today_utc()}")) if sub_id in line]


def test_a_bad_since_date_is_a_400_beside_the_field(staff_signed_in):
    response = staff_signed_in().get("/staff/members/reconcile?since=yesterday")
    assert response.status_code == 400
    assert "Not a valid date value." in response.get_data(as_text=True)
    assert 'id="since-error"' in response.get_data(as_text=True)
