"""Lapse reminders: who is told, when, and exactly once, across a year on a controlled clock; two
runs at once; the opt-out link; the prefilled donate form; the account page's date."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import select

from accounts.models import User
from membership.context import context_for
from membership.lapse import send_lapse_reminders
from membership.models import LapseReminder
from sight.db import utcnow
from sight.extensions import db
from sight.models import OutboxMessage
from tests.helpers import csrf_token_from, run_at_once, sign_in_as
from tests.membership.staff.conftest import add_annual, add_gift, add_grant, at, db_session, make_donor  # noqa: F401

ZONE = ZoneInfo("Australia/Sydney")
START = at(2027, 1, 4, 20)  # 7 am in Sydney, when the timer runs
DAYS = 366


def day(n: int):
    return START + timedelta(days=n)


def reminders_by_day(app, donors: dict[str, list]) -> dict[str, list[int]]:
    """Run the job once a day for 366 days; which day each person was emailed."""
    told: dict[str, list[int]] = {email: [] for email in donors}
    with app.app_context():
        ctx = context_for(app)
        seen = 0
        for n in range(DAYS):
            send_lapse_reminders(db.session, ctx, day(n), reminder_days=30)
            db.session.commit()
            for message in db.session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "lapse_reminder", OutboxMessage.id > seen)
                .order_by(OutboxMessage.id)
            ):
                told[message.to_address].append(n)
                seen = message.id
    return told


def test_a_year_of_daily_runs_tells_each_member_who_rests_on_gifts_once_30_days_before(app, db_session):
    gift = make_donor(db_session, "gift@example.com", "Gift Giver")
    add_gift(db_session, gift, 2600, day(10))  # lapses on day 375: told on day 345
    two = make_donor(db_session, "two@example.com", "Two Gifts")
    add_gift(db_session, two, 2000, day(5))
    add_gift(db_session, two, 1000, day(100))  # $30 from day 100; on day 370 only $10 is left: told on day 340
    mover = make_donor(db_session, "mover@example.com", "Gives Again")
    add_gift(db_session, mover, 2000, day(1))
    add_gift(db_session, mover, 1000, day(20))  # lapses on day 366: told on day 336
    add_gift(db_session, mover, 1600, day(340))  # then gives the $16 asked: lapses on day 385, told on day 355
    refunded = make_donor(db_session, "refunded@example.com")
    add_gift(db_session, refunded, 2600, day(3), refunded=2600, refunded_at=day(30))  # Sight+ for 27 days only
    annual = make_donor(db_session, "annual@example.com")
    add_gift(db_session, annual, 2600, day(10))
    add_annual(db_session, annual, 2600, period_end=day(500), created_at=day(0))
    granted = make_donor(db_session, "granted@example.com")
    add_gift(db_session, granted, 2600, day(10))
    add_grant(db_session, granted.user_id, day(0), day(600))
    closed = make_donor(db_session, "closed@example.com")
    add_gift(db_session, closed, 2600, day(10))
    db_session.get(User, closed.user_id).closed_at = day(50)
    small = make_donor(db_session, "small@example.com")
    add_gift(db_session, small, 1000, day(10))
    db_session.commit()
    donors = {e: [] for e in ["gift@example.com", "two@example.com", "mover@example.com", "refunded@example.com",
                              "annual@example.com", "granted@example.com", "closed@example.com", "small@example.com"]}

    told = reminders_by_day(app, donors)

    assert told == {
        "gift@example.com": [345],
        "two@example.com": [340],
        "mover@example.com": [336, 355],
        "refunded@example.com": [],
        "annual@example.com": [],
        "granted@example.com": [],
        "closed@example.com": [],
        "small@example.com": [],
    }
    with app.app_context():
        message = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.to_address == "two@example.com")
        ).one()
        lapse_day = f"{day(370).astimezone(ZONE):%-d %B %Y}"
        assert message.subject == f"Your Sight+ ends on {lapse_day} unless you give again"
        assert "Dear Two Gifts," in message.body_text
        # $10 of the gifts still counts on that day: $16 more keeps Sight+ until that $10 leaves the year too.
        kept_until = f"{day(465).astimezone(ZONE):%-d %B %Y}"
        assert f"A gift of $16 keeps you Sight+ until {kept_until}" in message.body_text
        assert "$16" in message.body_html and lapse_day in message.body_html
        link = re.search(r"(http\S+/donate\?\S+)", message.body_text).group(1)
        assert parse_qs(urlsplit(link).query) == {"amount": ["1600"], "frequency": ["once"]}
        claimed = db.session.scalars(select(LapseReminder).order_by(LapseReminder.id)).all()
        assert [r.shortfall_cents for r in claimed] == [1600, 1600, 2600, 1000]


def test_two_runs_at_once_send_each_reminder_once(app, db_session):
    now = utcnow()
    for n in range(12):
        donor = make_donor(db_session, f"member{n}@example.com")
        add_gift(db_session, donor, 2600, now - timedelta(days=350, hours=n))
    counts = run_at_once(app, lambda session: send_lapse_reminders(session, context_for(app), now, reminder_days=30))
    assert sum(counts) == 12
    with app.app_context():
        sent = db.session.scalars(select(OutboxMessage.to_address).where(OutboxMessage.kind == "lapse_reminder")).all()
    assert sorted(sent) == sorted(f"member{n}@example.com" for n in range(12))


def test_the_reminder_arrives_with_text_and_html_and_its_link_stops_the_next(app, client, db_session, mailbox, runner):
    donor = make_donor(db_session, "stop@example.com", "Sam Stop")
    add_gift(db_session, donor, 2600, utcnow() - timedelta(days=340))
    result = runner.invoke(args=["membership", "lapse-reminders"])
    assert "Sent 1 lapse reminder(s) and 0 \"your Sight+ has ended\" mail(s)." in result.output
    message = mailbox.wait_for("stop@example.com")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "unless you give again" in message["Subject"] and "$26" in text and "Give $26" in html
    stop = re.search(r"(http\S+/sight-plus/reminders/stop/\S+)", text).group(1)
    path = urlsplit(stop).path

    page = client.get(path)
    assert page.status_code == 200 and "Stop these reminders" in page.get_data(as_text=True)
    done = client.post(path, data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})
    assert "t remind you again" in done.get_data(as_text=True)
    assert client.get(path[:-3] + "xyz").status_code == 404

    # A gift that moves the date would be told again, but they asked for no more reminders.
    add_gift(db_session, donor, 2600, utcnow() - timedelta(days=339))
    later = runner.invoke(args=["membership", "lapse-reminders"])
    assert "Sent 0 lapse reminder(s)" in later.output


def test_the_donate_form_takes_the_amount_a_reminder_asks_for(client):
    html = client.get("/donate?amount=1650&frequency=once").get_data(as_text=True)
    assert re.search(r'value="other"[^>]*checked|checked[^>]*value="other"', html)
    assert re.search(r'name="other_amount"[^>]*value="16.50"|value="16.50"[^>]*name="other_amount"', html)
    # Outside the limits, nothing is filled in.
    html = client.get("/donate?amount=5").get_data(as_text=True)
    assert 'value="0.05"' not in html


def test_the_account_page_shows_the_date_and_the_gift_that_keeps_sight_plus(app, client, db_session):
    donor = make_donor(db_session, "account@example.com")
    add_gift(db_session, donor, 2000, utcnow() - timedelta(days=300))
    add_gift(db_session, donor, 1000, utcnow() - timedelta(days=100))
    lapse_day = f"{(utcnow() + timedelta(days=65)).astimezone(ZONE):%-d %B %Y}"
    with app.app_context():
        sign_in_as(client, db.session.get(User, donor.user_id))
    html = client.get("/account").get_data(as_text=True)
    assert f"Sight+ until {lapse_day}; " in html
    assert re.search(r'href="/donate\?amount=1600&amp;frequency=once">give \$16</a> before then to keep it', html)


def ended_mails_by_day(app, emails: list[str], days: range) -> dict[str, list[int]]:
    """Run the daily job (twice a day, as a cron retried would) over `days`: which day each person
    was told their Sight+ has ended."""
    from membership.lapse import send_sight_plus_ended_notices

    told: dict[str, list[int]] = {email: [] for email in emails}
    with app.app_context():
        ctx = context_for(app)
        seen = 0
        for n in days:
            for _ in range(2):
                send_lapse_reminders(db.session, ctx, day(n), reminder_days=30)
                send_sight_plus_ended_notices(db.session, ctx, day(n))
                db.session.commit()
            for message in db.session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "sight_plus_ended", OutboxMessage.id > seen)
                .order_by(OutboxMessage.id)
            ):
                told[message.to_address].append(n)
                seen = message.id
    return told


def test_the_day_gifts_leave_the_twelve_months_the_member_is_told_once_that_sight_plus_has_ended(
    app, db_session, mailbox
):
    ends = make_donor(db_session, "ends@example.com", "Ed Ends")
    add_gift(db_session, ends, 2600, day(-350))  # leaves the window on day 15
    topped = make_donor(db_session, "topped@example.com")
    add_gift(db_session, topped, 2600, day(-350))
    add_gift(db_session, topped, 2600, day(10))  # gave again: still Sight+
    granted = make_donor(db_session, "granted@example.com")
    add_gift(db_session, granted, 2600, day(-350))
    add_grant(db_session, granted.user_id, day(0), day(600))  # a grant keeps them Sight+
    closed = make_donor(db_session, "closed@example.com")
    add_gift(db_session, closed, 2600, day(-350))
    db_session.get(User, closed.user_id).closed_at = day(5)
    long_ago = make_donor(db_session, "long-ago@example.com")
    add_gift(db_session, long_ago, 2600, day(-400))  # ended before these runs began: not news
    db_session.commit()

    told = ended_mails_by_day(app, ["ends@example.com", "topped@example.com", "granted@example.com",
                                    "closed@example.com", "long-ago@example.com"], range(0, 40))
    assert told == {"ends@example.com": [15], "topped@example.com": [], "granted@example.com": [],
                    "closed@example.com": [], "long-ago@example.com": []}

    from sight.mail import deliver_due, transport_from_config

    with app.app_context():  # the mail was queued on the controlled clock: the worker runs on it too
        deliver_due(db.session, transport_from_config(app), day(40))
    [mail] = [m for m in mailbox.received if m["To"] == "ends@example.com" and "ended" in m["Subject"].lower()]
    body = mail.get_body(("plain",)).get_content()
    assert f"Your Sight+ ended on {day(15).astimezone(ZONE).day} {day(15).astimezone(ZONE):%B %Y}" in body
    assert "less than $26" in body and "/donate" in body
