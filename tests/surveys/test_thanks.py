"""The thank-you page carries the Sight+ ask (never the questions): an invitation to readers
who are not members, thanks to those who are."""

from __future__ import annotations

from sqlalchemy import select

from accounts.models import Role
from membership.models import Donation, DonationStatus
from sight.extensions import db
from surveys.models import AskTally
from surveys.operations import survey_by_slug
from tests.helpers import csrf_token_from, sign_in_as, submit_form
from tests.membership.conftest import confirm_card, data_attribute  # noqa: F401  (confirm_card is a fixture)
from tests.surveys.conftest import account
from tests.surveys.test_taking import give_once


def test_a_reader_who_is_not_sight_plus_is_invited_to_join(client, reader_survey):
    html = client.get("/surveys/reader-survey/thanks").get_data(as_text=True)
    assert "Join Sight+" in html and "$26" in html
    assert "Thank you for being Sight+" not in html


def test_a_sight_plus_member_is_thanked_not_asked(app, client, reader_survey):
    member = account(app)
    give_once(app, member, 2600)
    sign_in_as(client, member)
    html = client.get("/surveys/reader-survey/thanks").get_data(as_text=True)
    assert "Thank you for being Sight+" in html
    assert "Join Sight+" not in html


def test_a_signed_in_reader_who_gave_less_is_still_invited(app, client, reader_survey):
    reader = account(app)
    give_once(app, reader, 1000)
    sign_in_as(client, reader)
    html = client.get("/surveys/reader-survey/thanks").get_data(as_text=True)
    assert "Join Sight+" in html and "Thank you for being Sight+" not in html


def ask_counts(app) -> tuple[int, int]:
    with app.app_context():
        tally = db.session.get(AskTally, survey_by_slug(db.session, "reader-survey").id)
        return tally.views, tally.clicks


def test_views_and_clicks_of_the_ask_are_counted_without_who(app, client, reader_survey):
    assert ask_counts(app) == (0, 0)
    thanks = client.get("/surveys/reader-survey/thanks").get_data(as_text=True)
    client.get("/surveys/reader-survey/thanks")
    assert ask_counts(app) == (2, 0)
    assert 'href="/surveys/reader-survey/sight-plus"' in thanks
    click = client.get("/surveys/reader-survey/sight-plus")
    assert click.status_code == 302 and click.headers["Location"] == "/donate?source=survey%3Areader-survey"
    assert ask_counts(app) == (2, 1)
    donate = client.get(click.headers["Location"]).get_data(as_text=True)
    assert 'name="source" type="hidden" value="survey:reader-survey"' in donate


def test_a_member_is_not_counted_as_a_view_of_the_ask(app, client, reader_survey):
    member = account(app)
    give_once(app, member, 2600)
    sign_in_as(client, member)
    client.get("/surveys/reader-survey/thanks")
    assert ask_counts(app) == (0, 0)


def test_a_gift_started_from_the_ask_carries_its_source_and_staff_see_it(app, client, reader_survey, confirm_card):
    client.get("/surveys/reader-survey/thanks")
    donate_url = client.get("/surveys/reader-survey/sight-plus").headers["Location"]
    details = {"amount": "2600", "other_amount": "", "frequency": "once", "name": "Alex Donor",
               "email": "donor@example.com", "message": "", "currency": "aud", "source": "survey:reader-survey"}  # fmt: skip
    pay_url = submit_form(client, "/donate", details, page_url=donate_url).headers["Location"]
    page = client.get(pay_url).get_data(as_text=True)
    status, body = confirm_card(data_attribute(page, "setup-secret"))
    assert status == 200
    client.post(pay_url, data={"csrf_token": csrf_token_from(page), "setup_intent": body["id"]})
    with app.app_context():
        donation = db.session.scalar(select(Donation))
        assert (donation.source, donation.status) == ("survey:reader-survey", DonationStatus.completed)

    staff = app.test_client()
    sign_in_as(staff, account(app, "staff@example.com", Role.staff))
    results = " ".join(staff.get("/staff/surveys/reader-survey").get_data(as_text=True).split())
    assert "<dt>Thank-you pages with the ask</dt><dd>1</dd>" in results
    assert "<dt>Clicks</dt><dd>1</dd>" in results and "<dt>Click rate</dt><dd>100.0%</dd>" in results
    assert "<dt>Gifts made from it</dt><dd>1</dd>" in results
    dashboard = " ".join(staff.get("/staff/").get_data(as_text=True).split())
    assert "1 of 1 thank-you pages (100.0%)" in dashboard
