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


def a_year_later(app) -> str:
    """The annual gift as it stands a year and a few days on, its renewal still being retried: its
    one payment (which counts as a gift for twelve months) has left the window, so only the annual
    gift keeps its donor Sight+. Stripe's clock cannot be moved, so our copy's dates are."""
    from datetime import timedelta

    from membership.models import Subscription

    year = timedelta(days=370)
    with app.app_context():
        subscription = db.session.scalar(select(Subscription))
        entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.subscription_id == subscription.stripe_subscription_id))
        entry.paid_at -= year
        subscription.first_paid_at -= year
        subscription.started_at -= year
        subscription.current_period_end -= timedelta(days=5)
        subscription.status = type(subscription.status).past_due
        db.session.commit()
        return subscription.stripe_subscription_id


def test_an_annual_gift_that_stops_in_stripe_is_told_once_however_often_stripe_says_so(
    app, client, give, stripe_client, signed_event, mailbox
):
    from sight.db import utcnow

    give("2600", frequency="yearly", email="stopped@example.com")
    subscription = a_year_later(app)
    stripe_client.v1.subscriptions.cancel(subscription)
    deleted = {"id": subscription, "object": "subscription"}
    for event_id in ("evt_stopped_1", "evt_stopped_1", "evt_stopped_2"):  # repeated, and told again anew
        body, headers = signed_event("customer.subscription.deleted", deleted, event_id=event_id)
        assert client.post("/stripe/webhook", data=body, headers=headers).status_code == 200
    # Reconcile reads the same end from Stripe afterwards: nothing more to tell.
    app.test_cli_runner().invoke(args=["stripe", "reconcile", "--since", utcnow().strftime("%Y-%m-%d")])
    assert notices(app, "sight_plus_ended") == 1
    mailbox.run_mail_worker()
    [mail] = [m for m in mailbox.to("stopped@example.com") if "ended" in m["Subject"].lower()]
    body = mail.get_body(("plain",)).get_content()
    assert "Your Sight+ ended on" in body and "your annual gift has stopped" in body and "/donate" in body


def test_an_annual_gift_that_stopped_with_no_webhook_is_told_once_by_reconcile(app, give, stripe_client, mailbox):
    from sight.db import utcnow

    give("2600", frequency="yearly", email="quietly@example.com")
    stripe_client.v1.subscriptions.cancel(a_year_later(app))
    for _ in range(2):
        app.test_cli_runner().invoke(args=["stripe", "reconcile", "--since", utcnow().strftime("%Y-%m-%d")])
    assert notices(app, "sight_plus_ended") == 1
    mailbox.run_mail_worker()
    assert [m for m in mailbox.to("quietly@example.com") if "ended" in m["Subject"].lower()]


def test_an_annual_gift_that_stops_while_a_one_off_gift_keeps_them_sight_plus_sends_no_ended_mail(
    app, client, give, stripe_client, signed_event
):
    give("5000", email="still@example.com")
    give("2600", frequency="yearly", email="still@example.com")
    subscription = a_year_later(app)
    stripe_client.v1.subscriptions.cancel(subscription)
    body, headers = signed_event("customer.subscription.deleted", {"id": subscription, "object": "subscription"})
    assert client.post("/stripe/webhook", data=body, headers=headers).status_code == 200
    assert notices(app, "sight_plus_ended") == 0
