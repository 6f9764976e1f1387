"""Every email Sight sends, written once in its own template: a plain-text part and an HTML part
that say the same things, the HTML plain and safe (no images, scripts or styles; real links)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import select

from accounts.models import Role
from accounts.operations import invite_staff, request_password_reset, request_sign_in_link
from membership.context import context_for
from membership.donors import find_or_create_donor
from membership.lapse import send_lapse_reminders
from membership.ledger import record_payment
from membership.models import GiftKind, LedgerEntry, Subscription, SubscriptionStatus
from membership.receipts import (
    queue_adjustment_notice,
    queue_change_confirmation,
    queue_grant_confirmation,
    queue_new_link,
    queue_payment_failed_notice,
    queue_receipt,
    queue_sight_plus_ended_if_so,
    send_renewal_reminders,
)
from membership.statements import financial_year_of, send_statements
from sight.extensions import db
from sight.models import OutboxMessage
from tests.helpers import create_user

ROOT = Path(__file__).resolve().parent.parent.parent
NOW = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
# Every message's template: templates/<package>/email/<kind>.html, beside the layouts they share.
MESSAGE_TEMPLATES = sorted(
    path for path in ROOT.glob("templates/*/email/*.html") if path.name not in ("layout.html", "_blocks.html")
)
URL = re.compile(r"https?://\S+")


def queue_every_kind_of_email(app) -> None:
    """One of each message, from the domain functions that send them."""
    link = "http://127.0.0.1:5000/{}/".format
    with app.app_context():
        session = db.session
        create_user(session, "reader@example.com", name="Rae <Reader> & co")
        request_sign_in_link(session, email="reader@example.com", link=lambda raw: link("sign-in/link") + raw, now=NOW)
        request_password_reset(session, email="reader@example.com", link=lambda raw: link("password/reset") + raw, now=NOW)
        admin = create_user(session, "admin@example.com", role=Role.admin, name="Ada Admin")
        invite_staff(session, email="new.staff@example.com", name="Nat", role=Role.staff, actor=admin,
                     link=lambda raw: link("sign-in/link") + raw, now=NOW)

        ctx = context_for(app)
        donor = find_or_create_donor(session, email="donor@example.com", name="Dee Donor", now=NOW)
        for key, kind in (("pi_once", GiftKind.one_off), ("in_yearly", GiftKind.recurring)):
            entry, _ = record_payment(session, donor=donor, stripe_object_id=key, kind=kind, amount_cents=2650,
                                      currency="aud", paid_at=NOW, now=NOW)
            queue_receipt(session, entry, ctx, NOW)
        subscription = Subscription(
            donor=donor, stripe_subscription_id="sub_every_email", status=SubscriptionStatus.active,
            yearly_amount_cents=2600, currency="aud", current_period_end=NOW + timedelta(days=10),
            pending_amount_cents=5000,
        )
        session.add(subscription)
        session.flush()
        for change in ("cancel", "resume", "amount", "card"):
            queue_change_confirmation(session, ctx, subscription, change, NOW)
        queue_new_link(session, ctx, donor, NOW)
        queue_grant_confirmation(session, donor.user, NOW + timedelta(days=90), ctx.settings.formats, NOW)
        queue_payment_failed_notice(session, subscription, "in_failed", 2600, ctx, NOW)
        refunded = session.scalar(select(LedgerEntry).where(LedgerEntry.stripe_object_id == "pi_once"))
        queue_adjustment_notice(session, ctx, refunded, False, 1000, NOW)
        queue_adjustment_notice(session, ctx, refunded, True, 1650, NOW)
        queue_sight_plus_ended_if_so(session, ctx, create_user(session, "ended@example.com", name="Ed Ended"),
                                     "your complimentary membership was ended", NOW)
        session.commit()
        assert send_renewal_reminders(session, ctx, NOW) == 1
        session.commit()

        # A member through one gift, 340 days ago: a lapse reminder now, and that year's statement.
        lapsing = find_or_create_donor(session, email="lapsing@example.com", name="Lee Lapsing", now=NOW)
        record_payment(session, donor=lapsing, stripe_object_id="pi_lapsing", kind=GiftKind.one_off,
                       amount_cents=2600, currency="aud", paid_at=NOW - timedelta(days=340), now=NOW)
        session.commit()
        assert send_lapse_reminders(session, ctx, NOW, reminder_days=30) == 1
        year = financial_year_of(NOW - timedelta(days=340), ctx.settings.formats.timezone, 7)
        assert send_statements(session, ctx, year, lambda: NOW, start_month=7, per_minute=0) == 1
        session.commit()


class HtmlPart(HTMLParser):
    """What a mail client without CSS or images shows, and what it must not be handed."""

    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.links: list[tuple[str, str]] = []
        self._open_link: str | None = None
        self._link_text = ""
        self.title = ""
        self.words_shown = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += attrs
        if tag == "a":
            self._open_link, self._link_text = dict(attrs).get("href"), ""
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        if tag == "a":
            self.links.append((self._open_link, self._link_text.strip()))
            self._open_link = None
        self._in_title = False

    def handle_data(self, data):
        if self._open_link is not None:
            self._link_text += data
        if self._in_title:
            self.title += data
        elif "body" in self.tags:
            self.words_shown += data + " "


@pytest.fixture
def outbox(app) -> dict[str, list[OutboxMessage]]:
    queue_every_kind_of_email(app)
    with app.app_context():
        messages = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        db.session.expunge_all()
    by_kind: dict[str, list[OutboxMessage]] = {}
    for message in messages:
        by_kind.setdefault(message.kind, []).append(message)
    return by_kind


def test_every_message_kind_has_a_template_and_each_template_is_sent(outbox):
    assert sorted(outbox) == sorted(path.stem for path in MESSAGE_TEMPLATES)
    assert {"receipt", "sign_in_link", "reset_link", "staff_invite", "renewal_reminder", "renewal_failed",
            "annual_gift_cancel", "manage_link", "complimentary_grant", "lapse_reminder",
            "giving_statement"} <= set(outbox)


def test_each_message_says_the_same_in_text_and_html(outbox):
    for kind, messages in outbox.items():
        for message in messages:
            text, html = message.body_text, message.body_html
            assert text and html, kind
            assert not re.search(r"</?(p|a|table|th|td)\b", text), f"{kind}: HTML tags in the text part"
            # The name is escaped in HTML and shown as it is in text.
            if message.to_address == "reader@example.com":
                assert "Hello Rae <Reader> & co," in text and "Hello Rae &lt;Reader&gt; &amp; co," in html
            part = HtmlPart()
            part.feed(html)
            assert part.title == message.subject, kind
            text_links = URL.findall(text)
            assert text_links or kind == "complimentary_grant", f"{kind} has no link"
            assert sorted(text_links) == sorted(href for href, _ in part.links), kind
            # The same words in the same order: the text part shows each link's address after its words.
            assert re.findall(r"\w+", URL.sub("", text)) == re.findall(r"\w+", part.words_shown), kind


def test_every_html_part_is_plain_safe_and_readable_without_css(outbox):
    for kind, messages in outbox.items():
        for message in messages:
            part = HtmlPart()
            part.feed(message.body_html)
            assert {"html", "head", "title", "body", "main", "p"} <= set(part.tags), kind
            # Nothing fetched from elsewhere, nothing run, no styling to lose.
            assert not {"img", "script", "style", "link", "iframe", "object", "form"} & set(part.tags), kind
            assert not [name for name, _ in part.attributes if name == "style" or name.startswith("on")], kind
            assert "lang" in dict(part.attributes)
            for href, label in part.links:
                assert href.startswith("http") and label, f"{kind}: a link without words"
            if "table" in part.tags:
                assert "th" in part.tags


def test_every_message_arrives_as_text_and_html_alternatives(app, outbox, mailbox):
    arrived = mailbox.messages
    assert len(arrived) == sum(len(messages) for messages in outbox.values())
    for message in arrived:
        assert message.get_content_type() == "multipart/alternative", message["Subject"]
        plain, html = message.iter_parts()
        assert (plain.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
        assert URL.findall(plain.get_content()) or message["Subject"] == "You are Sight+"


def test_no_product_code_sends_mail_but_through_a_template():
    """queue_mail takes a bare body; only sight/mail.py's queue_templated_mail may call it."""
    callers = [
        str(path.relative_to(ROOT))
        for package in ("sight", "accounts", "membership", "surveys", "identity")
        for path in (ROOT / package).rglob("*.py")
        if "queue_mail(" in path.read_text() and path != ROOT / "sight" / "mail.py"
    ]
    assert callers == []
