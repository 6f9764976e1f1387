"""Money and dates follow CURRENCY, LOCALE and DISPLAY_TIMEZONE (Babel) in pages and mail; no
template or mail spells a currency or a time zone of its own."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select

from membership.context import context_for
from membership.donors import find_or_create_donor
from membership.forms import parse_amount
from membership.ledger import record_payment
from membership.models import GiftKind
from membership.receipts import queue_receipt
from sight.extensions import db
from sight.models import OutboxMessage
from sight.templating import Formats
from surveys.definition import load_definition
from surveys.operations import DEFAULT_SURVEY_FILE, import_definition
from tests.helpers import sign_in_as

ROOT = Path(__file__).resolve().parent.parent.parent
# 14:00 UTC on 30 November: 1 am on 1 December in Sydney, 3 pm on 30 November in Berlin.
PAID = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)


def settings(**environ) -> dict:
    """An app's settings read (and checked) from these environment variables."""
    return {"ENVIRON": {"APP_ENV": "test", **environ}}


def mailed_receipt(app, cents: int = 2600) -> OutboxMessage:
    with app.app_context():
        donor = find_or_create_donor(db.session, email="donor@example.com", name="Dee", now=PAID)
        entry, _ = record_payment(db.session, donor=donor, stripe_object_id="pi_formats", kind=GiftKind.one_off,
                                  amount_cents=cents, currency=app.config["CURRENCY"], paid_at=PAID, now=PAID)
        queue_receipt(db.session, entry, context_for(app), PAID)
        db.session.commit()
        message = db.session.scalar(select(OutboxMessage))
        db.session.expunge(message)
        return message


def test_one_rule_for_money_whole_amounts_without_cents_in_the_locales_own_way():
    australian = Formats()
    assert [australian.money(c) for c in (2600, 2650, 100_000_000, -500, 5)] == [
        "$26", "$26.50", "$1,000,000", "-$5", "$0.05"]
    assert [Formats("eur", "en_IE").money(c) for c in (2600, 2650)] == ["€26", "€26.50"]
    assert [Formats("eur", "de_DE").money(c) for c in (2600, 2650)] == ["26\xa0€", "26,50\xa0€"]
    assert Formats("eur", "en_AU").money(2600) == "EUR26"  # how Australian English writes euros
    assert australian.currency_name() == "Australian dollars" and Formats("eur").currency_name() == "euros"


def test_days_and_moments_are_written_in_the_display_time_zone():
    sydney, berlin = Formats(), Formats(timezone="Europe/Berlin")
    assert sydney.day(PAID) == "1 December 2026" and berlin.day(PAID) == "30 November 2026"
    assert sydney.moment(PAID) == "1 December 2026, 1:00\u202fam AEDT"
    assert berlin.moment(PAID).startswith("30 November 2026, 3:00\u202fpm")
    assert sydney.day(date(2027, 1, 5)) == "5 January 2027"
    assert (sydney.zone_words(), berlin.zone_words()) == ("Sydney time", "Berlin time")


def test_an_amount_is_read_in_the_configured_currency():
    euros = Formats("eur", "en_IE")
    assert parse_amount("€30", euros) == parse_amount("30 EUR", euros) == parse_amount("30", euros) == 3000
    for foreign in ("$30", "A$30", "AUD 30", "£30"):
        try:
            parse_amount(foreign, euros)
        except ValueError as refused:
            assert str(refused) == "We can only accept gifts in euros (EUR)."
        else:
            raise AssertionError(f"{foreign} was taken as euros")
    assert parse_amount("$1,000.50", Formats()) == 100050


def test_with_euros_the_donate_page_and_a_receipt_speak_euros(make_app):
    for environ, twenty_six in (({"CURRENCY": "EUR", "LOCALE": "en_IE"}, "€26"), ({"CURRENCY": "eur"}, "EUR26")):
        app = make_app(**settings(**environ))
        page = app.test_client().get("/donate").get_data(as_text=True)
        assert "All amounts are in euros." in page and "Another amount (in euros)" in page
        assert f"Give {twenty_six} or more in a year" in page
        assert "Australian dollars" not in page and not re.search(r"\$\s?\d", page)
        home = app.test_client().get("/").get_data(as_text=True)
        assert f"annual donations of {twenty_six} or more" in home
        message = mailed_receipt(app)
        for part in (message.body_text, message.body_html):
            assert f"{twenty_six} EUR" in part and "(EUR)" in part
            assert "$" not in part and "Australian dollars" not in part and "AUD" not in part
        assert message.subject == f"Your receipt: {twenty_six} to Sight"
        with app.app_context():
            db.session.query(OutboxMessage).delete()
            db.session.commit()


def test_time_zone_words_follow_the_display_time_zone(make_app, staff_user):
    app = make_app(**settings(DISPLAY_TIMEZONE="Europe/Berlin"))
    with app.app_context():
        import_definition(db.session, load_definition(DEFAULT_SURVEY_FILE.read_text()), None, PAID)
        db.session.commit()
    message = mailed_receipt(app)
    assert "Paid: 30 November 2026, 3:00\u202fpm" in message.body_text and "AEDT" not in message.body_text
    staff = app.test_client()
    sign_in_as(staff, staff_user)
    results = staff.get("/staff/surveys/reader-survey").get_data(as_text=True)
    assert "Dates are days in Berlin time" in results and "Sydney" not in results
    member = staff.get("/staff/members/1").get_data(as_text=True)
    assert "Sight+ stops at the start of this day (Berlin time)." in member


def test_no_template_or_mail_code_spells_a_currency_or_time_zone_of_its_own():
    checked = [*ROOT.glob("templates/**/*.html"), *ROOT.glob("static/**/*.js")] + [
        path for package in ("sight", "accounts", "membership", "surveys")
        for path in (ROOT / package).rglob("*.py")
        # The formatter's own examples, and the settings' help ("a code such as AUD").
        if path not in (ROOT / "sight" / "templating.py", ROOT / "sight" / "config.py")
    ]
    hard_coded = re.compile(r"Australian dollars|Sydney time|\(Sydney|AEDT|AEST|\$\s?(\d|\{\{)|A\$|\bAUD\b")
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in checked
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if hard_coded.search(line) and not line.lstrip().startswith("#")
    ]
    assert found == []
