"""The default survey in Chromium on a phone-sized window, as a new reader would take it:
the first page by keyboard alone, the rest by touch, an error on the way, and the response
stored. The page fixture fails the test on any CSP violation."""

from __future__ import annotations

import pytest

from accounts.models import Role
from sight.extensions import db
from tests.helpers import sign_in_as
from tests.surveys.staff.conftest import V1, add_response
from tests.surveys.staff.conftest import make_survey as make_staff_survey
from tests.surveys.conftest import account, backdate_responses, responses
from tests.surveys.test_thanks import ask_counts

pytestmark = pytest.mark.browser


def tab_to(page, element_id: str, limit: int = 60) -> None:
    """Press Tab until the element has focus: it is reachable by keyboard, in order."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} never got the keyboard focus")


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_reader_completes_the_default_survey_on_a_phone(app, live_server, page, reader_survey):
    app.config["SITE_URL"] = "https://sight.example"
    page.goto(f"{live_server}/surveys/reader-survey?utm_source=article&from=https://sight.example/news/story")
    assert page.get_by_role("heading", name="Sight reader survey").is_visible()
    assert fits_the_screen(page)
    page.get_by_role("button", name="Start the survey").click()

    # Page 1, keyboard only.
    page.wait_for_url("**/page/1")
    assert page.get_by_role("progressbar", name="Page 1 of 3").is_visible()
    tab_to(page, "f-read_frequency-0")
    page.keyboard.press("ArrowDown")  # a radio group moves with the arrows: "A few times a week"
    tab_to(page, "f-found_via")
    page.keyboard.press("ArrowDown")
    tab_to(page, "f-sections-0")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    tab_to(page, "f-devices-0")
    page.keyboard.press("Space")
    tab_to(page, "next-button")
    page.keyboard.press("Enter")

    # Page 2, by touch.
    page.wait_for_url("**/page/2")
    assert page.get_by_role("progressbar", name="Page 2 of 3").is_visible()
    page.get_by_label("35 to 49").check()
    page.get_by_label("Where do you live?").select_option("vic")
    assert fits_the_screen(page)
    page.get_by_role("button", name="Next").click()

    # Page 3: nothing personal is asked, and nothing about Sight+.
    page.wait_for_url("**/page/3")
    assert page.locator("input[type=email]").count() == 0
    assert "Sight+" not in page.locator("form.survey-page").inner_text()
    page.get_by_role("group", name="Podcasts").get_by_label("More").check()
    page.get_by_label("Anything else you'd like to tell us?").fill("Keep it up — more science, please.")
    assert fits_the_screen(page)
    page.get_by_role("button", name="Send my answers").click()

    # The required rating was skipped: the summary says so and links to it; answers stay.
    summary = page.get_by_role("alert")
    summary.wait_for()
    # Focus moves to what went wrong (a script on the new page does it: wait for it rather than race it).
    page.wait_for_function("document.activeElement && document.activeElement.id === 'error-summary'")
    assert "How likely are you to recommend Sight to a friend?: Please choose an answer." in summary.inner_text()
    assert page.get_by_label("Anything else you'd like to tell us?").input_value() == "Keep it up — more science, please."
    summary.get_by_role("link").first.click()
    assert page.evaluate("document.activeElement.id") == "f-recommend-0" or page.url.endswith("#f-recommend-0")
    # A low score brings a follow-up question on the same page (show_if, by script).
    follow_up = page.get_by_label("What would make you more likely to recommend Sight?")
    assert follow_up.is_hidden()
    page.get_by_label("5", exact=True).check()
    assert follow_up.is_visible()
    follow_up.fill("More local news.")
    page.get_by_label("9", exact=True).check()
    assert follow_up.is_hidden()

    backdate_responses(app, 110)  # a real reader took about two minutes; min_seconds is 20
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_url("**/thanks")
    assert page.get_by_role("heading", name="Thank you").is_visible()

    [stored] = responses(app)
    assert stored.submitted_at is not None
    assert 100 <= stored.duration_seconds <= 200
    assert stored.utm_source == "article" and stored.referrer_url == "/news/story"
    assert stored.answers == {
        "read_frequency": "weekly",
        "found_via": "search",
        "sections": ["news", "politics"],
        "devices": ["phone"],
        "age_band": "35_49",
        "state": "vic",
        "more_of": {"podcasts": "more"},
        "recommend": 9,
        "comment": "Keep it up — more science, please.",
    }

    # The Sight+ card on the thank-you page: the click is counted (not who), and the gift page
    # knows where the reader came from.
    assert ask_counts(app) == (1, 0)
    page.get_by_role("link", name="Join Sight+ with a gift").click()
    page.wait_for_url("**/donate?source=survey%3Areader-survey")
    assert page.locator("input[name=source]").input_value() == "survey:reader-survey"
    assert ask_counts(app) == (1, 1)


def test_staff_preview_a_definition_on_a_phone(app, live_server, page, reader_survey):
    client = app.test_client()
    sign_in_as(client, account(app, "staff@example.com", Role.staff))
    page.context.add_cookies([{"name": "session", "value": client.get_cookie("session").value, "url": live_server}])
    page.goto(f"{live_server}/staff/surveys")
    page.get_by_role("link", name="Edit Sight reader survey").click()
    editor = page.get_by_label("Definition (YAML or JSON)")
    editor.fill(editor.input_value().replace("type: dropdown", "type: dropdwn", 1))
    page.get_by_role("button", name="Check and preview").click()
    assert "unknown type 'dropdwn'" in page.get_by_text("pages[0].questions[1]").inner_text()
    editor = page.get_by_label("Definition (YAML or JSON)")
    editor.fill(editor.input_value().replace("type: dropdwn", "type: dropdown", 1))
    page.get_by_role("button", name="Check and preview").click()
    assert page.get_by_role("heading", name="Preview: Sight reader survey").is_visible()
    assert page.get_by_role("group", name="Which sections do you read?").is_visible()
    assert fits_the_screen(page)


def test_a_reader_deletes_their_own_answers_from_the_browser_that_sent_them(app, live_server, page, reader_survey):
    page.goto(f"{live_server}/surveys/reader-survey")
    page.get_by_role("button", name="Start the survey").click()
    page.get_by_label("Every day or nearly").check()
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**/page/2")
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**/page/3")
    page.get_by_label("8", exact=True).check()
    page.get_by_label("Anything else you'd like to tell us?").fill("Less sport, please.")
    backdate_responses(app, 30)
    page.get_by_role("button", name="Send my answers").click()
    page.wait_for_url("**/thanks")
    assert len(responses(app)) == 1

    page.get_by_role("link", name="See or delete your answers").click()
    page.wait_for_url("**/my-answers")
    assert page.get_by_text("Less sport, please.").is_visible()
    assert page.get_by_text("Every day or nearly").is_visible()
    assert fits_the_screen(page)
    page.get_by_role("button", name="Delete my answers").click()
    assert page.get_by_role("heading", name="Your answers have been deleted").is_visible()
    assert responses(app) == []
    # The browser no longer holds them, and may answer again.
    page.goto(f"{live_server}/surveys/reader-survey/my-answers")
    assert page.get_by_text("We have no answers to this survey from this browser").is_visible()


CONTRAST = """(element) => {
  const rgb = (css) => css.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const luminance = (css) => {
    const [r, g, b] = rgb(css).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  let behind = element;  // the nearest box that paints a background (transparent ones show through)
  while (behind.parentElement && /rgba\\(.*, 0\\)$/.test(getComputedStyle(behind).backgroundColor)) {
    behind = behind.parentElement;
  }
  const [a, b] = [luminance(getComputedStyle(element).color), luminance(getComputedStyle(behind).backgroundColor)];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def test_staff_results_on_a_desktop_reach_every_region_by_keyboard_and_read_clearly(app, live_server, page):
    with app.app_context():
        survey = make_staff_survey(db.session, (V1,))
        for _ in range(4):
            add_response(db.session, survey, {"agree": {"news": "3", "culture": "3"}, "read_frequency": "daily"})
    client = app.test_client()
    sign_in_as(client, account(app, "staff@example.com", Role.staff))
    page.context.add_cookies([{"name": "session", "value": client.get_cookie("session").value, "url": live_server}])
    page.set_viewport_size({"width": 1280, "height": 800})

    page.goto(f"{live_server}/staff/")
    page.get_by_role("navigation", name="Staff").get_by_role("link", name="Surveys").click()
    page.wait_for_url("**/staff/surveys")
    assert page.get_by_role("navigation", name="Main").get_by_role("link", name="Surveys").is_visible()

    page.goto(f"{live_server}/staff/surveys/reader-survey")
    assert page.evaluate("document.querySelector('main').getBoundingClientRect().width") > 1000
    tab_to(page, "scroll-agree", limit=200)
    # Every percentage in the heat grid, on its darkest cell too, meets WCAG AA (4.5:1).
    ratios = [page.locator(".grid .pct").nth(i).evaluate(CONTRAST) for i in range(page.locator(".grid .pct").count())]
    assert ratios and min(ratios) >= 4.5, ratios
