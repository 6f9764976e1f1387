"""Words a donor reads: receipts in Sydney time with the organisation's legal details, a manage
link only for annual gifts, and "given in the last 12 months" once past the threshold."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from membership.context import context_for
from membership.donors import find_or_create_donor
from membership.ledger import record_payment
from membership.models import GiftKind
from membership.receipts import queue_receipt
from sight.db import utcnow
from sight.extensions import db
from sight.models import OutboxMessage
from tests.helpers import sign_in_as

# 14:00 UTC on 30 November is 1 am on 1 December in Sydney.
PAID = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
ORGANISATION = {"ORG_LEGAL_NAME": "Sight Media Pty Ltd", "ORG_ABN": "12 345 678 901",
                "RECEIPT_TAX_STATEMENT": "Gifts to Sight are not tax deductible."}


def receipt_for(app, kind: GiftKind, key: str) -> str:
    with app.app_context():
        donor = find_or_create_donor(db.session, email=f"{key}@example.com", name="Rae", now=PAID)
        entry, _ = record_payment(db.session, donor=donor, stripe_object_id=key, kind=kind, amount_cents=2600,
                                  currency="aud", paid_at=PAID, now=PAID)
        queue_receipt(db.session, entry, context_for(app), PAID)
        db.session.commit()
        return db.session.scalar(select(OutboxMessage.body_text).where(OutboxMessage.to_address == f"{key}@example.com"))


def test_a_receipt_uses_sydney_dates_and_carries_the_legal_details(make_app):
    app = make_app(**ORGANISATION)
    body = receipt_for(app, GiftKind.one_off, "pi_sydney")
    assert "Paid: 1 December 2026, 1:00\u202fam AEDT" in body
    assert "You are Sight+ until 1 December 2027" in body  # as the account page says
    assert "Received by: Sight Media Pty Ltd, ABN 12 345 678 901" in body
    assert "Gifts to Sight are not tax deductible." in body
    # A one-off gift has nothing to manage.
    assert "/manage/" not in body and "annual gift" not in body


def test_an_annual_gifts_receipt_carries_its_manage_link(make_app):
    body = receipt_for(make_app(**ORGANISATION), GiftKind.recurring, "in_annual")
    assert "Manage your annual gift" in body and "/manage/" in body


def mailed_receipt(app, mailbox, kind: GiftKind, key: str, name: str):
    with app.app_context():
        donor = find_or_create_donor(db.session, email=f"{key}@example.com", name="Rae", now=PAID)
        entry, _ = record_payment(db.session, donor=donor, stripe_object_id=key, kind=kind, amount_cents=2600,
                                  currency="aud", paid_at=PAID, now=PAID)
        queue_receipt(db.session, entry, context_for(app), PAID, name=name)
        db.session.commit()
    [message] = mailbox.to(f"{key}@example.com")
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.iter_parts()
    assert (plain.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    return plain.get_content(), html.get_content()


def test_a_receipt_arrives_as_text_and_html_with_the_same_facts_and_the_name_escaped(make_app, mailbox):
    app = make_app(**ORGANISATION)
    text, html = mailed_receipt(app, mailbox, GiftKind.one_off, "pi_html", "<b>Zoë & co</b>")
    assert "Dear <b>Zoë & co</b>," in text  # plain text is shown as it is: nothing to escape
    assert "Dear &lt;b&gt;Zoë &amp; co&lt;/b&gt;," in html
    assert "<b>Zoë" not in html and "<script" not in html
    for fact in ("$26 AUD", "1 December 2026, 1:00\u202fam AEDT", "You are Sight+ until 1 December 2027",
                 "Sight Media Pty Ltd, ABN 12 345 678 901", "Gifts to Sight are not tax deductible.", "pi_html"):
        assert fact in text and fact in html
    assert "/account" in html
    assert "/manage/" not in html and "Manage your annual gift" not in html


def test_an_annual_gifts_html_receipt_links_to_manage_it(make_app, mailbox):
    text, html = mailed_receipt(make_app(**ORGANISATION), mailbox, GiftKind.recurring, "in_html", "Rae")
    [manage_url] = re.findall(r"http\S+/manage/\S+", text)
    assert f'<a href="{manage_url}">Manage your annual gift</a>' in html


def test_past_the_threshold_the_account_says_how_much_was_given(app, client):
    with app.app_context():
        donor = find_or_create_donor(db.session, email="big@example.com", name="Bea", now=utcnow())
        record_payment(db.session, donor=donor, stripe_object_id="pi_92", kind=GiftKind.one_off, amount_cents=9200,
                       currency="aud", paid_at=utcnow(), now=utcnow())
        db.session.commit()
        sign_in_as(client, donor.user)
    html = client.get("/account").get_data(as_text=True)
    assert "$92 given in the last 12 months" in html and "$92 of $26" not in html
