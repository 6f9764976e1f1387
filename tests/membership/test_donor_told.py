"""The donor is told: a refund and a lost dispute each send one email (through the outbox, once per
event however often Stripe tells us), in plain words: what happened, their Sight+ now, how to give
again; one that ends their Sight+ says so. Against localstripe, delivered over real SMTP."""

from __future__ import annotations

from sqlalchemy import func, select

from membership.models import LedgerEntry
from sight.extensions import db
from sight.models import OutboxMessage

from .test_webhooks import post


def charge_of(app) -> str:
    with app.app_context():
        return db.session.scalar(select(LedgerEntry.charge_id))


def notices(app, kind: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.kind == kind))


def test_a_refund_is_told_once_with_the_new_status_and_how_to_give_again(
    app, client, give, stripe_client, signed_event, mailbox
):
    give("5000", email="refunded@example.com")
    charge = charge_of(app)
    stripe_client.v1.refunds.create({"charge": charge, "amount": 1000})
    for _ in range(3):  # Stripe delivers at least once
        assert post(client, *signed_event("charge.refunded", {"id": charge, "object": "charge"})).status_code == 200
    assert notices(app, "refund_notice") == 1
    mailbox.run_mail_worker()
    [mail] = [m for m in mailbox.to("refunded@example.com") if "refund" in m["Subject"].lower()]
    body = mail.get_body(("plain",)).get_content()
    assert "We have refunded $10 of your gift of $50" in body
    assert "You are still Sight+ until" in body
    assert "/donate" in body

    # A second refund that takes them below $26 ends their Sight+: the mail says so.
    stripe_client.v1.refunds.create({"charge": charge, "amount": 2000})
    assert post(client, *signed_event("charge.refunded", {"id": charge, "object": "charge"})).status_code == 200
    assert notices(app, "refund_notice") == 2
    mailbox.run_mail_worker()
    last = [m for m in mailbox.to("refunded@example.com") if "refund" in m["Subject"].lower()][-1]
    body = last.get_body(("plain",)).get_content()
    assert "We have refunded $20 of your gift of $50" in body
    assert "You are no longer Sight+" in body and "/donate" in body


def test_a_lost_dispute_is_told_once(app, client, give, signed_event, mailbox):
    give("2600", email="disputed@example.com")
    lost = {"id": "dp_told", "object": "dispute", "charge": charge_of(app), "amount": 2600, "status": "lost"}
    for _ in range(2):
        assert post(client, *signed_event("charge.dispute.closed", lost)).status_code == 200
    assert notices(app, "dispute_lost_notice") == 1
    mailbox.run_mail_worker()
    [mail] = [m for m in mailbox.to("disputed@example.com") if "bank" in m["Subject"].lower()]
    body = mail.get_body(("plain",)).get_content()
    assert "took back $26 of your gift of $26" in body
    assert "You are no longer Sight+" in body and "/donate" in body


def test_losing_sight_plus_when_staff_end_a_complimentary_membership_is_told_once(app, staff_client, mailbox):
    from datetime import timedelta

    from sight.db import utcnow

    from .staff.conftest import PREFIXED_CSRF, add_grant, db_session, make_donor  # noqa: F401

    with app.app_context():
        donor = make_donor(db.session, "comped@example.com", "Cam Comped")
        grant_id = add_grant(db.session, donor.user_id, utcnow() - timedelta(days=10), utcnow() + timedelta(days=100)).id
        url = f"/staff/members/{donor.user_id}"
    page = staff_client.get(url).get_data(as_text=True)
    data = {f"revoke-{grant_id}-reason": "Left the board", "csrf_token": PREFIXED_CSRF.search(page).group(1)}
    for _ in range(2):  # sent twice: ended once, told once
        staff_client.post(f"{url}/grants/{grant_id}/revoke", data=data)
    assert notices(app, "sight_plus_ended") == 1
    mailbox.run_mail_worker()
    [mail] = [m for m in mailbox.to("comped@example.com") if "ended" in m["Subject"].lower()]
    body = mail.get_body(("plain",)).get_content()
    assert "Your Sight+ ended on" in body and "/donate" in body
