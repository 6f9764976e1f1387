"""Every staff page of a survey fits a phone (390 px): nothing makes the page scroll sideways,
whatever the length of its question ids and labels (a wide table scrolls inside its own box).
tests/platform/test_pages.py checks the same of every page of the site, in the SQLite run."""

from __future__ import annotations

import pytest

from surveys.definition import validate_definition
from tests.platform.test_pages import WIDEST
from tests.surveys.staff.conftest import add_response, make_survey

pytestmark = pytest.mark.browser

# The longest id a definition allows (60 characters), and labels as long as staff write them.
LONG_ID = "how_likely_are_you_to_recommend_sight_to_a_friend_or_colleag"
LONG_TEXT_ID = "anything_else_you_would_like_to_tell_the_editors_of_sight_ab"
LONG = {
    "slug": "long-words",
    "title": "What readers of the weekend edition think about its coverage",
    "pages": [
        {
            "id": "the_weekend_edition_and_the_people_who_read_it_every_weekend",
            "title": "The weekend edition",
            "questions": [
                {
                    "id": LONG_ID,
                    "type": "single_choice",
                    "label": "How likely are you to recommend the weekend edition of Sight to a friend or a colleague?",
                    "other": True,
                    "options": [
                        {"value": "extremely_likely_to_recommend_it_to_everyone_i_know",
                         "label": "Extremely likely, to everyone I know"},
                        {"value": "not_likely", "label": "Not likely"},
                    ],
                },
                {
                    "id": "which_sections_of_the_weekend_edition_do_you_read_every_week",
                    "type": "multiple_choice",
                    "label": "Which sections of the weekend edition do you read most weeks, if any at all?",
                    "options": [{"value": "news", "label": "News"}, {"value": "long_reads", "label": "Long reads"}],
                },
                {
                    "id": LONG_TEXT_ID,
                    "type": "long_text",
                    "label": "Anything else you would like to tell the editors?",
                },
            ],
        }
    ],
}



def sideways(tab) -> int:
    return tab.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def test_every_staff_page_of_a_survey_with_long_ids_and_labels_fits_a_phone(staff_phone_tab, live_server, session):
    survey = make_survey(session, (validate_definition(LONG),))
    response = add_response(session, survey, {
        LONG_ID: "extremely_likely_to_recommend_it_to_everyone_i_know",
        "which_sections_of_the_weekend_edition_do_you_read_every_week": ["news", "long_reads"],
        LONG_TEXT_ID: "More crosswords, please.",
    }, sight_plus=True)  # fmt: skip
    session.commit()
    base = f"/staff/surveys/{survey.slug}"
    page_id = LONG["pages"][0]["id"]
    pages = [
        "/staff/surveys", base, f"{base}/crosstab", f"{base}/crosstab?rows={LONG_ID}&columns=sight_plus",
        f"{base}/sight-plus", f"{base}/responses/{response.id}", f"{base}/answers/{LONG_TEXT_ID}",
        f"{base}/edit", f"{base}/duplicate", f"{base}/promise", f"{base}/erase", f"{base}/responses/{response.id}/erase",
        f"{base}/builder", f"{base}/builder/questions/{LONG_ID}", f"{base}/builder/pages/{page_id}",
    ]  # fmt: skip
    too_wide = {}
    for path in pages:
        answer = staff_phone_tab.goto(live_server + path)
        assert answer.status == 200, path
        if sideways(staff_phone_tab) > 0:
            too_wide[path] = (sideways(staff_phone_tab), staff_phone_tab.evaluate(WIDEST))
    assert not too_wide, f"pages that scroll sideways at 390 px (by px, and what sticks out): {too_wide}"
