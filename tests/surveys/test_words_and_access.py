"""Words and accessibility, in Chromium: a pattern comes with an example that its error quotes
("Please type 4 digits, like 3000"); every field in error says so to a screen reader
(aria-invalid); staff read "not shown (skip logic)" for a question a reader never saw; and staff
land on their dashboard when they sign in."""

from __future__ import annotations

import re

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from accounts.models import Role
from sight.extensions import db
from surveys.models import Survey
from tests.helpers import PASSWORD, make_user
from tests.surveys.conftest import backdate_responses
from tests.surveys.staff.conftest import add_response

pytestmark = pytest.mark.browser



def described_errors(tab, field_id: str) -> str:
    """The text of the errors a field points at with aria-describedby (what a screen reader reads)."""
    return tab.evaluate(
        """id => (document.getElementById(id).getAttribute('aria-describedby') || '').split(' ')
                 .map(ref => document.getElementById(ref)).filter(e => e && e.classList.contains('field-errors'))
                 .map(e => e.textContent.trim()).join(' ')""",
        field_id,
    )


def test_a_pattern_needs_an_example_that_its_error_quotes_and_fields_in_error_are_marked_invalid(
    app, live_server, page, staff_phone_tab, make_survey
):
    slug = make_survey()  # its postcode question has a pattern, [0-9]{4}, and no example yet
    question = f"{live_server}/staff/surveys/{slug}/builder/questions/postcode"

    # The builder asks for an example beside the field, and marks the field (builder.js sends
    # the step in the background and redraws the form: the checks wait for it).
    staff_phone_tab.goto(question)
    staff_phone_tab.get_by_role("button", name="Save the question").click()
    example = staff_phone_tab.locator("#pattern_example")
    expect(example).to_have_attribute("aria-invalid", "true")
    assert "Please give an example of an answer that fits the pattern" in described_errors(staff_phone_tab, "pattern_example")
    staff_phone_tab.get_by_label("An answer that fits the pattern").fill("30000")
    staff_phone_tab.get_by_role("button", name="Save the question").click()
    expect(staff_phone_tab.locator("#pattern_example-error")).to_contain_text("“30000” does not fit the pattern")
    assert "does not fit" in described_errors(staff_phone_tab, "pattern_example")
    staff_phone_tab.get_by_label("An answer that fits the pattern").fill("3000")
    staff_phone_tab.get_by_label("What fits, in words").fill("4 digits")
    staff_phone_tab.get_by_role("button", name="Save the question").click()
    expect(example).not_to_have_attribute("aria-invalid", "true")
    staff_phone_tab.goto(f"{live_server}/staff/surveys/{slug}/builder")
    staff_phone_tab.get_by_role("button", name="Save the survey").click()
    expect(staff_phone_tab.get_by_text("Saved: version 1 was updated")).to_be_visible()
    with app.app_context():
        survey = db.session.scalar(select(Survey).where(Survey.slug == slug))
        asked = next(q for p in survey.current_version.definition["pages"] for q in p["questions"] if q["id"] == "postcode")
        assert (asked["pattern_example"], asked["pattern_hint"]) == ("3000", "4 digits")

    # A reader: a required choice left out marks each of its choices invalid.
    page.goto(f"{live_server}/surveys/{slug}")
    page.get_by_role("button", name="Start the survey").click()
    page.wait_for_url("**/page/1")
    with page.expect_navigation():
        page.get_by_role("button", name="Next").click()
    colours = page.locator("input[name=colour]")
    assert colours.count() == 3
    assert all(colours.nth(n).get_attribute("aria-invalid") == "true" for n in range(3))
    assert page.locator("#f-colour-other").get_attribute("aria-invalid") == "true"
    assert page.locator("input[name=pets]").first.get_attribute("aria-invalid") is None  # no error there
    page.get_by_label("Red").check()
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**/page/2")
    backdate_responses(app)

    # The pattern's error says which form, in the builder's words and example.
    page.get_by_label("Postcode").fill("20a0")
    page.get_by_label("10 (Good)").check()
    page.locator("input[name='grid[news]']").first.check()
    page.locator("input[name='grid[sport]']").first.check()
    with page.expect_navigation():
        page.get_by_role("button", name="Send my answers").click()
    postcode = page.get_by_label("Postcode")
    assert postcode.get_attribute("aria-invalid") == "true"
    assert described_errors(page, "f-postcode") == "Please type 4 digits, like 3000."
    assert page.locator("#f-age").get_attribute("aria-invalid") is None
    postcode.fill("2000")
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_url("**/thanks")


SKIP_LOGIC_ANSWERS = {"colour": "red", "pets": ["cat"], "score": 7, "grid": {"news": "1", "sport": "2"}}


def test_staff_read_not_shown_for_a_question_skip_logic_hid_and_not_answered_for_one_left_empty(
    live_server, staff_phone_tab, session, make_survey
):
    slug = make_survey()
    survey = session.scalar(select(Survey).where(Survey.slug == slug))
    # dog_name is asked only of readers with a dog; city was shown and left empty.
    without_dog = add_response(session, survey, dict(SKIP_LOGIC_ANSWERS))
    with_dog = add_response(session, survey, {**SKIP_LOGIC_ANSWERS, "pets": ["dog"]})
    session.commit()
    ids = without_dog.id, with_dog.id
    session.rollback()

    def answer_to(label: str) -> str:
        term = staff_phone_tab.locator("dl.response-answers dt", has_text=label)
        return term.locator("xpath=following-sibling::dd").inner_text().strip()

    staff_phone_tab.goto(f"{live_server}/staff/surveys/{slug}/responses/{ids[0]}")
    assert answer_to("Your dog's name") == "not shown (skip logic)"
    assert answer_to("City") == "not answered"
    assert answer_to("Pets you have") == "Cat"
    staff_phone_tab.goto(f"{live_server}/staff/surveys/{slug}/responses/{ids[1]}")
    assert answer_to("Your dog's name") == "not answered"


def sign_in(tab, live_server, email: str, path: str = "/sign-in", totp_secret: str | None = None) -> None:
    tab.goto(live_server + path)
    tab.get_by_label("Email address").fill(email)
    tab.get_by_label("Password", exact=True).fill(PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    if totp_secret:
        tab.wait_for_url("**/sign-in/totp")
        tab.get_by_label(re.compile("code", re.I)).fill(pyotp.TOTP(totp_secret).now())
        tab.get_by_role("button", name=re.compile("Sign in|Confirm|Continue")).click()
    tab.wait_for_load_state()


@pytest.mark.parametrize("role", [Role.staff, Role.admin])
def test_staff_land_on_the_staff_dashboard_after_signing_in_unless_a_page_asked_for_them(app, browser, live_server, role):
    # One person per sign-in: an authenticator's code works only once.
    for n, (who, path, lands_on) in enumerate((
        (role, "/sign-in", "/staff/"),
        (role, "/sign-in?next=/staff/surveys", "/staff/surveys"),
        (role, "/sign-in?next=https://evil.example/staff/", "/staff/"),
        (Role.reader, "/sign-in", "/account"),
    )):  # fmt: skip
        who = make_user(app, f"person{n}@example.com", role=who, totp=who != Role.reader)
        context = browser.new_context(viewport={"width": 390, "height": 844})
        tab = context.new_page()
        tab.set_default_timeout(20_000)
        sign_in(tab, live_server, who.email, path, who.totp_secret)
        assert tab.url == live_server + lands_on, (who.email, path)
        context.close()
