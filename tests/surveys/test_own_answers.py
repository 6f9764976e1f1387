"""A reader sees and deletes their own response from the browser that sent it, or with its
resume link on another device; no account needed. Nobody else's browser sees it."""

from __future__ import annotations

from sqlalchemy import select

from accounts.models import Role
from sight.extensions import db
from sight.models import AuditEntry
from tests.helpers import csrf_token_from, sign_in_as
from tests.surveys.conftest import account, responses
from tests.surveys.test_taking import GOOD_PAGE_1, GOOD_PAGE_2


def answer(reader) -> str:
    """Take the survey to the end; the resume link shown on the way."""
    reader.start()
    page = reader.client.get(reader.page_url(1)).get_data(as_text=True)
    link = page.split('class="resume-link">', 1)[1].split("<", 1)[0]
    reader.send(1, GOOD_PAGE_1)
    assert reader.send(2, GOOD_PAGE_2, action="submit").status_code == 302
    return link.replace("http://localhost", "")


def test_the_browser_that_answered_sees_its_answers_with_labels_and_deletes_them(app, client, make_survey, reader_for):
    slug = make_survey()
    answer(reader_for(slug))
    thanks = client.get(f"/surveys/{slug}/thanks").get_data(as_text=True)
    assert f'href="/surveys/{slug}/my-answers"' in thanks
    mine = client.get(f"/surveys/{slug}/my-answers").get_data(as_text=True)
    assert "<dt>Favourite colour</dt><dd>Blue</dd>" in mine and "<dt>Pets you have</dt><dd>Cat; Dog</dd>" in mine

    stranger = app.test_client()
    assert "We have no answers to this survey from this browser" in stranger.get(f"/surveys/{slug}/my-answers").get_data(as_text=True)
    token = csrf_token_from(stranger.get(f"/surveys/{slug}").get_data(as_text=True))
    assert stranger.post(f"/surveys/{slug}/my-answers/delete", data={"csrf_token": token}).status_code == 302
    assert len(responses(app)) == 1

    staff = app.test_client()
    sign_in_as(staff, account(app, "staff@example.com", Role.staff))
    assert "<dt>Responses</dt><dd>1</dd>" in staff.get(f"/staff/surveys/{slug}").get_data(as_text=True)  # counted

    deleted = client.post(f"/surveys/{slug}/my-answers/delete", data={"csrf_token": csrf_token_from(mine)})
    assert deleted.status_code == 200 and "Your answers have been deleted" in deleted.get_data(as_text=True)
    assert responses(app) == []
    # Gone from the results' counts as well.
    assert "<dt>Responses</dt><dd>0</dd>" in staff.get(f"/staff/surveys/{slug}").get_data(as_text=True)
    with app.app_context():
        [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "survey.response_deleted")).all()
        assert entry.details == {"by": "reader", "finished": True} and entry.actor_email is None


def test_the_resume_link_shows_and_deletes_a_sent_response_on_another_device(app, make_survey, reader_for):
    slug = make_survey()
    link = answer(reader_for(slug))
    other_device = app.test_client()
    opened = other_device.get(link)
    assert opened.status_code == 302 and opened.headers["Location"] == f"/surveys/{slug}/my-answers"
    mine = other_device.get(f"/surveys/{slug}/my-answers").get_data(as_text=True)
    assert "<dt>Favourite colour</dt><dd>Blue</dd>" in mine
    other_device.post(f"/surveys/{slug}/my-answers/delete", data={"csrf_token": csrf_token_from(mine)})
    assert responses(app) == []
