"""Every manage action is claimed once: eight submits of the same form at the same moment (two tabs,
a double click, a retrying proxy) over real HTTP change the gift once in Stripe and once here; the
other seven get "this gift was just changed" (409) and change nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from membership.models import Donor, Subscription
from membership.reconcile import reconcile
from membership.views import context
from sight.db import utcnow
from sight.extensions import db
from sight.models import OutboxMessage

from tests.helpers import csrf_token_from

from .conftest import data_attribute, hidden_fields, start_gift

SUBMITS = 8
JUST_CHANGED = "This gift was just changed"
def give_yearly(live_server, confirm_card, mailbox, email="race@example.com") -> tuple[requests.Session, str]:
    """An annual gift of $50, given over real HTTP; returns the browser and its manage page URL."""
    http, pay_url, page = start_gift(live_server, "yearly", email=email)
    status, setup = confirm_card(data_attribute(page, "setup-secret"))
    assert status == 200
    paid = http.post(pay_url, data={"csrf_token": csrf_token_from(page), "setup_intent": setup["id"]},
                     allow_redirects=False)
    assert paid.status_code == 302
    mailbox.run_mail_worker()
    [receipt] = [m for m in mailbox.to(email) if "receipt" in m["Subject"].lower()]
    path = re.search(r"/manage/\S+", receipt.get_body(("plain",)).get_content()).group(0)
    return http, f"{live_server}{path}"


def all_at_once(posts: list) -> list[requests.Response]:
    """Send every (session, url, data) at the same moment; the answers in the same order."""
    start = threading.Barrier(len(posts))
    answers: list = [None] * len(posts)

    def send(i, http, url, data):
        start.wait()
        answers[i] = http.post(url, data=data, allow_redirects=False, timeout=60)

    threads = [threading.Thread(target=send, args=(i, *post)) for i, post in enumerate(posts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def one_won(answers, words: str = JUST_CHANGED) -> int:
    """Exactly one request made the change; the others were told it had just changed. The winner's index."""
    codes = [a.status_code for a in answers]
    assert sorted(codes) == [302] + [409] * (len(answers) - 1), codes
    for answer in answers:
        if answer.status_code == 409:
            assert words in answer.text
    return codes.index(302)


def live_in_stripe(stripe_client, customer: str) -> list:
    return [s for s in stripe_client.v1.subscriptions.list({"customer": customer, "status": "all"}).data
            if s.status not in ("canceled", "incomplete_expired")]


def mails(app, kind: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.kind == kind))


def customer_of(app) -> str:
    with app.app_context():
        return db.session.scalar(select(Donor.stripe_customer_id))


def reconcile_finds_nothing(app, since) -> None:
    with app.app_context():
        report = reconcile(db.session, context(), since=since, now=utcnow(), dry_run=True)
        customer = db.session.scalar(select(Donor.stripe_customer_id))
        ours = {s for s in db.session.scalars(select(Subscription.stripe_subscription_id))}
    about_us = [line for line in report.lines if customer in line or any(s in line for s in ours)]
    assert about_us == []
    assert not any(line.startswith(("subscription ", "Would")) for line in report.lines), report.lines


def test_eight_amount_changes_at_once_schedule_one_new_amount(app, live_server, confirm_card, mailbox, stripe_client):
    since = utcnow() - timedelta(minutes=1)
    http, manage_url = give_yearly(live_server, confirm_card, mailbox)
    fields = hidden_fields(http.get(manage_url).text, "amount")
    amounts = [str(60 + i) for i in range(SUBMITS)]
    answers = all_at_once([(http, f"{manage_url}/amount", {**fields, "new_amount": a}) for a in amounts])
    winner = int(amounts[one_won(answers)]) * 100

    customer = customer_of(app)
    live = live_in_stripe(stripe_client, customer)
    assert len(live) == 2  # the gift, and one successor at the winning amount
    [successor] = [s for s in live if s.metadata.to_dict().get("replaces")]
    assert successor["items"]["data"][0]["plan"]["amount"] == winner
    with app.app_context():
        assert db.session.scalar(select(func.count(Subscription.id))) == 2
        current = db.session.scalar(select(Subscription).where(Subscription.replaces_stripe_id.is_(None)))
        assert current.pending_amount_cents == winner
    assert mails(app, "annual_gift_amount") == 1
    reconcile_finds_nothing(app, since)

    # The donor, back on the page, cancels: the gift and its successor both stop in Stripe.
    fields = hidden_fields(http.get(manage_url).text, "cancel")
    assert http.post(f"{manage_url}/cancel", data={**fields, "confirm": "y"}, allow_redirects=False).status_code == 302
    [left] = live_in_stripe(stripe_client, customer)
    assert left.cancel_at_period_end and not left.metadata.to_dict().get("replaces")


def test_eight_cancels_and_eight_resumes_at_once_each_change_the_gift_once(
    app, live_server, confirm_card, mailbox, stripe_client
):
    since = utcnow() - timedelta(minutes=1)
    http, manage_url = give_yearly(live_server, confirm_card, mailbox)
    fields = hidden_fields(http.get(manage_url).text, "cancel")
    one_won(all_at_once([(http, f"{manage_url}/cancel", {**fields, "confirm": "y"})] * SUBMITS))
    [gift] = live_in_stripe(stripe_client, customer_of(app))
    assert gift.cancel_at_period_end
    assert mails(app, "annual_gift_cancel") == 1

    # Cancelling sent a new link (the old one is dead): the newest is in the cancel email.
    mailbox.run_mail_worker()
    [cancelled] = [m for m in mailbox.to("race@example.com") if "cancel" in m["Subject"].lower()]
    manage_url = live_server + re.search(r"/manage/\S+", cancelled.get_body(("plain",)).get_content()).group(0)
    fields = hidden_fields(http.get(manage_url).text, "resume")
    one_won(all_at_once([(http, f"{manage_url}/resume", {**fields, "confirm": "y"})] * SUBMITS))
    [gift] = live_in_stripe(stripe_client, customer_of(app))
    assert not gift.cancel_at_period_end
    assert mails(app, "annual_gift_resume") == 1
    with app.app_context():
        assert not db.session.scalar(select(Subscription)).cancel_at_period_end
    reconcile_finds_nothing(app, since)


def test_eight_card_updates_at_once_save_the_card_once(app, live_server, confirm_card, mailbox, stripe_client):
    http, manage_url = give_yearly(live_server, confirm_card, mailbox)
    page = http.get(f"{manage_url}/card").text
    _, setup = confirm_card(data_attribute(page, "setup-secret"), "5555555555554444")
    fields = {**hidden_fields(page, "card"), "setup_intent": setup["id"]}
    one_won(all_at_once([(http, f"{manage_url}/card", fields)] * SUBMITS))
    remote = stripe_client.v1.customers.retrieve(customer_of(app))
    assert remote.invoice_settings.default_payment_method == setup["payment_method"]
    assert mails(app, "annual_gift_card") == 1


def test_cancel_and_amount_changes_at_once_leave_one_change_and_no_live_successor(
    app, live_server, confirm_card, mailbox, stripe_client
):
    since = utcnow() - timedelta(minutes=1)
    http, manage_url = give_yearly(live_server, confirm_card, mailbox)
    page = http.get(manage_url).text
    cancel = (http, f"{manage_url}/cancel", {**hidden_fields(page, "cancel"), "confirm": "y"})
    posts = [cancel if i % 2 else (http, f"{manage_url}/amount", {**hidden_fields(page, "amount"), "new_amount": str(70 + i)})
             for i in range(SUBMITS)]
    winner = one_won(all_at_once(posts))
    live = live_in_stripe(stripe_client, customer_of(app))
    if winner % 2:  # the cancel won: no amount was scheduled
        assert len(live) == 1 and live[0].cancel_at_period_end
        assert mails(app, "annual_gift_amount") == 0 and mails(app, "annual_gift_cancel") == 1
    else:
        assert len(live) == 2
        assert mails(app, "annual_gift_amount") == 1 and mails(app, "annual_gift_cancel") == 0
    reconcile_finds_nothing(app, since)


def test_a_form_from_before_the_last_change_is_refused_and_changes_nothing(
    app, live_server, confirm_card, mailbox, stripe_client
):
    http, manage_url = give_yearly(live_server, confirm_card, mailbox)
    first_tab = hidden_fields(http.get(manage_url).text, "amount")
    second_tab = dict(first_tab)
    assert http.post(f"{manage_url}/amount", data={**first_tab, "new_amount": "80"}, allow_redirects=False).status_code == 302
    stale = http.post(f"{manage_url}/amount", data={**second_tab, "new_amount": "90"}, allow_redirects=False)
    assert stale.status_code == 409 and JUST_CHANGED in stale.text
    [successor] = [s for s in live_in_stripe(stripe_client, customer_of(app)) if s.metadata.to_dict().get("replaces")]
    assert successor["items"]["data"][0]["plan"]["amount"] == 8000


@pytest.fixture
def staff_http(app, live_server, staff_client):
    """A real HTTP session signed in as staff (the test client's session cookie, carried over)."""
    http = requests.Session()
    http.cookies.set("session", staff_client.get_cookie("session").value, domain="127.0.0.1", path="/")
    return http


def test_eight_grants_and_eight_revocations_at_once_each_happen_once(app, live_server, staff_http, make_user):
    from membership.models import ComplimentaryGrant
    from sight.models import AuditEntry

    member = make_user("comp@example.com")
    member_url = f"{live_server}/staff/members/{member.id}"
    fields = hidden_fields(staff_http.get(member_url).text, "grant")
    ends_on = (utcnow() + timedelta(days=60)).date().isoformat()
    data = {**fields, "grant-reason": "Contributor", "grant-ends_on": ends_on}
    one_won(all_at_once([(staff_http, f"{member_url}/grant", data)] * SUBMITS), "This membership was just changed")
    with app.app_context():
        [grant] = db.session.scalars(select(ComplimentaryGrant)).all()
        assert db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "membership.grant")) == 1
    assert mails(app, "complimentary_grant") == 1

    fields = hidden_fields(staff_http.get(member_url).text, "revoke")
    data = {**fields, f"revoke-{grant.id}-reason": "Left us"}
    one_won(all_at_once([(staff_http, f"{member_url}/grants/{grant.id}/revoke", data)] * SUBMITS), "already ended")
    with app.app_context():
        assert db.session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "membership.revoke")) == 1
        assert db.session.get(ComplimentaryGrant, grant.id).revoked_at is not None
