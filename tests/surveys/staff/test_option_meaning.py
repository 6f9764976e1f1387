"""An answer's stored value keeps its meaning over the versions of a survey: the builder refuses
to change a value readers have answered with (a new answer is the way), and results across
versions count each value once, in the newest version's order and words, saying when its words
changed ("Crimson red (was: Red)")."""

from __future__ import annotations

import copy
import html as html_module
import re
from datetime import datetime, timezone

from sqlalchemy import select

from surveys.definition import validate_definition
from surveys.models import Survey
from tests.helpers import csrf_token_from
from tests.surveys.staff.conftest import add_response, make_survey
from tests.surveys.staff.test_builder_pages import token_of

COLOURS_V1 = {
    "slug": "colours",
    "title": "Colours",
    "pages": [
        {
            "id": "first",
            "questions": [
                {
                    "id": "colour",
                    "type": "single_choice",
                    "label": "Your favourite colour?",
                    "options": [
                        {"value": "red", "label": "Red"},
                        {"value": "green", "label": "Green"},
                        {"value": "blue", "label": "Blue"},
                    ],
                },
                {
                    "id": "liked",
                    "type": "matrix",
                    "label": "How much do you like",
                    "rows": [{"value": "sky", "label": "The sky"}, {"value": "sea", "label": "The sea"}],
                    "columns": [{"value": "1", "label": "Not much"}, {"value": "2", "label": "A lot"}],
                },
            ],
        }
    ],
}


def colours_v2() -> dict:
    """Red relabelled, blue moved first, a new option: what the builder allows."""
    definition = copy.deepcopy(COLOURS_V1)
    colour = definition["pages"][0]["questions"][0]
    red, green, blue = colour["options"]
    colour["options"] = [blue, {**red, "label": "Crimson red"}, green, {"value": "yellow", "label": "Yellow"}]
    return definition


def question_page(client, qid: str = "colour") -> tuple[str, str]:
    url = f"/staff/surveys/colours/builder/questions/{qid}"
    return url, client.get(url).get_data(as_text=True)


def edit_option(client, original: str, label: str, value: str, kind: str = "options", qid: str = "colour"):
    _, html = question_page(client, qid)
    return client.post(
        "/staff/surveys/colours/builder/step/edit-option",
        data={
            "csrf_token": csrf_token_from(html), "draft": token_of(html), "target": qid, "kind": kind,
            "original": original, "label": label, "value": value,
        },
    )


def draft_question(session, qid: str = "colour") -> dict:
    session.expire_all()
    survey = session.scalar(select(Survey).where(Survey.slug == "colours"))
    definition = survey.draft_definition or survey.current_version.definition
    return next(q for p in definition["pages"] for q in p["questions"] if q["id"] == qid)


def test_a_value_readers_answered_with_in_an_earlier_version_cannot_change_and_the_page_says_why(staff_client, session):
    survey = make_survey(session, (validate_definition(COLOURS_V1), validate_definition(colours_v2())))
    # Only version 1 holds answers with "green", and an unfinished response one with sea.
    add_response(session, survey, {"colour": "green"}, version=1)
    started = datetime(2026, 11, 20, tzinfo=timezone.utc)
    add_response(session, survey, {"colour": "blue", "liked": {"sea": "2"}}, version=2, submitted_at=None, started_at=started)
    session.commit()
    before = draft_question(session)

    refused = edit_option(staff_client, "green", "Verdant green", "verde")
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    # Beside the stored value of that answer, tied to it, with what was typed kept.
    field = re.search(r'<div class="field has-error"><label for="(options-\d)-value">Stored value</label>(.*?)</div>', html, re.S)
    assert field, "the message is not beside the stored value"
    message = html_module.unescape(field.group(2))
    assert "Readers have already answered with “Green” (stored as “green”)" in message
    assert "add a new answer below" in message
    row = field.group(1)
    assert f'aria-describedby="{row}-value-error"' in field.group(2) and 'aria-invalid="true"' in field.group(2)
    assert 'value="verde"' in field.group(2) and 'value="Verdant green"' in html
    assert draft_question(session) == before

    # Its words may change, and so may a value nobody answered with.
    assert edit_option(staff_client, "green", "Verdant green", "green").status_code == 302
    assert edit_option(staff_client, "yellow", "Yellow", "gold").status_code == 302
    assert [(o["value"], o["label"]) for o in draft_question(session)["options"]] == [
        ("blue", "Blue"), ("red", "Crimson red"), ("green", "Verdant green"), ("gold", "Yellow"),
    ]  # fmt: skip

    # A matrix row answered in an unfinished response, and a column answered, keep theirs too.
    assert edit_option(staff_client, "sea", "The ocean", "ocean", kind="rows", qid="liked").status_code == 422
    assert edit_option(staff_client, "2", "Very much", "lots", kind="columns", qid="liked").status_code == 422
    assert edit_option(staff_client, "sky", "The sky", "heavens", kind="rows", qid="liked").status_code == 302
    assert edit_option(staff_client, "1", "Not much", "little", kind="columns", qid="liked").status_code == 302
    liked = draft_question(session, "liked")
    assert [r["value"] for r in liked["rows"]] == ["heavens", "sea"]
    assert [c["value"] for c in liked["columns"]] == ["little", "2"]


def test_a_value_that_merely_appears_in_another_answer_can_still_change(staff_client, session):
    survey = make_survey(session, (validate_definition(COLOURS_V1),))
    # "red" is written in the matrix's answer and a free-text-like place, never as the colour.
    add_response(session, survey, {"colour": "blue", "liked": {"sky": "1"}, "note_red": "red"})
    session.commit()
    assert edit_option(staff_client, "red", "Red", "rouge").status_code == 302
    assert [o["value"] for o in draft_question(session)["options"]] == ["rouge", "green", "blue"]


def test_all_versions_count_each_value_once_in_the_newest_order_and_words_saying_when_they_changed(staff_client, session):
    survey = make_survey(session, (validate_definition(COLOURS_V1), validate_definition(colours_v2())))
    for colour in ("red", "red", "green"):
        add_response(session, survey, {"colour": colour}, version=1)
    for colour in ("red", "blue"):
        add_response(session, survey, {"colour": colour}, version=2)
    session.commit()

    html = staff_client.get("/staff/surveys/colours").get_data(as_text=True)
    section = html[html.index('id="q-colour"'):]
    section = section[: section.index("</table>")]
    rows = re.findall(r'<tr><th scope="row">([^<]*)</th><td class="num">(\d+)</td>', section)
    assert [(html_module.unescape(label), int(n)) for label, n in rows] == [
        ("Blue", 1), ("Crimson red (was: Red)", 3), ("Green", 1), ("Yellow", 0),
    ]  # fmt: skip

    # One version alone speaks its own words.
    first = staff_client.get("/staff/surveys/colours?version=1").get_data(as_text=True)
    first = first[first.index('id="q-colour"'):]
    first = first[: first.index("</table>")]
    assert [label for label, _ in re.findall(r'<tr><th scope="row">([^<]*)</th><td class="num">(\d+)</td>', first)] == [
        "Red", "Green", "Blue",
    ]  # fmt: skip

    # The cross-tab by version reads the same words.
    crosstab = staff_client.get("/staff/surveys/colours/crosstab?rows=colour&columns=version").get_data(as_text=True)
    assert "Crimson red (was: Red)" in html_module.unescape(crosstab)
