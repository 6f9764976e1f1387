"""The thank-you page carries the Sight+ ask (never the questions): an invitation to readers
who are not members, thanks to those who are."""

from __future__ import annotations

from tests.helpers import sign_in_as
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
