"""Taking a survey through the real pages: every question type, bad input, show_if,
progress, going back, resuming, submitting, and where the reader came from."""

from __future__ import annotations

import copy
import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from membership.models import GiftKind
from membership.donors import find_or_create_donor
from membership.ledger import record_payment
from sight.db import utcnow
from sight.extensions import db
from surveys.definition import validate_definition
from surveys.models import Response, Survey, SurveyStatus
from surveys.operations import OTHER_SITE
from tests.helpers import csrf_token_from, sign_in_as
from tests.surveys.conftest import ALL_TYPES, account, audit_form, responses

GOOD_PAGE_1 = {"colour": "blue", "pets": ["dog", "cat"], "dog_name": "Rex", "city": "syd"}
GOOD_PAGE_2 = {"postcode": "2000", "story": "Once.", "email": "me@example.com", "age": "42", "score": "9",
               "grid[news]": "2", "grid[sport]": "1"}


def test_intro_then_pages_with_progress_then_thanks(app, client, make_survey, reader_for):
    slug = make_survey()
    intro = client.get(f"/surveys/{slug}")
    assert intro.status_code == 200
    assert "Testing every question type." in intro.get_data(as_text=True)
    assert responses(app) == []  # looking is not starting

    reader = reader_for(slug)
    assert reader.start().headers["Location"] == f"/surveys/{slug}/page/1"
    page = client.get(f"/surveys/{slug}/page/1").get_data(as_text=True)
    assert "Page 1 of 2" in page and '<progress id="survey-progress" class="progress" max="2" value="1">' in page
    assert responses(app)[0].submitted_at is None

    assert reader.send(1, GOOD_PAGE_1).headers["Location"] == f"/surveys/{slug}/page/2"
    assert "Page 2 of 2" in client.get(f"/surveys/{slug}/page/2").get_data(as_text=True)
    assert reader.send(2, GOOD_PAGE_2, action="submit").headers["Location"] == f"/surveys/{slug}/thanks"

    [stored] = responses(app)
    assert stored.submitted_at is not None and stored.started_at <= stored.submitted_at
    assert stored.version.number == 1
    assert stored.answers == {
        "colour": "blue", "pets": ["cat", "dog"], "city": "syd", "dog_name": "Rex", "postcode": "2000",
        "story": "Once.", "email": "me@example.com", "age": 42, "score": 9, "grid": {"news": "2", "sport": "1"},
    }
    thanks = client.get(f"/surveys/{slug}/thanks").get_data(as_text=True)
    assert "Thanks for testing." in thanks and 'href="/surveys/all-types/sight-plus"' in thanks and "$26" in thanks


def test_every_question_type_is_labelled_and_choices_are_in_fieldsets(client, make_survey, reader_for):
    slug = make_survey()
    reader = reader_for(slug)
    reader.start()
    page_1 = audit_form(client.get(f"/surveys/{slug}/page/1").get_data(as_text=True))
    reader.send(1, GOOD_PAGE_1)
    page_2 = audit_form(client.get(f"/surveys/{slug}/page/2").get_data(as_text=True))
    for audit in (page_1, page_2):
        for control in audit.controls:
            assert audit.labels.get(control["id"]), f"no label for {control}"
            if control.get("type") in ("radio", "checkbox") and control["name"] != "link_account":
                assert control["legends"] and control["legends"][0], f"{control} is not in a fieldset with a legend"
    by_name = {c["name"]: c for c in page_1.controls + page_2.controls}
    assert by_name["colour"]["legends"][0].startswith("Favourite colour")
    assert page_1.labels["f-colour-2"] == "Other (please specify)"
    assert by_name["colour_other"]["tag"] == "input"
    assert by_name["city"]["tag"] == "select" and page_1.labels["f-city"] == "City"
    assert by_name["story"]["tag"] == "textarea" and by_name["story"]["maxlength"] == "50"
    assert by_name["email"]["type"] == "email"
    assert by_name["age"]["inputmode"] == "numeric"
    assert page_2.labels["f-score-0"] == "0 (Bad)" and page_2.labels["f-score-10"] == "10 (Good)"
    assert by_name["grid[sport]"]["legends"] == ["How much do you like (required)", "Sport"]
    assert by_name["contact-website"]["autocomplete"] == "off" and by_name["contact-website"]["tabindex"] == "-1"
    assert "Leave this field empty" in page_1.labels["contact-website"]


BAD_PAGE_1 = [
    ({"colour": "purple"}, "colour", "Please choose one of the answers given."),
    ({"colour": ["red", "blue"]}, "colour", "Please give only one answer."),
    ({}, "colour", "Please choose an answer."),
    ({"colour": "other"}, "colour", "You chose “Other”: please tell us what it is."),
    ({"colour": "red", "pets": ["cat", "dog", "fish"]}, "pets", "Please choose no more than 2 (you chose 3)."),
    ({"colour": "red", "pets": ["cat", "hamster"]}, "pets", "Please choose only from the answers given."),
    ({"colour": "red", "city": "perth"}, "city", "Please choose one of the answers given."),
]
BAD_PAGE_2 = [
    ({"story": "x" * 51}, "story", "Please keep this to 50 characters or fewer (this is 51)."),
    ({"postcode": "20a0"}, "postcode", "That isn't in the form we asked for; please check it."),
    ({"email": "not-an-address"}, "email", "Please enter an email address like name@example.com."),
    ({"age": "121"}, "age", "Please enter a whole number from 0 to 120."),
    ({"age": "-1"}, "age", "Please enter a whole number from 0 to 120."),
    ({"age": "4.5"}, "age", "Please enter a whole number from 0 to 120."),
    ({"age": "1e400"}, "age", "Please enter a whole number from 0 to 120."),
    ({"score": "11"}, "score", "Please choose a number from 0 to 10."),
    ({"score": "nine"}, "score", "Please choose a number from 0 to 10."),
    ({"score": ""}, "score", "Please choose an answer."),
    ({"grid[news]": "2"}, "grid", "Please answer every row (Sport)."),
    ({"grid[news]": "7", "grid[sport]": "1"}, "grid", "News: please choose one of the answers given."),
]


@pytest.mark.parametrize(("sent", "question_id", "message"), BAD_PAGE_1)
def test_bad_answers_on_page_1_get_a_message_beside_the_question_and_store_nothing(app, client, make_survey, reader_for, sent, question_id, message):
    slug = make_survey()
    reader = reader_for(slug)
    reader.start()
    reply = reader.send(1, {"city": "mel", **sent})
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    beside = html.split(f'id="q-{question_id}"', 1)[1].split('class="question', 1)[0]
    assert f'<ul class="field-errors" id="q-{question_id}-error"><li>{message}</li>' in beside.replace("&#34;", '"')
    assert f'href="#f-{question_id}' in html  # the summary links to the field
    assert responses(app)[0].answers == {}
    assert responses(app)[0].current_page == 0


@pytest.mark.parametrize(("sent", "question_id", "message"), BAD_PAGE_2)
def test_bad_answers_on_page_2_are_refused_and_the_other_answers_kept(app, client, make_survey, reader_for, sent, question_id, message):
    slug = make_survey()
    reader = reader_for(slug)
    reader.start()
    reader.send(1, GOOD_PAGE_1)
    before = responses(app)[0].answers
    sent_page = {k: v for k, v in GOOD_PAGE_2.items() if not (k.startswith("grid") and question_id == "grid")}
    reply = reader.send(2, {**sent_page, **sent}, action="submit")
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    assert message in html.replace("&#39;", "'")
    assert f'aria-describedby="q-{question_id}-error"' in html or f'id="q-{question_id}-error"' in html
    kept = {k: v for k, v in GOOD_PAGE_2.items() if k not in sent and not k.startswith("grid")}
    for name, value in kept.items():
        assert f'value="{value}"' in html or f">{value}</textarea>" in html, name
    stored = responses(app)[0]
    assert stored.submitted_at is None and stored.answers == before


def test_a_tampered_page_number_stores_nothing(app, client, make_survey, reader_for):
    slug = make_survey()
    reader = reader_for(slug)
    reader.start()
    token = csrf_token_from(client.get(f"/surveys/{slug}/page/1").get_data(as_text=True))
    for number in (2, 3, 99, 0):
        reply = client.post(f"/surveys/{slug}/page/{number}", data={"csrf_token": token, **GOOD_PAGE_2, "action": "submit"})
        assert reply.status_code == 302 and reply.headers["Location"] == f"/surveys/{slug}/page/1"
    assert "Please answer the pages in order" in client.get(f"/surveys/{slug}/page/1").get_data(as_text=True)
    assert client.get(f"/surveys/{slug}/page/-1").status_code == 404
    assert client.get(f"/surveys/{slug}/page/x").status_code == 404
    assert responses(app)[0].answers == {} and responses(app)[0].submitted_at is None


def test_a_field_from_another_survey_is_refused(app, client, make_survey, reader_for):
    slug = make_survey()
    reader = reader_for(slug)
    reader.start()
    reply = reader.send(1, {**GOOD_PAGE_1, "read_frequency": "daily"})
    assert reply.status_code == 400
    html = reply.get_data(as_text=True)
    assert "answers to questions that aren&#39;t on it" in html
    assert 'value="Rex"' in html
    reply = reader.send(1, {**GOOD_PAGE_1, "score": "3"})  # a question from another page
    assert reply.status_code == 400
    assert responses(app)[0].answers == {}


def test_going_back_keeps_answers_even_unfinished_ones(app, client, make_survey, reader_for):
    slug = make_survey()
    reader = reader_for(slug)
    reader.start()
    reader.send(1, GOOD_PAGE_1)
    reply = reader.send(2, {"postcode": "2000", "age": "old"}, action="back")
    assert reply.headers["Location"] == f"/surveys/{slug}/page/1"
    page_1 = client.get(f"/surveys/{slug}/page/1").get_data(as_text=True)
    assert 'value="blue" checked' in page_1 and 'value="Rex"' in page_1 and '<option value="syd" selected>' in page_1
    reader.send(1, GOOD_PAGE_1)
    page_2 = client.get(f"/surveys/{slug}/page/2").get_data(as_text=True)
    assert 'value="2000"' in page_2  # the valid answer was kept
    assert 'value="old"' not in page_2  # the invalid one was not
    assert responses(app)[0].submitted_at is None


def test_show_if_on_a_question_of_the_same_page(app, client, make_survey, reader_for):
    slug = make_survey()
    reader = reader_for(slug)
    reader.start()
    page = client.get(f"/surveys/{slug}/page/1").get_data(as_text=True)
    assert """data-show-if='{"equals": "dog", "question": "pets"}'""" in page
    reader.send(1, {**GOOD_PAGE_1, "pets": ["cat"]})
    assert "dog_name" not in responses(app)[0].answers


def test_show_if_on_pages_and_questions_of_earlier_pages(app, client, make_survey, reader_for):
    data = copy.deepcopy(ALL_TYPES)
    data["pages"].insert(1, {"id": "dogs", "title": "Dogs", "show_if": {"question": "pets", "any_of": ["dog"]},
                             "questions": [{"id": "breed", "type": "short_text", "label": "Breed", "required": True}]})
    data["pages"][2]["questions"].append(
        {"id": "city_why", "type": "long_text", "label": "Why Sydney?", "show_if": {"question": "city", "equals": "syd"}})
    slug = make_survey(validate_definition(data))
    reader = reader_for(slug)
    reader.start()
    assert "Page 1 of 2" in client.get(f"/surveys/{slug}/page/1").get_data(as_text=True)
    reader.send(1, {"colour": "red", "pets": ["cat"], "city": "mel"})
    assert reader.last.headers["Location"] == f"/surveys/{slug}/page/3"  # the dog page is skipped
    page_3 = client.get(f"/surveys/{slug}/page/3").get_data(as_text=True)
    assert "Page 2 of 2" in page_3 and "Why Sydney?" not in page_3
    assert client.get(f"/surveys/{slug}/page/2").headers["Location"] == f"/surveys/{slug}/page/3"

    reader.send(3, {}, action="back")
    reader.send(1, {"colour": "red", "pets": ["dog"], "city": "syd"})
    assert reader.last.headers["Location"] == f"/surveys/{slug}/page/2"
    assert "Page 2 of 3" in client.get(f"/surveys/{slug}/page/2").get_data(as_text=True)
    assert reader.send(2, {}).status_code == 422  # required once shown
    reader.send(2, {"breed": "Kelpie"})
    assert "Why Sydney?" in client.get(f"/surveys/{slug}/page/3").get_data(as_text=True)

    # Changing the earlier answer hides the page again: its answers are not sent.
    reader.send(3, {}, action="back")
    reader.send(2, {"breed": "Kelpie"}, action="back")
    reader.send(1, {"colour": "red", "pets": ["fish"], "city": "syd"})
    reader.send(3, {**GOOD_PAGE_2, "city_why": "Harbour"}, action="submit")
    stored = responses(app)[0]
    assert stored.submitted_at is not None
    assert "breed" not in stored.answers and stored.answers["city_why"] == "Harbour"


def test_submitting_checks_earlier_pages_again(app, client, make_survey, reader_for):
    slug = make_survey()
    reader = reader_for(slug)
    reader.start()
    reader.send(1, GOOD_PAGE_1)
    with app.app_context():  # e.g. an answer lost by a definition fix-up
        db.session.execute(update(Response).values(answers={"city": "syd"}))
        db.session.commit()
    reply = reader.send(2, GOOD_PAGE_2, action="submit")
    assert reply.headers["Location"] == f"/surveys/{slug}/page/1"
    assert responses(app)[0].submitted_at is None


def test_resume_in_the_same_browser(app, client, make_survey, reader_for):
    slug = make_survey()
    reader = reader_for(slug)
    reader.start()
    reader.send(1, GOOD_PAGE_1)
    reply = client.get(f"/surveys/{slug}")
    assert reply.status_code == 302 and reply.headers["Location"] == f"/surveys/{slug}/page/2"
    reader.send(2, {}, action="back")
    assert 'value="Rex"' in client.get(client.get(f"/surveys/{slug}").headers["Location"]).get_data(as_text=True)


def test_resume_link_on_another_device_and_its_expiry(app, client, make_survey, reader_for):
    slug = make_survey(settings={"resume_days": 2})
    reader = reader_for(slug)
    reader.start()
    reader.send(1, GOOD_PAGE_1)
    page = client.get(f"/surveys/{slug}/page/2").get_data(as_text=True)
    link = page.split('class="resume-link">', 1)[1].split("<", 1)[0]
    assert link.startswith(f"http://localhost/surveys/{slug}/resume/")

    phone = app.test_client()
    reply = phone.get(link)
    assert reply.headers["Location"] == f"/surveys/{slug}/page/2"
    assert phone.get(f"/surveys/{slug}").headers["Location"] == f"/surveys/{slug}/page/2"
    reader_for(slug, phone).send(2, GOOD_PAGE_2, action="submit")
    assert responses(app)[0].submitted_at is not None
    # Once sent, the link shows the reader their answers (which they may delete).
    assert app.test_client().get(link).headers["Location"] == f"/surveys/{slug}/my-answers"

    laptop = app.test_client()
    reader_for(slug, laptop).start()
    with app.app_context():
        db.session.execute(update(Response).where(Response.submitted_at.is_(None)).values(started_at=utcnow() - timedelta(days=3)))
        db.session.commit()
    # Too old to resume: the reader starts afresh.
    assert laptop.get(f"/surveys/{slug}").status_code == 200
    assert laptop.get(f"/surveys/{slug}/page/1").headers["Location"] == f"/surveys/{slug}"
    assert app.test_client().get(f"/surveys/{slug}/resume/not-a-token").status_code == 404


def test_a_signed_in_reader_resumes_on_another_device(app, client, make_survey, reader_for):
    user = account(app)
    slug = make_survey()
    sign_in_as(client, user)
    reader = reader_for(slug)
    reader.start()
    reader.send(1, GOOD_PAGE_1)
    other_device = app.test_client()
    sign_in_as(other_device, user)
    assert other_device.get(f"/surveys/{slug}").headers["Location"] == f"/surveys/{slug}/page/2"


def give_once(app, user, cents: int) -> None:
    with app.app_context():
        donor = find_or_create_donor(db.session, email=user.email, name=user.name, now=utcnow())
        record_payment(
            db.session, donor=donor, stripe_object_id=f"pi_test_{user.id}", kind=GiftKind.one_off,
            amount_cents=cents, currency="aud", paid_at=utcnow() - timedelta(days=30), now=utcnow(),
        )
        db.session.commit()


@pytest.mark.parametrize(
    ("ticked", "gave_cents", "stored_sight_plus"),
    [(True, 2600, True), (True, 1000, False), (True, 0, False), (False, 2600, None)],
)
def test_linking_a_response_to_the_account_is_the_readers_choice(
    app, client, make_survey, reader_for, ticked, gave_cents, stored_sight_plus
):
    user = account(app)
    user_id = user.id
    if gave_cents:
        give_once(app, user, gave_cents)
    slug = make_survey()
    sign_in_as(client, user)
    reader = reader_for(slug)
    reader.start()
    reader.send(1, GOOD_PAGE_1)
    page = client.get(f"/surveys/{slug}/page/2").get_data(as_text=True)
    assert 'type="checkbox" id="link_account" name="link_account" value="y" aria-describedby' in page  # unticked
    reader.send(2, {**GOOD_PAGE_2, **({"link_account": "y"} if ticked else {})}, action="submit")
    stored = responses(app)[0]
    assert stored.submitted_at is not None
    assert stored.user_id == (user_id if ticked else None)
    # Whether they were Sight+ when they answered is kept only for linked responses.
    assert stored.sight_plus is stored_sight_plus


def test_anonymous_readers_are_not_offered_linking(client, make_survey, reader_for):
    slug = make_survey()
    reader = reader_for(slug)
    reader.start()
    reader.send(1, GOOD_PAGE_1)
    assert "link_account" not in client.get(f"/surveys/{slug}/page/2").get_data(as_text=True)


def test_tracking_is_kept_with_the_response(make_app, make_survey, reader_for):
    app = make_app(SITE_URL="https://sight.example")
    slug = make_survey()
    long = "x" * 300
    reader_for(slug, app.test_client()).start(f"?utm_source=newsletter&utm_medium=email&utm_campaign={long}&from=https://sight.example/news/a-story")
    stored = responses(app)[0]
    assert (stored.utm_source, stored.utm_medium) == ("newsletter", "email")
    assert stored.utm_campaign == "x" * 200
    assert stored.referrer_url == "/news/a-story"


def test_utm_term_and_content_are_kept_too(app, make_survey, reader_for):
    slug = make_survey()
    reader_for(slug).start("?utm_source=newsletter&utm_term=climate&utm_content=footer-card")
    stored = responses(app)[0]
    assert (stored.utm_source, stored.utm_term, stored.utm_content) == ("newsletter", "climate", "footer-card")


def start_from(client, slug: str, referer: str, query: str = "") -> None:
    """Arrive at the intro from `referer` (the browser sends it), then press Start."""
    intro = client.get(f"/surveys/{slug}{query}", headers={"Referer": referer}).get_data(as_text=True)
    hidden = dict(re.findall(r'<input id="(utm_\w+|referrer)" name="\w+" type="hidden" value="([^"]*)"', intro))
    assert client.post(f"/surveys/{slug}/start", data={"csrf_token": csrf_token_from(intro), **hidden}).status_code == 302


@pytest.mark.parametrize(
    ("referer", "query", "kept"),
    [
        ("https://sight.example/news/a-story?utm_source=x&id=7#top", "", "/news/a-story"),
        ("https://elsewhere.example/news/a-story", "", OTHER_SITE),
        ("https://sight.example.evil.example/news/a-story", "", OTHER_SITE),
        ("https://sight.example/news/a-story", "?from=https://sight.example/culture/other?id=3", "/culture/other"),
        ("https://sight.example/news/a-story", "?from=/culture/other", "/culture/other"),
        # Only addresses under SITE_URL are kept: an outside `from` is counted as another site.
        ("https://sight.example/news/a-story", "?from=https://evil.example/x", OTHER_SITE),
        ("", "?from=https://evil.example/x", OTHER_SITE),
        ("", "?from=//evil.example/x", OTHER_SITE),
        ("", "?from=http://[broken", None),
        # The app's own pages (signing in first) name no article.
        ("http://localhost/sign-in", "", None),
    ],
)
def test_the_referring_article_comes_from_the_referer_when_it_is_a_page_of_the_site(
    make_app, make_survey, reader_for, referer, query, kept
):
    app = make_app(SITE_URL="https://sight.example")
    slug = make_survey()
    start_from(app.test_client(), slug, referer, query)
    assert responses(app)[0].referrer_url == kept


@pytest.mark.parametrize(
    ("site_url", "address", "kept"),
    [
        ("https://sight.example/magazine/", "https://sight.example/magazine/2026/story", "/magazine/2026/story"),
        ("https://sight.example/magazine", "https://sight.example/magazine", "/magazine"),
        ("https://sight.example/magazine", "https://sight.example/magazines/story", OTHER_SITE),
        ("https://sight.example/magazine", "https://sight.example/shop/item", OTHER_SITE),
        ("https://sight.example/magazine", "/shop/item", None),
        ("https://SIGHT.example", "https://sight.EXAMPLE/news", "/news"),
        ("https://sight.example", "ftp://sight.example/news", None),
    ],
)
def test_an_address_is_the_magazines_only_under_site_url(make_app, make_survey, reader_for, site_url, address, kept):
    app = make_app(SITE_URL=site_url)
    slug = make_survey()
    reader_for(slug, app.test_client()).start(f"?from={address}")
    assert responses(app)[0].referrer_url == kept


def test_an_outside_address_put_in_the_start_form_by_hand_is_not_kept(make_app, make_survey):
    app = make_app(SITE_URL="https://sight.example")
    slug = make_survey()
    client = app.test_client()
    intro = client.get(f"/surveys/{slug}?from=/news/a-story").get_data(as_text=True)
    assert 'value="/news/a-story"' in intro
    client.post(f"/surveys/{slug}/start", data={"csrf_token": csrf_token_from(intro), "referrer": "https://evil.example/x"})
    assert responses(app)[0].referrer_url == OTHER_SITE


def test_without_a_site_url_only_paths_are_kept(app, client, make_survey, reader_for):
    slug = make_survey()
    start_from(client, slug, "https://sight.example/news/a-story")
    reader_for(slug, app.test_client()).start("?from=/news/a-path")
    assert [r.referrer_url for r in responses(app)] == [OTHER_SITE, "/news/a-path"]


def test_a_referrer_that_is_not_a_web_address_is_dropped(app, make_survey, reader_for):
    slug = make_survey()
    reader_for(slug).start("?from=javascript:alert(1)")
    assert responses(app)[0].referrer_url is None


@pytest.mark.parametrize(
    ("change", "heading"),
    [
        ({"status": SurveyStatus.closed}, "This survey is closed"),
        ({"opens_at": utcnow() + timedelta(days=1)}, "This survey hasn&#39;t opened yet"),
        ({"closes_at": utcnow() - timedelta(days=1)}, "This survey has closed"),
    ],
)
def test_closed_and_not_yet_open_surveys_say_so(app, client, make_survey, change, heading):
    slug = make_survey()
    with app.app_context():
        db.session.execute(update(Survey).values(**change))
        db.session.commit()
    reply = client.get(f"/surveys/{slug}")
    assert reply.status_code == 200 and heading in reply.get_data(as_text=True)
    assert "Start the survey" not in reply.get_data(as_text=True)


def test_a_survey_closed_while_a_reader_answers_refuses_the_start_but_not_a_404(app, client, make_survey):
    slug = make_survey()
    token = csrf_token_from(client.get(f"/surveys/{slug}").get_data(as_text=True))
    with app.app_context():
        db.session.execute(update(Survey).values(status=SurveyStatus.closed))
        db.session.commit()
    reply = client.post(f"/surveys/{slug}/start", data={"csrf_token": token})
    assert reply.status_code == 200 and "This survey is closed" in reply.get_data(as_text=True)
    assert responses(app) == []


def test_a_survey_closed_half_way_stores_no_more_answers(app, client, make_survey, reader_for):
    slug = make_survey()
    reader = reader_for(slug)
    reader.start()
    reader.send(1, GOOD_PAGE_1)
    page_2 = client.get(f"/surveys/{slug}/page/2").get_data(as_text=True)
    with app.app_context():
        db.session.execute(update(Survey).values(closes_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    reply = client.post(f"/surveys/{slug}/page/2", data={"csrf_token": csrf_token_from(page_2), **GOOD_PAGE_2, "action": "submit"})
    assert reply.status_code == 200 and "This survey has closed" in reply.get_data(as_text=True)
    assert responses(app)[0].submitted_at is None


def test_unknown_survey_is_a_404(client):
    assert client.get("/surveys/nope").status_code == 404
    assert client.post("/surveys/nope/page/1").status_code == 404


def test_a_nul_character_keeps_the_other_answers_and_says_what_was_wrong(app, make_survey, reader_for):
    slug = make_survey()
    reader = reader_for(slug)
    reader.start()
    reply = reader.send(1, {**GOOD_PAGE_1, "dog_name": "Re\x00x"})
    assert reply.status_code == 422
    html = reply.get_data(as_text=True)
    assert "Your dog&#39;s name: This answer has an invisible character (NUL)" in html
    assert 'value="blue" checked' in html and 'value="Rex"' in html
    assert responses(app)[0].answers == {}
    assert reader.send(1, GOOD_PAGE_1).status_code == 302
    assert responses(app)[0].answers["dog_name"] == "Rex"


def test_the_referring_article_panel_counts_outside_addresses_as_another_site(app, staff_client, make_survey, reader_for):
    app.config["SITE_URL"] = "https://sight.example"
    slug = make_survey()
    for query in ("?from=https://evil.example/x", "?from=https://sight.example/news/a-story", "?from=https://evil.example/y"):
        reader = reader_for(slug, app.test_client())
        reader.start(query)
        reader.send(1, GOOD_PAGE_1)
        assert reader.send(2, GOOD_PAGE_2, action="submit").status_code == 302
    page = staff_client.get(f"/staff/surveys/{slug}").get_data(as_text=True)
    panel = page[page.index("<caption>Referring article</caption>") :].split("</table>")[0]
    rows = dict(re.findall(r'<th scope="row">([^<]*)</th><td class="num">(\d+)</td>', panel))
    assert rows == {"(other site)": "2", "/news/a-story": "1"}
    assert "evil.example" not in page
