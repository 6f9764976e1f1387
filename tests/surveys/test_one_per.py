"""One response per person, as each survey says: any number, one per browser, one per account."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from sight.db import utcnow
from sight.extensions import db
from surveys.models import Response
from surveys.operations import survey_by_slug
from tests.helpers import csrf_token_from, sign_in_as
from tests.surveys.conftest import account, responses
from tests.surveys.test_taking import GOOD_PAGE_1, GOOD_PAGE_2, give_once


def take(reader) -> None:
    reader.start()
    reader.send(1, GOOD_PAGE_1)
    assert reader.send(2, GOOD_PAGE_2, action="submit").status_code == 302


def test_one_per_browser(app, client, make_survey, reader_for):
    slug = make_survey(settings={"one_response_per": "browser"})
    # A start page left open in another tab before answering.
    start_token = csrf_token_from(client.get(f"/surveys/{slug}").get_data(as_text=True))
    take(reader_for(slug))
    again = client.get(f"/surveys/{slug}")
    assert again.status_code == 200
    assert "You&#39;ve already taken this survey" in again.get_data(as_text=True)
    refused = client.post(f"/surveys/{slug}/start", data={"csrf_token": start_token})
    assert refused.status_code == 200 and "You&#39;ve already taken this survey" in refused.get_data(as_text=True)
    assert len(responses(app)) == 1
    # Another browser may answer.
    take(reader_for(slug, app.test_client()))
    assert len(responses(app)) == 2


def test_any_number_of_responses(app, client, make_survey, reader_for):
    slug = make_survey(settings={"one_response_per": "any"})
    take(reader_for(slug))
    take(reader_for(slug))
    assert [r.submitted_at is not None for r in responses(app)] == [True, True]


def test_one_per_account(app, client, make_survey, reader_for):
    slug = make_survey(settings={"one_response_per": "account"})
    anonymous = client.get(f"/surveys/{slug}").get_data(as_text=True)
    assert "Please sign in to take this survey" in anonymous and "/sign-in?next=%2Fsurveys%2Fall-types" in anonymous

    user = account(app)
    sign_in_as(client, user)
    reader = reader_for(slug)
    reader.start()
    reader.send(1, GOOD_PAGE_1)
    last_page = client.get(f"/surveys/{slug}/page/2").get_data(as_text=True)
    assert "your answers will be kept with your account" in last_page and "link_account" not in last_page
    reader.send(2, GOOD_PAGE_2, action="submit")
    assert responses(app)[0].user_id == user.id

    phone = app.test_client()
    sign_in_as(phone, user)
    second = phone.get(f"/surveys/{slug}")
    assert "You&#39;ve already taken this survey" in second.get_data(as_text=True)
    assert len(responses(app)) == 1


def test_the_database_keeps_one_submitted_response_per_account(app, make_survey):
    slug = make_survey()
    user = account(app)
    with app.app_context():
        survey = survey_by_slug(db.session, slug)
        for token in ("a", "b"):
            db.session.add(Response(survey=survey, version=survey.current_version, resume_token=token,
                                    user_id=user.id, answers={}, started_at=utcnow()))
        db.session.commit()  # unfinished ones may be many
        first, second = db.session.query(Response).order_by(Response.id).all()
        first.submitted_at = utcnow()
        db.session.commit()
        second.submitted_at = utcnow()
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_linking_is_not_offered_twice_for_the_same_survey(app, client, make_survey, reader_for):
    slug = make_survey(settings={"one_response_per": "any"})
    user = account(app)
    sign_in_as(client, user)
    reader = reader_for(slug)
    reader.start()
    reader.send(1, GOOD_PAGE_1)
    reader.send(2, {**GOOD_PAGE_2, "link_account": "y"}, action="submit")
    reader.start()
    reader.send(1, GOOD_PAGE_1)
    assert "link_account" not in client.get(f"/surveys/{slug}/page/2").get_data(as_text=True)
    reader.send(2, {**GOOD_PAGE_2, "link_account": "y"}, action="submit")
    assert [r.user_id for r in responses(app)] == [user.id, None]


@pytest.mark.parametrize("rule", ["any", "browser", "account"])
@pytest.mark.parametrize(("gave_cents", "member"), [(2600, True), (1000, False)])
def test_every_linked_response_records_whether_the_reader_was_sight_plus(app, client, make_survey, reader_for, rule, gave_cents, member):
    """Whoever is linked — by the reader's choice, or by a one-per-account survey — the Sight+
    snapshot is taken, and the page says so before the reader sends."""
    user = account(app)
    give_once(app, user, gave_cents)
    slug = make_survey(settings={"one_response_per": rule})
    sign_in_as(client, user)
    reader = reader_for(slug)
    reader.start()
    reader.send(1, GOOD_PAGE_1)
    last_page = client.get(f"/surveys/{slug}/page/2").get_data(as_text=True)
    assert "whether you are a Sight+ member" in " ".join(last_page.split())
    link = {} if rule == "account" else {"link_account": "y"}
    assert reader.send(2, {**GOOD_PAGE_2, **link}, action="submit").status_code == 302
    [stored] = responses(app)
    assert stored.user_id == user.id
    assert stored.sight_plus is member
