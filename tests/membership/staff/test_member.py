"""One member's page: ledger with refunds, annual gifts, status history, mail; grant and revoke."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from membership.models import ComplimentaryGrant, GiftKind
from membership.context import Settings
from membership.status import sight_plus_status_of
from sight.db import utcnow
from sight.mail import queue_mail
from sight.models import AuditEntry, OutboxMessage
from tests.helpers import create_user

from .conftest import PREFIXED_CSRF, fresh, add_annual, add_gift, add_grant, days_ago, make_donor, submit

SYDNEY = ZoneInfo("Australia/Sydney")


def sydney_today():
    return utcnow().astimezone(SYDNEY).date()


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def is_member(db_session, user_id: int, t: datetime) -> bool:
    return sight_plus_status_of(db_session, user_id, t, settings=Settings("aud", 2600, 14, 500, 1_000_000)).is_member


def test_the_page_shows_gifts_refunds_annual_gifts_history_and_mail(staff_client, db_session):
    donor = make_donor(db_session, "donor@example.com", "Dana Donor")
    add_gift(db_session, donor, 5000, days_ago(500), refunded=1000)
    add_gift(db_session, donor, 2600, days_ago(30), kind=GiftKind.recurring, subscription_id="sub_history")
    add_annual(db_session, donor, 2600, created_at=days_ago(30), period_end=utcnow() + timedelta(days=335))
    queue_mail(db_session, to="donor@example.com", subject="Your receipt: $26 to Sight", body="…", kind="receipt", user_id=donor.user_id)
    queue_mail(db_session, to="someone@example.com", subject="Not theirs", body="…", user_id=None)
    db_session.commit()

    html = staff_client.get(f"/staff/members/{donor.user_id}").get_data(as_text=True)
    text = text_of(html)
    assert "Dana Donor" in text and "donor@example.com" in text
    assert "Sight+ until" in text and "through gifts in the last 12 months" in text
    # the ledger, newest first, with refunds and net
    assert re.search(r"Annual gift \$26 \$26 .*One-off gift \$50 \$10 \$40", text)
    assert "Resend receipt" in text
    # the annual gift as Stripe last told us
    assert "sub_test" in text and "active" in text
    # history: the old gift (net $40) made them Sight+ for a year; the annual gift again now
    history = text_of(html[html.index('id="status-history"'):html.index("</ul>", html.index('id="status-history"'))])
    assert history.count("–") == 2
    assert "now, until" in history and "gifts in the last 12 months, an annual gift" in history
    # mail sent to them only
    assert "Your receipt: $26 to Sight" in text and "Not theirs" not in text


def test_an_unknown_member_is_404(staff_client, staff_user):
    assert staff_client.get("/staff/members/999999").status_code == 404
    response = submit(
        staff_client, "/staff/members/999999/grant", {"grant-reason": "x", "grant-ends_on": "2099-01-01"}, page_url="/donate"
    )
    assert response.status_code == 404


def test_a_grant_makes_the_reader_sight_plus_until_the_end_date_and_is_audited(staff_client, db_session, staff_user):
    reader = create_user(db_session, "writer@example.com", name="Wren Writer")
    ends_on = sydney_today() + timedelta(days=90)
    response = submit(
        staff_client,
        f"/staff/members/{reader.id}/grant",
        {"grant-reason": "Guest columnist, summer 2026", "grant-ends_on": ends_on.isoformat()},
        page_url=f"/staff/members/{reader.id}",
    )
    assert response.status_code == 302
    page = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"writer@example.com is Sight+ until {ends_on:%-d %B %Y}" in page
    assert "through complimentary membership" in text_of(page)

    fresh(db_session)
    ends_at = datetime.combine(ends_on, time.min, tzinfo=SYDNEY).astimezone(UTC)
    grant = db_session.scalar(select(ComplimentaryGrant))
    assert grant.ends_at == ends_at and grant.reason == "Guest columnist, summer 2026"
    assert grant.granted_by_id == staff_user.id
    # The member is told, with the last day in Sydney time.
    [told] = db_session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "complimentary_grant")).all()
    assert told.to_address == "writer@example.com"
    assert f"You are Sight+ until {ends_on:%-d %B %Y}" in told.body_text
    # Through the rule: Sight+ until the end date, not a moment longer.
    assert is_member(db_session, reader.id, utcnow())
    assert is_member(db_session, reader.id, ends_at - timedelta(microseconds=1))
    assert not is_member(db_session, reader.id, ends_at)
    [audit] = db_session.scalars(select(AuditEntry)).all()
    assert (audit.action, audit.target, audit.actor_email) == ("membership.grant", f"user:{reader.id}", staff_user.email)
    assert audit.details["reason"] == "Guest columnist, summer 2026"
    # the member is now in the list, under complimentary
    listing = staff_client.get("/staff/members?status=complimentary").get_data(as_text=True)
    assert "writer@example.com" in listing


def test_revoking_ends_it_now_and_is_audited_with_the_reason(staff_client, db_session, staff_user):
    donor = make_donor(db_session, "comp@example.com")
    grant = add_grant(db_session, donor.user_id, days_ago(10), utcnow() + timedelta(days=100), reason="Board member")
    url = f"/staff/members/{donor.user_id}"
    shown = staff_client.get(url).get_data(as_text=True)
    assert "End it now" in shown
    csrf = PREFIXED_CSRF.search(shown).group(1)
    response = submit(
        staff_client, f"{url}/grants/{grant.id}/revoke", {f"revoke-{grant.id}-reason": "Left the board"}, page_url=url
    )
    assert response.status_code == 302
    page = staff_client.get(url).get_data(as_text=True)
    assert "The complimentary membership has ended." in page
    assert "Not Sight+." in text_of(page) and "Left the board" in page and "End it now" not in page

    fresh(db_session)
    assert not is_member(db_session, donor.user_id, utcnow())
    assert is_member(db_session, donor.user_id, days_ago(5))  # the history stays true
    grant = db_session.get(ComplimentaryGrant, grant.id)
    assert grant.revoked_by_id == staff_user.id and grant.revoke_reason == "Left the board"
    [audit] = db_session.scalars(select(AuditEntry)).all()
    assert audit.action == "membership.revoke" and audit.details["reason"] == "Left the board"

    # a second revocation (the form sent again) changes nothing, and says why
    again = staff_client.post(
        f"{url}/grants/{grant.id}/revoke", data={f"revoke-{grant.id}-reason": "Twice", "csrf_token": csrf}
    )
    assert again.status_code == 409 and "already ended" in again.get_data(as_text=True)
    fresh(db_session)
    assert db_session.scalar(select(func.count(AuditEntry.id))) == 1


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"grant-reason": "", "grant-ends_on": "+30"}, "grant-reason", "Say why this membership is given."),
        ({"grant-reason": "   ", "grant-ends_on": "+30"}, "grant-reason", "Say why this membership is given."),
        ({"grant-reason": "Columnist", "grant-ends_on": ""}, "grant-ends_on", "Choose the day it ends."),
        ({"grant-reason": "Columnist", "grant-ends_on": "+0"}, "grant-ends_on", "The end date must be after today."),
        ({"grant-reason": "Columnist", "grant-ends_on": "-3"}, "grant-ends_on", "The end date must be after today."),
        ({"grant-reason": "Columnist", "grant-ends_on": "next week"}, "grant-ends_on", "Not a valid date value."),
        ({"grant-reason": "Columnist", "grant-ends_on": "+4000"}, "grant-ends_on", "Choose an end date within ten years."),
        ({"grant-reason": "x" * 1001, "grant-ends_on": "+30"}, "grant-reason", "Field cannot be longer than 1000 characters."),
    ],
)
def test_bad_grants_say_why_beside_the_field_and_write_nothing(staff_client, db_session, staff_user, data, field, message):
    reader = create_user(db_session, "reader@example.com")
    offset = data["grant-ends_on"]
    if offset[:1] in "+-" and offset[1:].isdigit():
        data = {**data, "grant-ends_on": (sydney_today() + timedelta(days=int(offset))).isoformat()}
    url = f"/staff/members/{reader.id}"
    response = submit(staff_client, f"{url}/grant", data, page_url=url)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert f'<ul class="field-errors" id="{field}-error">' in html and message in html
    assert re.search(rf'<(input|textarea)[^>]*aria-describedby="[^"]*{field}-error', html)
    if data["grant-reason"].strip():
        assert data["grant-reason"] in html  # what they typed is kept
    fresh(db_session)
    assert db_session.scalar(select(func.count(ComplimentaryGrant.id))) == 0
    assert db_session.scalar(select(func.count(AuditEntry.id))) == 0


def test_a_revocation_without_a_reason_is_refused_beside_the_field(staff_client, db_session, staff_user):
    donor = make_donor(db_session, "comp@example.com")
    grant = add_grant(db_session, donor.user_id, days_ago(1), utcnow() + timedelta(days=10))
    url = f"/staff/members/{donor.user_id}"
    response = submit(staff_client, f"{url}/grants/{grant.id}/revoke", {f"revoke-{grant.id}-reason": ""}, page_url=url)
    assert response.status_code == 400
    assert "Say why this membership ends." in response.get_data(as_text=True)
    assert "<details open>" in response.get_data(as_text=True)
    fresh(db_session)
    assert db_session.get(ComplimentaryGrant, grant.id).revoked_at is None
    assert is_member(db_session, donor.user_id, utcnow())


def test_a_grant_of_another_member_cannot_be_revoked_through_this_one(staff_client, db_session, staff_user):
    one = make_donor(db_session, "one@example.com")
    other = make_donor(db_session, "other@example.com")
    grant = add_grant(db_session, other.user_id, days_ago(1), utcnow() + timedelta(days=10))
    url = f"/staff/members/{one.user_id}"
    response = submit(staff_client, f"{url}/grants/{grant.id}/revoke", {f"revoke-{grant.id}-reason": "x"}, page_url=url)
    assert response.status_code == 404
    fresh(db_session)
    assert db_session.get(ComplimentaryGrant, grant.id).revoked_at is None


def test_a_closed_account_is_not_given_sight_plus(staff_client, db_session, staff_user):
    donor = make_donor(db_session, "gone@example.com")
    donor.user.closed_at = days_ago(1)
    db_session.commit()
    url = f"/staff/members/{donor.user_id}"
    assert "This account is closed" in staff_client.get(url).get_data(as_text=True)
    ends_on = (sydney_today() + timedelta(days=30)).isoformat()
    response = submit(staff_client, f"{url}/grant", {"grant-reason": "Mistake", "grant-ends_on": ends_on}, page_url="/donate")
    assert response.status_code == 400
    fresh(db_session)
    assert db_session.scalar(select(func.count(ComplimentaryGrant.id))) == 0


def test_staff_can_ask_whether_a_donor_was_sight_plus_on_a_day_and_see_what_ended_it(staff_client, db_session):
    """A receipt called them a member; a refund later ended it. History keeps both true."""
    donor = make_donor(db_session, "refunded@example.com", "Rae Refunded")
    add_gift(db_session, donor, 2600, days_ago(60), refunded=2600, refunded_at=days_ago(40))
    page = f"/staff/members/{donor.user_id}"

    html = staff_client.get(page).get_data(as_text=True)
    history = text_of(html[html.index('id="status-history"'):html.index("</ul>", html.index('id="status-history"'))])
    assert "Never Sight+" not in html
    assert history.count("Sight+") == 1 and "ended by a refund" in history
    assert "Not Sight+." in text_of(html)

    def answer(day) -> str:
        response = staff_client.get(f"{page}?on={day.isoformat()}")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        return text_of(html[html.index('id="member-on-day"'):html.index("</p>", html.index('id="member-on-day"'))])

    assert "Yes: Sight+ at some time on" in answer(days_ago(50).astimezone(SYDNEY).date())
    assert "No: not Sight+ on" in answer(days_ago(30).astimezone(SYDNEY).date())
    assert "No: not Sight+ on" in answer(days_ago(70).astimezone(SYDNEY).date())
