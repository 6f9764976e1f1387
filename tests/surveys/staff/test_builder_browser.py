"""The done-when scenario in Chromium: a staff member builds a three-question survey with a
condition without touching YAML (with JavaScript off, then on), readers take it, and staff see
the NPS, a cross-tab by Sight+ and one whole response — checked against what the readers did."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from sight.extensions import db
from surveys.models import Response
from tests.surveys.conftest import backdate_responses

pytestmark = pytest.mark.browser

QUESTION = "How often do you read Sight?"
RECOMMEND = "How likely are you to recommend Sight?"
WHY = "What brings you back every day?"


@pytest.fixture
def desk(browser, live_server, staff_client, session):
    """A staff member's browser tab, desktop-sized, with or without JavaScript; a CSP violation
    fails the test."""
    session.rollback()  # the test's own session must not hold SQLite's write lock meanwhile
    opened = []

    def open_tab(javascript: bool):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=javascript)
        context.add_cookies([{"name": "session", "value": staff_client.get_cookie("session").value, "url": live_server}])
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        tab.csp_violations = []
        tab.on("console", lambda msg: tab.csp_violations.append(msg.text) if "Content Security Policy" in msg.text else None)
        opened.append((context, tab))
        return tab

    yield open_tab
    for context, tab in opened:
        context.close()
        assert not tab.csp_violations, tab.csp_violations


def mark_page(tab, javascript: bool) -> None:
    """With JavaScript, builder steps are sent in the background: a mark left on the page
    survives them, and would not survive a reload."""
    if javascript:
        tab.evaluate("window.notReloaded = true")


def still_the_same_page(tab, javascript: bool) -> None:
    if javascript:
        assert tab.evaluate("window.notReloaded === true")


def build_survey(tab, live_server, *, javascript: bool) -> None:
    tab.goto(f"{live_server}/staff/surveys")
    tab.get_by_role("link", name="New survey", exact=True).click()
    tab.get_by_label("Title of the survey").fill("What readers think")
    tab.get_by_label("Kind of question").select_option("single_choice")
    tab.get_by_label("Question", exact=True).fill(QUESTION)
    tab.get_by_label("Readers must answer it").check()
    tab.get_by_label("Answers to choose from, one per line").fill("Every day\nEvery week\nHardly ever")
    tab.get_by_role("button", name="Create the survey").click()
    expect(tab.locator("h1")).to_have_text("Build “What readers think”")
    mark_page(tab, javascript)

    adding = tab.locator("#add-question")
    adding.get_by_label("Kind of question").select_option("rating")
    if javascript:
        # Only the settings of a rating are shown.
        expect(adding.get_by_label("Scale from")).to_be_visible()
        expect(adding.get_by_label("Answers to choose from, one per line")).to_be_hidden()
    adding.get_by_label("Question", exact=True).fill(RECOMMEND)
    adding.get_by_label("Scale from").fill("0")
    adding.get_by_label("Scale to").fill("10")
    adding.get_by_label("Label of the lowest point").fill("Not at all likely")
    adding.get_by_label("Label of the highest point").fill("Extremely likely")
    adding.get_by_label("This is a “would you recommend” question: show the Net Promoter Score").check()
    adding.get_by_role("button", name="Add the question").click()
    expect(tab.locator("#builder strong").get_by_text(RECOMMEND)).to_be_visible()

    new_page = tab.locator("#add-page")
    new_page.get_by_label("Title of the new page").fill("Why")
    new_page.get_by_label("Kind of question").select_option("long_text")
    new_page.get_by_label("Question", exact=True).fill(WHY)
    new_page.get_by_role("button", name="Add the page").click()
    # The preview beside the builder shows the new page.
    expect(tab.locator(".builder-preview").get_by_text("Page 2: Why")).to_be_visible()

    still_the_same_page(tab, javascript)
    tab.get_by_role("link", name=f"Edit “{WHY}”").click()
    mark_page(tab, javascript)
    tab.get_by_label("Show only when this question…").select_option(label=QUESTION)
    answers = tab.locator('fieldset[data-condition-for="how_often_do_you_read_sight"]')
    if javascript:
        expect(tab.locator('fieldset[data-condition-for="how_likely_are_you_to_recommend_sight"]')).to_be_hidden()
    answers.get_by_label("Every day").check()
    tab.get_by_role("button", name="Save the condition").click()
    expect(tab.get_by_text(f"Now shown only when “{QUESTION}” is Every day.")).to_be_visible()

    still_the_same_page(tab, javascript)
    tab.get_by_role("link", name="Back to all questions of What readers think").click()
    mark_page(tab, javascript)
    tab.get_by_role("button", name="Save the survey").click()
    expect(tab.get_by_text("Saved: version 1 was updated")).to_be_visible()
    still_the_same_page(tab, javascript)
    tab.goto(f"{live_server}/staff/surveys/what-readers-think/edit")
    tab.get_by_role("button", name="Open the survey").click()


def take(browser, live_server, app, frequency: str, rating: str, why: str | None) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740})
    reader = context.new_page()
    reader.set_default_timeout(10_000)
    reader.goto(f"{live_server}/surveys/what-readers-think?utm_source=newsletter")
    reader.get_by_role("button", name="Start the survey").click()
    reader.get_by_label(frequency).check()
    reader.locator(f'input[name="how_likely_are_you_to_recommend_sight"][value="{rating}"]').check()
    reader.get_by_role("button", name="Next").click()
    if why is None:
        # Only daily readers are asked why they come back every day.
        assert reader.get_by_label(WHY).count() == 0
    else:
        reader.get_by_label(WHY).fill(why)
    backdate_responses(app)
    reader.get_by_role("button", name="Send my answers").click()
    expect(reader.get_by_text("Thank you").first).to_be_visible()  # waits for the thank-you page to be drawn
    context.close()


@pytest.mark.parametrize("javascript", [False, True], ids=["without JavaScript", "with JavaScript"])
def test_build_take_and_read_a_survey_without_yaml(desk, browser, live_server, app, javascript):
    tab = desk(javascript)
    build_survey(tab, live_server, javascript=javascript)

    readers = [("Every day", "10", "The science coverage"), ("Every day", "9", "Long reads"),
               ("Every week", "5", None), ("Hardly ever", "3", None)]  # fmt: skip
    for frequency, rating, why in readers:
        take(browser, live_server, app, frequency, rating, why)
    with app.app_context():
        stored = [r.answers for r in db.session.scalars(select(Response).order_by(Response.id))]
    assert [a.get("what_brings_you_back_every_day") for a in stored] == [why for *_, why in readers]

    tab.goto(f"{live_server}/staff/surveys/what-readers-think")
    ratings = [int(rating) for _, rating, _ in readers]
    score = (sum(r >= 9 for r in ratings) - sum(r <= 6 for r in ratings)) * 100 / len(ratings)
    assert tab.locator(".nps-score strong").inner_text() == f"{score:+.0f}"

    tab.get_by_role("link", name="Cross-tabs").click()
    tab.get_by_label("Rows: answers to").select_option(label=QUESTION)
    tab.get_by_label("Columns: split by").select_option(label="Sight+")
    tab.get_by_role("button", name="Show the cross-tab").click()
    every_day = tab.locator("table.crosstab tbody tr").filter(has_text="Every day")
    cells = every_day.locator("td").all_inner_texts()
    daily = sum(1 for frequency, *_ in readers if frequency == "Every day")
    assert cells[0] == str(daily)  # the base
    assert cells[-1].split()[:2] == [str(daily), "100%"]  # none of these readers was signed in
    assert tab.locator("svg.chart").is_visible()

    tab.goto(f"{live_server}/staff/surveys/what-readers-think")
    tab.get_by_role("link", name="Read the responses one by one").click()
    assert tab.locator("h1").inner_text().startswith("Response ")
    assert tab.get_by_text("The science coverage").is_visible()
    assert tab.get_by_text("newsletter").is_visible()
    tab.get_by_role("link", name="Next response").click()
    assert tab.get_by_text("Long reads").is_visible()
    assert tab.get_by_text("9 (on a scale from 0 to 10)").is_visible()
