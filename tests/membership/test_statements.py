"""Giving statements: the financial year of a gift and of a refund, totals against the ledger, the
web page and the PDF (read back with pdftotext), the yearly mailing (once, resumable, two runs at
once, its pace), closed accounts, and the staff count."""

from __future__ import annotations

import re
import subprocess

import pytest
from sqlalchemy import select

from accounts.models import Role, User
from membership.context import context_for
from membership.models import LedgerEntry, StatementSent
from membership.statements import financial_year_of, send_statements, statement_for
from sight.config import ConfigError, load_config
from sight.db import utcnow
from sight.extensions import db
from sight.models import OutboxMessage
from tests.helpers import make_user, run_at_once, sign_in_as, sign_in_url
from tests.membership.staff.conftest import add_gift, at, db_session, make_donor  # noqa: F401

ABN = "51 824 753 556"
LEGAL_NAME = "Sight Media Ltd"
TAX_STATEMENT = "Sight Media Ltd is a deductible gift recipient."
ZONE = "Australia/Sydney"


def test_a_gift_belongs_to_the_year_of_its_time_in_sydney():
    # 30 June 2026, 14:30 UTC is already 1 July, 00:30 in Sydney: the year that ends in 2027.
    assert financial_year_of(at(2026, 6, 30, 13), ZONE, 7) == 2026
    assert financial_year_of(at(2026, 6, 30, 15), ZONE, 7) == 2027
    assert financial_year_of(at(2026, 1, 1, 0), ZONE, 7) == 2026
    # A calendar financial year is named by its own year.
    assert financial_year_of(at(2026, 12, 31, 12), ZONE, 1) == 2026
    assert financial_year_of(at(2026, 12, 31, 14), ZONE, 1) == 2027


def the_ledger_net(session, user_id, start, end) -> int:
    """The slow way: every ledger row of the donor, its net, summed where paid_at falls in [start, end)."""
    total = 0
    for entry in session.scalars(select(LedgerEntry)):
        if entry.donor.user_id == user_id and start <= entry.paid_at < end:
            total += entry.amount_cents - entry.refunded_cents
    return total


def test_statement_totals_equal_the_ledger_and_a_july_refund_lowers_the_june_year(app, db_session):
    donor = make_donor(db_session, "giver@example.com", "Gail Giver")
    add_gift(db_session, donor, 5000, at(2025, 8, 10, 3))
    add_gift(db_session, donor, 2600, at(2026, 2, 1, 3), refunded=1000, refunded_at=at(2026, 2, 3))
    june = add_gift(db_session, donor, 3000, at(2026, 6, 20, 3), refunded=3000, refunded_at=at(2026, 7, 5))  # June gift, July refund
    add_gift(db_session, donor, 4000, at(2026, 6, 30, 15))  # 1 July in Sydney: next year
    add_gift(db_session, donor, 1000, at(2026, 9, 1, 3))
    other = make_donor(db_session, "other@example.com")
    add_gift(db_session, other, 9900, at(2026, 3, 1, 3))

    with app.app_context():
        settings = context_for(app).settings
        s2026 = statement_for(db.session, donor.user_id, 2026, settings, start_month=7)
        s2027 = statement_for(db.session, donor.user_id, 2027, settings, start_month=7)
        assert statement_for(db.session, donor.user_id, 2025, settings, start_month=7) is None
        assert [line.receipt_number for line in s2026.lines][-1] == june.id
        assert (s2026.amount_cents, s2026.refunded_cents, s2026.total_cents) == (10600, 4000, 6600)
        assert (s2027.amount_cents, s2027.refunded_cents, s2027.total_cents) == (5000, 0, 5000)
        for statement in (s2026, s2027):
            assert statement.total_cents == the_ledger_net(db.session, donor.user_id, statement.starts_at, statement.ends_at)
        assert s2026.total_cents + s2027.total_cents == the_ledger_net(db.session, donor.user_id, at(2000, 1, 1), at(2100, 1, 1))


def receipt_app(make_app):
    return make_app(ORG_ABN=ABN, ORG_LEGAL_NAME=LEGAL_NAME, RECEIPT_TAX_STATEMENT=TAX_STATEMENT)


def test_the_donor_reads_the_statement_as_a_page_and_as_a_pdf(make_app, db_session, tmp_path):
    app = receipt_app(make_app)
    donor = make_donor(db_session, "pdf@example.com", "Pat Pdf")
    add_gift(db_session, donor, 5000, at(2025, 8, 10, 3))
    add_gift(db_session, donor, 2650, at(2026, 2, 1, 3), refunded=1000, refunded_at=at(2026, 7, 3))
    client = app.test_client()
    with app.app_context():
        sign_in_as(client, db.session.get(User, donor.user_id))

    account = client.get("/account").get_data(as_text=True)
    assert "2025–26" in account and 'href="/account/statements/2026.pdf"' in account

    page = client.get("/account/statements/2026").get_data(as_text=True)
    assert "Giving statement 2025–26" in page and "1 July 2025" in page and "30 June 2026" in page
    assert "$66.50 AUD" in page and f"ABN {ABN}" in page and TAX_STATEMENT in page

    response = client.get("/account/statements/2026.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    (tmp_path / "statement.pdf").write_bytes(response.data)
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "statement.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "Giving statement 2025–26" in text
    assert f"ABN {ABN}" in text and LEGAL_NAME in text and TAX_STATEMENT in text
    assert re.search(r"Total for the year\s+\$76\.50\s+\$10\s+\$66\.50", text), text
    assert "$66.50 AUD" in text

    for year in ("2024", "0", "1", "9999", "99999999"):
        assert client.get(f"/account/statements/{year}").status_code == 404
        assert client.get(f"/account/statements/{year}.pdf").status_code == 404
    # Someone else's year is not theirs to read.
    other = make_donor(db_session, "other@example.com")
    add_gift(db_session, other, 2600, at(2024, 3, 1, 3))
    assert client.get("/account/statements/2024").status_code == 404
    assert app.test_client().get("/account/statements/2026").headers["Location"] == sign_in_url("/account/statements/2026")


def sent_to(app, kind="giving_statement") -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(select(OutboxMessage.to_address).where(OutboxMessage.kind == kind)))


def test_the_yearly_mailing_sends_each_giver_once_and_never_to_a_closed_account(make_app, db_session, mailbox):
    app = receipt_app(make_app)
    first = make_donor(db_session, "first@example.com", "Fay First")
    add_gift(db_session, first, 5000, at(2025, 8, 10, 3))
    add_gift(db_session, first, 2600, at(2026, 6, 20, 3), refunded=600, refunded_at=at(2026, 7, 5))
    second = make_donor(db_session, "second@example.com")
    add_gift(db_session, second, 1000, at(2026, 1, 10, 3))
    closed = make_donor(db_session, "closed@example.com")
    add_gift(db_session, closed, 2600, at(2026, 1, 10, 3))
    db_session.get(User, closed.user_id).closed_at = at(2026, 8, 1)
    later = make_donor(db_session, "later@example.com")
    add_gift(db_session, later, 2600, at(2026, 8, 10, 3))
    db_session.commit()
    runner = app.test_cli_runner()

    result = runner.invoke(args=["membership", "statements", "send", "--year", "2026", "--per-minute", "6000"])
    assert "Sent 2 giving statement(s) for 2025–26." in result.output, result.output
    again = runner.invoke(args=["membership", "statements", "send", "--year", "2026", "--per-minute", "6000"])
    assert "Sent 0 giving statement(s) for 2025–26." in again.output
    assert sent_to(app) == ["first@example.com", "second@example.com"]

    message = mailbox.wait_for("first@example.com")
    assert message["Subject"] == "Your giving statement for 2025–26"
    text, html = message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()
    assert "Total for the year: $70 AUD" in text and f"ABN {ABN}" in text and TAX_STATEMENT in text
    assert "$70 AUD" in html and "/account/statements/2026.pdf" in html

    with app.app_context():
        settings = context_for(app).settings
        assert statement_for(db.session, closed.user_id, 2026, settings, start_month=7) is None


def test_a_run_after_a_crash_sends_the_rest_and_two_runs_at_once_send_once(app, db_session):
    donors = []
    for n in range(10):
        donor = make_donor(db_session, f"giver{n}@example.com")
        add_gift(db_session, donor, 1000 + n, at(2026, 3, 1, n))
        donors.append(donor)
    # A run that stopped after its first statement left this behind.
    db_session.add(StatementSent(user_id=donors[0].user_id, financial_year=2026, total_cents=1000, sent_at=utcnow()))
    db_session.commit()
    counts = run_at_once(
        app, lambda session: send_statements(session, context_for(app), 2026, utcnow, start_month=7, per_minute=0)
    )
    assert sum(counts) == 9
    assert sent_to(app) == sorted(f"giver{n}@example.com" for n in range(1, 10))


def test_the_mailing_keeps_to_its_pace(app, db_session):
    for n in range(3):
        add_gift(db_session, make_donor(db_session, f"paced{n}@example.com"), 2600, at(2026, 3, 1, n))
    pauses = []
    with app.app_context():
        sent = send_statements(db.session, context_for(app), 2026, utcnow, start_month=7, per_minute=30,
                               sleep=pauses.append)
    assert sent == 3 and pauses == [2.0, 2.0, 2.0]


def test_staff_see_how_many_statements_were_sent(app, client, staff_client, db_session):
    for n in range(3):
        add_gift(db_session, make_donor(db_session, f"count{n}@example.com"), 2600, at(2026, 3, 1, n))
    with app.app_context():
        send_statements(db.session, context_for(app), 2026, utcnow, start_month=7, per_minute=0)
    add_gift(db_session, make_donor(db_session, "late@example.com"), 2600, at(2026, 4, 1, 3))
    html = staff_client.get("/staff/members/statements").get_data(as_text=True)
    assert re.search(r"<th scope=\"row\">2025–26[^<]*</th><td class=\"num\">4</td><td class=\"num\">3</td>", html), html


def test_only_staff_see_the_statements_page(app):
    anonymous = app.test_client()
    assert anonymous.get("/staff/members/statements").headers["Location"] == sign_in_url("/staff/members/statements")
    reader = make_user(app, "reader@example.com", role=Role.reader)
    client = app.test_client()
    sign_in_as(client, reader)
    assert client.get("/staff/members/statements").status_code == 403


def test_the_start_month_must_be_a_month(tmp_path):
    with pytest.raises(ConfigError) as refused:
        load_config(str(tmp_path), {"APP_ENV": "test", "FINANCIAL_YEAR_START_MONTH": "13", "LAPSE_REMINDER_DAYS": "0"})
    assert refused.value.problems == [
        "LAPSE_REMINDER_DAYS=0 is too small: at least 1.",
        "FINANCIAL_YEAR_START_MONTH=13 is not a month: 1 to 12.",
    ]
    assert load_config(str(tmp_path), {"APP_ENV": "test"})["FINANCIAL_YEAR_START_MONTH"] == 7
