"""The builder through the test client with its real forms: a survey made without YAML, one
step per change, saved as a version the reader pages, exports and downloads use."""

from __future__ import annotations

import copy
import html as html_module
import re

import pytest
from sqlalchemy import select

from accounts.models import Role
from surveys.definition import load_definition, validate_definition
from surveys.models import Survey
from tests.helpers import create_user, csrf_token_from, sign_in_as, sign_in_url
from tests.surveys.staff.conftest import V1, add_response, make_survey

SLUG = "what-readers-think"
QUESTION_LABEL = "How often do you read Sight?"


def token_of(html: str) -> str:
    return re.search(r'name="draft" value="([0-9a-f]+)"', html).group(1)


class Builder:
    """A staff member using the builder pages, as a browser without JavaScript would."""

    def __init__(self, client, slug: str = SLUG):
        self.client, self.slug = client, slug
        self.page_url = f"/staff/surveys/{slug}/builder"

    def step(self, step: str, data: dict, page_url: str | None = None, **kwargs):
        html = self.client.get(page_url or self.page_url).get_data(as_text=True)
        form = {"csrf_token": csrf_token_from(html), "draft": token_of(html), **data}
        return self.client.post(f"/staff/surveys/{self.slug}/builder/step/{step}", data=form, **kwargs)

    def publish(self):
        html = self.client.get(self.page_url).get_data(as_text=True)
        return self.client.post(
            f"/staff/surveys/{self.slug}/builder/publish", data={"csrf_token": csrf_token_from(html), "draft": token_of(html)}
        )


def create(client):
    html = client.get("/staff/surveys/new/builder").get_data(as_text=True)
    return client.post("/staff/surveys/new/builder", data={
        "csrf_token": csrf_token_from(html), "title": "What readers think", "type": "single_choice",
        "label": "How often do you read Sight?", "required": "y", "options": "Every day\nEvery week\nHardly ever\n",
    })


def current(session) -> Survey:
    session.expire_all()
    return session.scalar(select(Survey).where(Survey.slug == SLUG))


def test_a_three_question_survey_with_a_condition_built_without_yaml(staff_client, session):
    created = create(staff_client)
    assert created.status_code == 302 and created.headers["Location"].endswith(f"/staff/surveys/{SLUG}/builder")
    survey = current(session)
    assert survey.status.value == "closed"
    b = Builder(staff_client)
    added = b.step("add-question", {
        "add-page": "first", "add-type": "rating", "add-label": "How likely are you to recommend Sight?",
        "add-scale_min": "0", "add-scale_max": "10", "add-min_label": "Not at all", "add-max_label": "Extremely",
        "add-nps": "y", "add-integer": "y"})
    assert added.status_code == 302
    b.step("add-page", {"page-page_title": "Why", "page-type": "long_text", "page-label": "What brings you back every day?"})
    qid = "what_brings_you_back_every_day"
    question_page = f"{b.page_url}/questions/{qid}"
    page = staff_client.get(question_page).get_data(as_text=True)
    assert "How often do you read Sight?" in page and 'value="how_often_do_you_read_sight=every_day"' in page
    done = b.step("question-condition", {"target": qid, "source": "how_often_do_you_read_sight",
                                         "answer": "how_often_do_you_read_sight=every_day"}, page_url=question_page)
    assert done.status_code == 302
    # Nothing reaches readers until it is saved.
    assert len(current(session).current_version.definition["pages"]) == 1
    overview = staff_client.get(b.page_url).get_data(as_text=True)
    assert "Shown only when “How often do you read Sight?” is Every day." in overview
    assert b.publish().status_code == 302
    definition = current(session).current_version.definition
    assert [q["id"] for p in definition["pages"] for q in p["questions"]] == [
        "how_often_do_you_read_sight", "how_likely_are_you_to_recommend_sight", qid]
    assert definition["pages"][1]["questions"][0]["show_if"] == {"question": "how_often_do_you_read_sight", "equals": "every_day"}
    assert definition["pages"][0]["questions"][1]["nps"] is True
    # The YAML download of what the builder made imports back to the same definition.
    yaml_text = staff_client.get(f"/staff/surveys/{SLUG}/definition.yaml").get_data(as_text=True)
    downloaded = load_definition(yaml_text)
    assert downloaded["pages"] == definition["pages"]


def test_a_refused_step_says_why_and_changes_nothing(staff_client, session):
    create(staff_client)
    b = Builder(staff_client)
    b.step("add-page", {"page-type": "short_text", "page-label": "Your name"})
    question_page = f"{b.page_url}/questions/your_name"
    b.step("question-condition", {"target": "your_name", "source": "how_often_do_you_read_sight",
                                  "answer": "how_often_do_you_read_sight=hardly_ever"}, page_url=question_page)
    before = current(session).draft_definition
    refused = b.step("remove-question", {"target": "how_often_do_you_read_sight"})
    assert refused.status_code == 422
    assert "Other questions are shown depending on this one" in refused.get_data(as_text=True)
    assert current(session).draft_definition == before
    # A form left empty: the message is beside the field and what was typed is kept.
    empty = b.step("add-question", {"add-page": "first", "add-type": "dropdown", "add-label": "Your state"})
    html = empty.get_data(as_text=True)
    assert empty.status_code == 422 and "Please give at least one answer" in html and 'value="Your state"' in html
    assert current(session).draft_definition == before


def test_a_step_from_an_outdated_page_is_refused(staff_client, session):
    create(staff_client)
    b = Builder(staff_client)
    html = staff_client.get(b.page_url).get_data(as_text=True)
    stale = {"csrf_token": csrf_token_from(html), "draft": token_of(html)}
    b.step("add-question", {"add-page": "first", "add-type": "email", "add-label": "Email"})
    response = staff_client.post(f"/staff/surveys/{SLUG}/builder/step/remove-question", data={**stale, "target": "email"})
    assert response.status_code == 409 and "Someone changed this survey" in response.get_data(as_text=True)
    assert any(q["id"] == "email" for q in current(session).draft_definition["pages"][0]["questions"])


def test_options_get_values_from_labels_and_can_be_edited(staff_client, session):
    create(staff_client)
    b = Builder(staff_client)
    qid = "how_often_do_you_read_sight"
    question_page = f"{b.page_url}/questions/{qid}"
    b.step("add-option", {"target": qid, "kind": "options", "label": "Once a month"}, page_url=question_page)
    b.step("edit-option", {"target": qid, "kind": "options", "original": "once_a_month", "label": "Monthly", "value": "monthly"}, page_url=question_page)
    b.step("move-option", {"target": qid, "kind": "options", "original": "monthly", "direction": "up"}, page_url=question_page)
    b.step("question", {"target": qid, "label": "How often?", "help": "Roughly", "required": "y", "other": "y"}, page_url=question_page)
    question = current(session).draft_definition["pages"][0]["questions"][0]
    assert [o["value"] for o in question["options"]] == ["every_day", "every_week", "monthly", "hardly_ever"]
    assert (question["label"], question["help"], question["other"]) == ("How often?", "Roughly", True)


def test_saving_over_a_version_with_responses_makes_a_new_version(staff_client, session):
    v1 = validate_definition(copy.deepcopy(V1))
    survey = make_survey(session, (v1,))
    add_response(session, survey, {"read_frequency": "daily"})
    b = Builder(staff_client, "reader-survey")
    b.step("add-question", {"add-page": "reading", "add-type": "email", "add-label": "Email"})
    b.publish()
    session.expire_all()
    assert [v.number for v in survey.versions] == [1, 2]
    assert survey.versions[0].definition == v1 and survey.draft_definition is None


def visit(client, method: str, url: str, page_with_a_form: str):
    """A GET, or a POST carrying a valid CSRF token (so that the role check is what answers)."""
    if method == "get":
        return client.get(url)
    token = csrf_token_from(client.get(page_with_a_form).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token})


BUILDER_URLS = [
    ("get", "/staff/surveys/new/builder"),
    ("get", "/staff/surveys/reader-survey/builder"),
    ("get", "/staff/surveys/reader-survey/builder/questions/read_frequency"),
    ("get", "/staff/surveys/reader-survey/builder/pages/reading"),
    ("post", "/staff/surveys/reader-survey/builder/step/remove-question"),
    ("post", "/staff/surveys/reader-survey/builder/publish"),
    ("post", "/staff/surveys/reader-survey/builder/discard"),
]


@pytest.mark.parametrize("method,url", BUILDER_URLS)
def test_anonymous_visitors_to_the_builder_are_sent_to_sign_in(client, session, method, url):
    make_survey(session, (V1,))
    response = visit(client, method, url, "/sign-in")
    assert response.status_code == 302 and response.headers["Location"] == sign_in_url(url)


@pytest.mark.parametrize("method,url", BUILDER_URLS)
def test_readers_get_403_from_the_builder(client, session, method, url):
    make_survey(session, (V1,))
    sign_in_as(client, create_user(session, "reader@example.com", role=Role.reader))
    assert visit(client, method, url, "/account/settings/close").status_code == 403


def test_pages_and_grids_are_edited_step_by_step_with_help_on_the_page(staff_client, session):
    create(staff_client)
    b = Builder(staff_client)
    overview = staff_client.get(b.page_url).get_data(as_text=True)
    assert "How the builder works" in overview and "Preview: What readers think" in overview
    b.step("add-page", {"page-page_title": "Coverage", "page-type": "matrix", "page-label": "How good is our coverage?",
                        "page-rows": "News\nSport", "page-columns": "Poor\nGood"})
    b.step("add-page", {"page-page_title": "Last", "page-type": "email", "page-label": "Email"})
    grid = "how_good_is_our_coverage"
    grid_page = f"{b.page_url}/questions/{grid}"
    b.step("add-option", {"target": grid, "kind": "rows", "label": "Culture"}, page_url=grid_page)
    b.step("remove-option", {"target": grid, "kind": "columns", "original": "poor"}, page_url=grid_page)
    page_url = f"{b.page_url}/pages/coverage"
    b.step("page", {"target": "coverage", "title": "Our coverage"}, page_url=page_url)
    shown = b.step("page-condition", {"target": "coverage", "source": "how_often_do_you_read_sight",
                                      "answer": ["how_often_do_you_read_sight=every_day", "how_often_do_you_read_sight=every_week"]},
                   page_url=page_url)
    assert shown.status_code == 302
    # Ticking answers of another question than the one chosen is refused, with the reason.
    stray = b.step("page-condition", {"target": "coverage", "source": "how_often_do_you_read_sight",
                                      "answer": "how_good_is_our_coverage=good"}, page_url=page_url)
    assert stray.status_code == 422 and "belong to another question" in stray.get_data(as_text=True)
    # The last page holds the Send button: a page shown only sometimes cannot become the last.
    moved = b.step("move-page", {"target": "last", "direction": "up"})
    assert moved.status_code == 422 and "the last one, which holds the Send button" in moved.get_data(as_text=True)
    draft = current(session).draft_definition
    assert [p["id"] for p in draft["pages"]] == ["first", "coverage", "last"]
    coverage = next(p for p in draft["pages"] if p["id"] == "coverage")
    assert coverage["title"] == "Our coverage"
    assert coverage["show_if"] == {"question": "how_often_do_you_read_sight", "any_of": ["every_day", "every_week"]}
    question = coverage["questions"][0]
    assert [r["value"] for r in question["rows"]] == ["news", "sport", "culture"]
    assert [c["value"] for c in question["columns"]] == ["good"]


def test_a_refusal_about_one_field_is_shown_beside_it(staff_client, session):
    create(staff_client)
    b = Builder(staff_client)
    b.step("add-page", {"page-type": "short_text", "page-label": "Which one?"})
    question_page = f"{b.page_url}/questions/which_one"
    b.step("question", {"target": "how_often_do_you_read_sight", "label": QUESTION_LABEL, "other": "y", "required": "y"},
           page_url=f"{b.page_url}/questions/how_often_do_you_read_sight")
    b.step("question-condition", {"target": "which_one", "source": "how_often_do_you_read_sight",
                                  "answer": "how_often_do_you_read_sight=other"}, page_url=question_page)
    refused = b.step("question", {"target": "how_often_do_you_read_sight", "label": QUESTION_LABEL, "required": "y"},
                     page_url=f"{b.page_url}/questions/how_often_do_you_read_sight")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    beside = html[html.index('id="other-error"'):]
    assert beside.index("shown when “Other” is chosen here") < beside.index('id="other"')
    assert current(session).draft_definition["pages"][0]["questions"][0]["other"] is True


def test_limits_of_every_kind_are_set_in_the_question_form(staff_client, session):
    create(staff_client)
    b = Builder(staff_client)
    b.step("add-question", {"add-page": "first", "add-type": "multiple_choice", "add-label": "Sections",
                            "add-options": "News\nCulture\nScience"})
    b.step("add-question", {"add-page": "first", "add-type": "number", "add-label": "Age", "add-integer": "y"})
    b.step("add-question", {"add-page": "first", "add-type": "short_text", "add-label": "Postcode"})
    edit = f"{b.page_url}/questions/"
    b.step("question", {"target": "sections", "label": "Sections", "min_choices": "1", "max_choices": "2"}, page_url=edit + "sections")
    b.step("question", {"target": "age", "label": "Age", "min": "16", "max": "120", "integer": "y"}, page_url=edit + "age")
    b.step("question", {"target": "postcode", "label": "Postcode", "max_length": "4", "pattern": "[0-9]{4}",
                        "pattern_example": "3000", "pattern_hint": "4 digits"}, page_url=edit + "postcode")
    bad = b.step("question", {"target": "age", "label": "Age", "min": "90", "max": "20"}, page_url=edit + "age")
    assert bad.status_code == 422 and "must not be less than min" in bad.get_data(as_text=True)
    questions = {q["id"]: q for q in current(session).draft_definition["pages"][0]["questions"]}
    assert (questions["sections"]["min_choices"], questions["sections"]["max_choices"]) == (1, 2)
    assert (questions["age"]["min"], questions["age"]["max"], questions["age"]["integer"]) == (16, 120, True)
    postcode = questions["postcode"]
    assert (postcode["max_length"], postcode["pattern"], postcode["pattern_example"], postcode["pattern_hint"]) == (
        4, "[0-9]{4}", "3000", "4 digits")


def test_a_draft_keeps_dates_set_meanwhile_and_a_yaml_save_discards_it(staff_client, session):
    create(staff_client)
    b = Builder(staff_client)
    b.step("add-question", {"add-page": "first", "add-type": "email", "add-label": "Email"})
    edit = f"/staff/surveys/{SLUG}/edit"
    staff_client.post(f"/staff/surveys/{SLUG}/dates", data={
        "csrf_token": csrf_token_from(staff_client.get(edit).get_data(as_text=True)), "opens_at": "2027-01-04T09:00"})
    assert "unsaved draft in the builder" in staff_client.get(edit).get_data(as_text=True)
    b.publish()
    survey = current(session)
    assert survey.current_version.definition["settings"]["opens_at"].startswith("2027-01-03T22:00")
    assert [q["id"] for q in survey.current_version.definition["pages"][0]["questions"]][-1] == "email"
    # A draft, then a save in the YAML editor: the draft made on the old questions is dropped.
    b.step("remove-question", {"target": "email"})
    html = staff_client.get(edit).get_data(as_text=True)
    yaml_text = re.search(r'<textarea[^>]*>\n?(.*?)</textarea>', html, re.S).group(1)
    saved = staff_client.post(edit, data={"csrf_token": csrf_token_from(html), "action": "save",
                                  "definition": html_module.unescape(yaml_text).replace("title: What readers think", "title: What readers think now"),
                                  "based_on": re.search(r'name="based_on" type="hidden" value="([^"]*)"', html).group(1)})
    assert saved.status_code == 302
    assert current(session).draft_definition is None
