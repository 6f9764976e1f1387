"""The members CSV: parsed back with the csv module, every field quoted, formulas neutralised, audited."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from sight.db import utcnow
from sight.models import AuditEntry

from .conftest import add_annual, add_gift, add_grant, days_ago, fresh, make_donor

PROBES = ["=1+2", "+61 400 000 000", "-5", "@SUM(A1)", "\tTab", "\rReturn", "\nNewline"]


def parse(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True), newline="")))


def test_members_csv_round_trip(staff_client, db_session):
    gifts = make_donor(db_session, "gifts@example.com", "Greta, “the giver” Ö'Brien 🎉")
    add_gift(db_session, gifts, 2000, days_ago(100))
    add_gift(db_session, gifts, 1050, days_ago(5), refunded=450)
    add_gift(db_session, gifts, 9900, days_ago(700))
    annual = make_donor(db_session, "annual@example.com", "شريف")
    sub = add_annual(db_session, annual, 5000, period_end=utcnow() + timedelta(days=100), cancel_at_period_end=True)
    comp = make_donor(db_session, "comp@example.com", "Line one\nline two")
    grant = add_grant(db_session, comp.user_id, days_ago(1), utcnow() + timedelta(days=30))

    rows = {row["email"]: row for row in parse(staff_client.get("/staff/members/export.csv"))}
    assert list(rows) == ["annual@example.com", "comp@example.com", "gifts@example.com"]
    g = rows["gifts@example.com"]
    assert g["name"] == "Greta, “the giver” Ö'Brien 🎉"
    assert g["user_id"] == str(gifts.user_id)
    assert (g["sight_plus"], g["sight_plus_reason"]) == ("yes", "gifts")
    assert g["net_last_12_months_aud"] == "26.00"
    assert (g["net_total_aud"], g["refunded_total_aud"], g["gifts"]) == ("125.00", "4.50", "3")
    assert g["sight_plus_until"].endswith("Z") and g["last_gift_at"].endswith("Z")
    assert g["stripe_customer_id"] == gifts.stripe_customer_id

    a = rows["annual@example.com"]
    assert a["name"] == "شريف"
    assert (a["sight_plus"], a["sight_plus_reason"], a["annual_gift_status"], a["annual_gift_aud"]) == ("yes", "annual_gift", "active", "50.00")
    assert a["annual_gift_renews_at"] == "" and a["annual_gift_ends_at"] == sub.current_period_end.isoformat().replace("+00:00", "Z")
    assert a["gifts"] == "0" and a["net_total_aud"] == "0.00"

    c = rows["comp@example.com"]
    assert c["name"] == "Line one\nline two"
    assert (c["sight_plus"], c["sight_plus_reason"]) == ("yes", "complimentary")
    assert c["complimentary_until"] == grant.ends_at.isoformat().replace("+00:00", "Z")


def test_every_field_is_quoted_and_lines_end_in_crlf(staff_client, db_session):
    add_gift(db_session, make_donor(db_session, "plain@example.com", "Plain"), 500, days_ago(1))
    body = staff_client.get("/staff/members/export.csv").get_data(as_text=True)
    header, row, end = body.split("\r\n")
    assert end == ""
    for line in (header, row):
        assert line.startswith('"') and line.endswith('"')
        assert len(next(csv.reader([line]))) == line.count('","') + 1
    assert '"user_id","email","name"' in header


@pytest.mark.parametrize("probe", PROBES)
def test_formula_injection_is_neutralised_in_text_cells(staff_client, db_session, probe):
    donor = make_donor(db_session, "probe@example.com", probe)
    add_gift(db_session, donor, 500, days_ago(1))
    [row] = parse(staff_client.get("/staff/members/export.csv"))
    assert row["name"] == "'" + probe
    # numbers stay numbers
    assert row["net_total_aud"] == "5.00" and row["user_id"] == str(donor.user_id)


def test_an_email_that_starts_like_a_formula_is_neutralised_too(staff_client, db_session):
    add_gift(db_session, make_donor(db_session, "=cmd@example.com", "x"), 500, days_ago(1))
    [row] = parse(staff_client.get("/staff/members/export.csv"))
    assert row["email"] == "'=cmd@example.com"


def test_filters_apply_and_the_export_is_audited_with_filters_and_rows(staff_client, db_session, staff_user):
    for n in range(3):
        add_gift(db_session, make_donor(db_session, f"member{n}@example.com"), 2600, days_ago(1))
    make_donor(db_session, "lapsed@example.com")
    response = staff_client.get("/staff/members/export.csv?q=member&status=sight_plus")
    assert [r["email"] for r in parse(response)] == [f"member{n}@example.com" for n in range(3)]
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Content-Disposition"].endswith('.csv"')

    fresh(db_session)
    [audit] = db_session.scalars(select(AuditEntry)).all()
    assert (audit.action, audit.actor_id, audit.target) == ("membership.export", staff_user.id, "members")
    assert audit.details == {"filters": {"q": "member", "status": "sight_plus"}, "rows": 3}


def test_a_byte_order_mark_for_excel_when_asked(staff_client, db_session):
    add_gift(db_session, make_donor(db_session, "ö@example.com", "Zoë"), 500, days_ago(1))
    plain = staff_client.get("/staff/members/export.csv").data
    excel = staff_client.get("/staff/members/export.csv?bom=y").data
    assert not plain.startswith(b"\xef\xbb\xbf")
    assert excel == b"\xef\xbb\xbf" + plain
    assert "Zoë" in excel.decode("utf-8-sig")


def test_the_export_streams_in_batches(staff_client, db_session, app):
    for n in range(1200):
        add_gift(db_session, make_donor(db_session, f"donor{n:04d}@example.com", "x" * 100), 500, days_ago(1))
    response = staff_client.get("/staff/members/export.csv")
    assert response.is_streamed
    chunks = list(response.response)
    assert len(chunks) > 2  # sent as it is written, not built whole first
    rows = list(csv.DictReader(io.StringIO(b"".join(chunks).decode(), newline="")))
    assert [r["email"] for r in rows] == [f"donor{n:04d}@example.com" for n in range(1200)]


@pytest.mark.parametrize("query", ["status=gold", "q=" + "x" * 300])
def test_bad_filters_are_a_400_page_not_an_empty_file(staff_client, db_session, query):
    response = staff_client.get(f"/staff/members/export.csv?{query}")
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    fresh(db_session)
    assert db_session.scalars(select(AuditEntry)).all() == []
