"""Donor retention for staff: every figure, by month and by financial year, held equal to a slow count
written here from the definitions (DESIGN.md, "The donor's year"); the page, its chart and its CSV;
who may see them."""

from __future__ import annotations

import csv
import io
import random
import statistics
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from accounts.models import Role
from membership.context import context_for
from membership.models import (
    ComplimentaryGrant,
    Donation,
    DonationStatus,
    Donor,
    GiftKind,
    LedgerEntry,
    NoticeKind,
    RenewalNotice,
    SightPlusCount,
    Subscription,
    SubscriptionStatus,
)
from membership.retention import CSV_HEADERS, SETTLED, financial_years, months, retention, retention_rows
from membership.rules import RESOLUTION, AnnualGift, Gift, Grant, sight_plus_status
from sight.db import utcnow
from sight.extensions import db
from sight.models import AuditEntry
from tests.helpers import make_user, sign_in_as, sign_in_url
from tests.membership.staff.conftest import add_annual, add_gift, add_grant, at, make_donor

ZONE = ZoneInfo("Australia/Sydney")
NOW = at(2027, 3, 15, 3)


@pytest.fixture
def donors_over_three_years(db_session):
    """Sixty donors giving at random over three years before NOW, with refunds, annual gifts that
    start, end and fail, and grants."""
    chance = random.Random(21)
    for n in range(60):
        donor = make_donor(db_session, f"donor{n}@example.com")
        for _ in range(chance.randint(0, 6)):
            paid = NOW - timedelta(days=chance.uniform(0, 1100))
            cents = chance.choice([500, 1000, 2600, 5000, 10000])
            refund = chance.random()
            if refund < 0.1:
                add_gift(db_session, donor, cents, paid, refunded=cents, refunded_at=paid + timedelta(days=3))
            elif refund < 0.2:
                add_gift(db_session, donor, cents, paid, refunded=cents // 2, refunded_at=paid + timedelta(days=40))
            else:
                add_gift(db_session, donor, cents, paid)
        if n % 6 == 0:
            started = NOW - timedelta(days=chance.uniform(30, 900))
            annual = add_annual(db_session, donor, 2600, period_end=started + timedelta(days=365), created_at=started)
            if n % 12 == 0:
                annual.status = SubscriptionStatus.canceled
                annual.ended_at = started + timedelta(days=chance.uniform(10, 300))
            db_session.add(RenewalNotice(subscription_id=annual.id, kind=NoticeKind.payment_failed,
                                         period_key=f"in_{n}", sent_at=started + timedelta(days=chance.uniform(1, 30))))
            db_session.commit()
        if n % 4 == 1:
            started = NOW - timedelta(days=chance.uniform(0, 900))
            for source, status in (("survey:reader-survey", DonationStatus.completed),
                                   ("survey:reader-survey", DonationStatus.awaiting_card),
                                   ("newsletter", DonationStatus.completed)):
                db_session.add(Donation(donor_id=donor.id, kind=GiftKind.one_off, amount_cents=2600, currency="aud",
                                        source=source, status=status, created_at=started))
            db_session.commit()
        if n % 10 == 5:
            starts = NOW - timedelta(days=chance.uniform(0, 700))
            add_grant(db_session, donor.user_id, starts, starts + timedelta(days=90))
    return db_session


def slow_figures(session, periods, name_of):
    """Each figure counted donor by donor, gift by gift, from the definitions; `name_of(moment)` is
    the name of the period a moment falls in, worked out from its date in Sydney."""
    names = [p.name for p in periods]
    gifts_of: dict[int, list] = {}
    for entry in session.scalars(select(LedgerEntry)):
        if entry.amount_cents > entry.refunded_cents:
            gifts_of.setdefault(entry.donor_id, []).append(entry)
    rows = []
    for index in range(1, len(periods)):
        this, previous = names[index], names[index - 1]
        counts = dict.fromkeys(["donors", "new", "retained", "recovered", "lapsed", "sybunt"], 0)
        for gifts in gifts_of.values():
            given = {name_of(g.paid_at) for g in gifts}
            gave, gave_before = this in given, previous in given
            earlier = any(g.paid_at < periods[index].starts_at for g in gifts)
            long_ago = any(g.paid_at < periods[index - 1].starts_at for g in gifts)
            counts["donors"] += gave
            counts["new"] += gave and not earlier
            counts["retained"] += gave and gave_before
            counts["recovered"] += gave and not gave_before and long_ago
            counts["lapsed"] += gave_before and not gave
            counts["sybunt"] += long_ago and not gave_before and not gave
        nets = [g.amount_cents - g.refunded_cents for gifts in gifts_of.values() for g in gifts if name_of(g.paid_at) == this]
        t = min(periods[index].ends_at - RESOLUTION, NOW)
        members = 0
        for donor in session.scalars(select(Donor)):
            status = sight_plus_status(
                [Gift(e.stripe_object_id, e.paid_at, e.amount_cents, tuple((a.occurred_at, a.amount_cents) for a in e.adjustments))
                 for e in donor.entries],
                [AnnualGift(s.stripe_subscription_id, s.status.value, s.yearly_amount_cents, s.current_period_end,
                            s.started_at, s.ended_at, s.first_paid_at) for s in donor.subscriptions],
                [Grant(g.starts_at, g.ends_at, g.revoked_at)
                 for g in session.scalars(select(ComplimentaryGrant).where(ComplimentaryGrant.user_id == donor.user_id))],
                t, threshold_cents=2600, grace_days=14,
            )
            members += status.is_member
        subscriptions = session.scalars(select(Subscription)).all()
        notices = session.scalars(select(RenewalNotice)).all()
        asked = [d for d in session.scalars(select(Donation))
                 if (d.source or "").startswith("survey:") and d.status is DonationStatus.completed]
        rows.append({
            **counts,
            "retention_rate": counts["retained"] / sum(previous in {name_of(g.paid_at) for g in gifts} for gifts in gifts_of.values())
            if any(previous in {name_of(g.paid_at) for g in gifts} for gifts in gifts_of.values()) else None,
            "members_at_end": members,
            "annual_started": sum(name_of(s.started_at) == this for s in subscriptions),
            "annual_cancelled": sum(s.ended_at is not None and name_of(s.ended_at) == this for s in subscriptions),
            "annual_failed": sum(name_of(n.sent_at) == this for n in notices),
            "gifts_from_the_ask": sum(name_of(d.created_at) == this for d in asked),
            "gifts": len(nets),
            "average_gift_cents": round(sum(nets) / len(nets)) if nets else None,
            "median_gift_cents": round(statistics.median(nets)) if nets else None,
        })
    return rows


def month_name(moment) -> str:
    return f"{moment.astimezone(ZONE):%Y-%m}"


def financial_year_name(moment) -> str:
    local = moment.astimezone(ZONE)
    ends = local.year + 1 if local.month >= 7 else local.year
    return f"{ends - 1}–{ends % 100:02d}"


def fast_figures(app, periods):
    with app.app_context():
        figures = [
            {key: getattr(f, key) for key in ["donors", "new", "retained", "recovered", "lapsed", "sybunt", "retention_rate",
                                                "members_at_end", "annual_started", "annual_cancelled", "annual_failed",
                                                "gifts_from_the_ask", "gifts", "average_gift_cents", "median_gift_cents"]}
            for f in retention(db.session, periods, context_for(app).settings, NOW)
        ]
        db.session.commit()
    return figures


def test_every_month_equals_the_slow_count(app, donors_over_three_years):
    periods = months(NOW, "Australia/Sydney", 24)
    assert [p.name for p in periods][-2:] == ["2027-02", "2027-03"] and len(periods) == 25
    fast = fast_figures(app, periods)
    assert fast == slow_figures(donors_over_three_years, periods, month_name)
    # The counts of settled month ends were kept, and read back the next time, equal.
    with app.app_context():
        kept = db.session.scalars(select(SightPlusCount.at).order_by(SightPlusCount.at)).all()
    assert kept == [p.ends_at - RESOLUTION for p in periods[1:] if p.ends_at - RESOLUTION <= NOW - SETTLED]
    assert len(kept) == 22
    assert fast_figures(app, periods) == fast
    # The data exercises every figure.
    for key in ["new", "retained", "recovered", "lapsed", "sybunt", "members_at_end", "annual_started",
                "annual_cancelled", "annual_failed", "gifts_from_the_ask"]:
        assert sum(row[key] for row in fast) > 0, key
    assert all(row["new"] + row["retained"] + row["recovered"] == row["donors"] for row in fast)


def test_every_financial_year_equals_the_slow_count(app, donors_over_three_years):
    periods = financial_years(NOW, "Australia/Sydney", 7, 4)
    assert [p.name for p in periods] == ["2022–23", "2023–24", "2024–25", "2025–26", "2026–27"]
    assert fast_figures(app, periods) == slow_figures(donors_over_three_years, periods, financial_year_name)


def test_staff_read_the_page_and_chart_and_download_the_csv(app, db_session, staff_client, staff_user):
    donor = make_donor(db_session, "regular@example.com")
    now = utcnow()
    for months_ago in (1, 2, 14):
        add_gift(db_session, donor, 2600, now - timedelta(days=30 * months_ago + 1))
    page = staff_client.get("/staff/members/retention")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Donor retention" in html
    assert html.count('<rect class="chart-bar"') == 24 and "<polyline" in html
    by_year = staff_client.get("/staff/members/retention?by=year").get_data(as_text=True)
    assert "By financial year" in by_year and "<svg" not in by_year

    export = staff_client.get("/staff/members/retention.csv")
    assert export.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True))))
    assert tuple(rows[0]) == CSV_HEADERS and len(rows) == 25
    with app.app_context():
        expected = retention_rows(retention(db.session, months(utcnow(), "Australia/Sydney", 24), context_for(app).settings, utcnow()))
        audit = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "membership.retention_export")).all()
    # Members at the end of the month under way are counted now: compare the months that ended.
    assert [row[:9] for row in rows[1:]] == [[str(cell) for cell in row[:9]] for row in expected]
    assert sum(int(row[2]) for row in rows[1:]) == 3
    assert len(audit) == 1 and audit[0].actor_id == staff_user.id


def test_only_staff_see_retention(app):
    anonymous = app.test_client()
    for path in ("/staff/members/retention", "/staff/members/retention.csv"):
        assert anonymous.get(path).headers["Location"] == sign_in_url(path)
    reader = make_user(app, "reader@example.com", role=Role.reader)
    client = app.test_client()
    sign_in_as(client, reader)
    for path in ("/staff/members/retention", "/staff/members/retention.csv"):
        assert client.get(path).status_code == 403
