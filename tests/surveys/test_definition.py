"""Definitions: every problem reported with where it is; normalised; dumped and read back."""

from __future__ import annotations

import copy
import json

import pytest
from werkzeug.datastructures import MultiDict

from surveys.answers import read_page
from surveys.definition import DefinitionError, dump_definition, load_definition, validate_definition
from surveys.definition.walk import condition_met, skipped_questions, visible_answers, visible_pages
from surveys.operations import DEFAULT_SURVEY_FILE
from tests.surveys.conftest import ALL_TYPES


def problems_of(text_or_data) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        if isinstance(text_or_data, str):
            load_definition(text_or_data)
        else:
            validate_definition(text_or_data)
    return caught.value.problems


def with_question(**question) -> dict:
    data = copy.deepcopy(ALL_TYPES)
    data["pages"][1]["questions"].insert(3, {"id": "extra", "label": "Extra", **question})
    return data


def test_unknown_type_is_located():
    assert problems_of(with_question(type="singel")) == [
        "pages[1].questions[3]: unknown type 'singel' (one of: single_choice, multiple_choice, dropdown, "
        "short_text, long_text, email, number, rating, matrix)"
    ]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ({"type": "single_choice"}, "pages[1].questions[3].options: a list of at least one {value, label} is required"),
        ({"type": "single_choice", "options": [{"value": "a", "label": "A"}, {"value": "a", "label": "B"}]},
         "pages[1].questions[3].options[1].value: 'a' is used twice"),
        ({"type": "dropdown", "options": [{"value": True, "label": "Yes"}]},
         "pages[1].questions[3].options[0].value: must be text of 1 to 60 characters, not true (put it in quotes"),
        ({"type": "number", "min": 5, "max": 1}, "pages[1].questions[3].max: must not be less than min"),
        ({"type": "short_text", "pattern": "(["}, "pages[1].questions[3].pattern: is not a valid regular expression"),
        ({"type": "short_text", "options": []}, "pages[1].questions[3]: unknown key 'options' for type 'short_text'"),
        ({"type": "long_text", "lable": "x"}, "pages[1].questions[3]: unknown key 'lable' for type 'long_text'"),
        ({"type": "rating", "scale": {"min": 5, "max": 1}}, "pages[1].questions[3].scale.max: must be more than min"),
        ({"type": "matrix", "rows": [{"value": "a", "label": "A"}]}, "pages[1].questions[3].columns: a list of at least one"),
        ({"type": "multiple_choice", "options": [{"value": "a", "label": "A"}], "max_choices": 5},
         "pages[1].questions[3].max_choices: must be from 1 to 1, not 5"),
        ({"type": "single_choice", "other": True, "options": [{"value": "other", "label": "Other"}]},
         "pages[1].questions[3].options: value 'other' is added by `other: true`; remove it"),
        ({"type": "email", "show_if": {"question": "postcode", "equals": "2000"}},
         "pages[1].questions[3].show_if: 'postcode' is a short_text question: only `answered` can be tested"),
        ({"type": "email", "show_if": {"question": "colour", "equals": "green"}},
         "pages[1].questions[3].show_if.equals: 'green' is not an answer of 'colour'"),
        ({"type": "email", "show_if": {"question": "grid", "answered": True}},
         "pages[1].questions[3].show_if: question 'grid' is not an earlier question of this survey"),
        ({"type": "email", "label": ""}, "pages[1].questions[3].label: must not be empty"),
        ({"type": "short_text", "pattern": "[0-9]{4}", "pattern_example": "300"},
         "pages[1].questions[3].pattern_example: '300' does not fit the pattern '[0-9]{4}'"),
        ({"type": "short_text", "pattern_hint": "4 digits"},
         "pages[1].questions[3].pattern_hint: goes with a pattern: set `pattern` too"),
    ],
)
def test_question_problems_are_located(question, expected):
    problems = problems_of(with_question(**question))
    assert any(p.startswith(expected) for p in problems), problems


def test_ids_are_never_reused_and_reserved_names_refused():
    data = with_question(type="email", id="colour")
    assert "pages[1].questions[3].id: 'colour' is already used by another question (ids are never reused)" in problems_of(data)
    data = with_question(type="email", id="colour_other")
    assert any("'colour_other' is already used" in p for p in problems_of(data))
    data = with_question(type="email", id="csrf_token")
    assert "pages[1].questions[3].id: 'csrf_token' is reserved; choose another id" in problems_of(data)
    data = with_question(type="email", id="Bad-Id")
    assert any(p.startswith("pages[1].questions[3].id: 'Bad-Id' must start with a lowercase letter") for p in problems_of(data))


def test_top_level_and_settings_problems():
    data = copy.deepcopy(ALL_TYPES)
    data.update(slug="New Survey", titel="x")
    data["settings"] = {"one_response_per": "person", "resume_days": 0, "opens_at": "2026-12-01"}
    data["pages"][1]["show_if"] = {"question": "colour", "equals": "red"}
    problems = problems_of(data)
    assert "unknown key 'titel'" in problems
    assert "slug: 'New Survey' must be lowercase letters, digits and single hyphens" in problems
    assert "settings.one_response_per: must be one of any, browser, account, not 'person'" in problems
    assert "settings.resume_days: must be from 1 to 365, not 0" in problems
    assert any(p.startswith("settings.opens_at: must be a date and time with a UTC offset") for p in problems)
    assert "pages[1].show_if: the last page is always shown (it holds the Send button)" in problems
    assert problems_of({**ALL_TYPES, "slug": "new"}) == ["slug: 'new' is reserved for a staff page; choose another"]


def test_syntax_errors_say_where():
    problems = problems_of("slug: a\ntitle: [unclosed\n")
    assert problems[0].startswith("line 3, column 1:")
    assert problems_of("- just\n- a list\n")[0].startswith("a survey definition is a mapping")


def test_defaults_are_filled_in_and_values_become_text():
    definition = validate_definition(with_question(type="single_choice", options=[{"value": 1, "label": "One"}]))
    extra = definition["pages"][1]["questions"][3]
    assert extra == {
        "id": "extra", "type": "single_choice", "label": "Extra", "help": "", "required": False,
        "show_if": None, "options": [{"value": "1", "label": "One"}], "other": False,
    }
    assert definition["settings"]["resume_days"] == 14
    story = definition["pages"][1]["questions"][1]
    assert story["max_length"] == 50
    assert definition["pages"][1]["questions"][0]["pattern"] == "[0-9]{4}"


def test_dump_reads_back_the_same_in_yaml_and_json():
    definition = load_definition(DEFAULT_SURVEY_FILE.read_text())
    assert load_definition(dump_definition(definition)) == definition
    assert load_definition(dump_definition(definition, "json")) == definition
    assert json.loads(dump_definition(definition, "json"))["slug"] == "reader-survey"
    assert "intro: |" in dump_definition(definition)


def test_default_survey_is_about_ten_questions_and_never_asks_for_sight_plus_membership():
    definition = load_definition(DEFAULT_SURVEY_FILE.read_text())
    questions = [q for page in definition["pages"] for q in page["questions"]]
    assert 9 <= len(questions) <= 12
    ids = {q["id"] for q in questions}
    assert {"read_frequency", "found_via", "sections", "devices", "age_band", "state", "more_of", "recommend", "comment"} <= ids
    assert {q["type"] for q in questions} >= {"single_choice", "multiple_choice", "dropdown", "rating", "matrix", "long_text"}


def test_default_survey_keeps_its_promise_of_anonymity():
    """It says "anonymous unless you choose to link it": so no email, and the Sight+ ask is
    on the thank-you page, never among the questions."""
    definition = load_definition(DEFAULT_SURVEY_FILE.read_text())
    assert "anonymous unless you choose to link it" in " ".join(definition["intro"].split())
    questions = [q for page in definition["pages"] for q in page["questions"]]
    assert [q["id"] for q in questions if q["type"] == "email"] == []
    assert [q["id"] for q in questions if "sight+" in (q["label"] + q["help"]).lower() or "sight_plus" in q["id"]] == []


def test_show_if_conditions():
    assert condition_met(None, {})
    assert condition_met({"question": "a", "equals": "x"}, {"a": "x"})
    assert condition_met({"question": "a", "equals": "x"}, {"a": ["y", "x"]})
    assert not condition_met({"question": "a", "equals": "x"}, {})
    assert condition_met({"question": "a", "any_of": ["x", "z"]}, {"a": "z"})
    assert condition_met({"question": "a", "answered": True}, {"a": 3})
    assert condition_met({"question": "a", "answered": False}, {})
    assert condition_met({"question": "r", "equals": 9}, {"r": 9})


def test_hidden_pages_and_questions_drop_their_answers():
    data = copy.deepcopy(ALL_TYPES)
    data["pages"].insert(1, {"id": "dogs", "show_if": {"question": "pets", "equals": "dog"},
                             "questions": [{"id": "breed", "type": "short_text", "label": "Breed"}]})
    definition = validate_definition(data)
    assert visible_pages(definition, {"pets": ["cat"]}) == [0, 2]
    assert visible_pages(definition, {"pets": ["dog"]}) == [0, 1, 2]
    answers = {"pets": ["cat"], "dog_name": "Rex", "breed": "Kelpie", "score": 3}
    assert visible_answers(definition, answers) == {"pets": ["cat"], "score": 3}
    # What staff read as "not shown (skip logic)": the hidden page's question and dog_name.
    assert skipped_questions(definition, answers) == {"breed", "dog_name"}
    assert skipped_questions(definition, {"pets": ["dog"]}) == set()


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ({"pattern_example": "3000", "pattern_hint": "4 digits"}, "Please type 4 digits, like 3000."),
        ({"pattern_example": "3000"}, "Please type it in the same form as this example: 3000."),
        ({}, "That isn't in the form we asked for; please check it."),
    ],
)
def test_a_pattern_error_says_which_form_in_the_words_staff_gave(words, message):
    data = copy.deepcopy(ALL_TYPES)
    postcode = next(q for q in data["pages"][1]["questions"] if q["id"] == "postcode")
    postcode.update(words)
    definition = validate_definition(data)
    result = read_page(definition["pages"][1], MultiDict([("postcode", "20a0")]), {})
    assert result.errors["postcode"] == [message]
    # Definitions without them stay as they were stored.
    assert ("pattern_example" in next(q for q in definition["pages"][1]["questions"] if q["id"] == "postcode")) == bool(words)


def test_read_page_keeps_raw_values_and_only_valid_answers():
    definition = validate_definition(ALL_TYPES)
    form = MultiDict([("colour", "other"), ("colour_other", "  teal "), ("pets", "dog"), ("pets", "cat"), ("pets", "fish"), ("city", "perth")])
    result = read_page(definition["pages"][0], form, {})
    assert result.errors == {
        "pets": ["Please choose no more than 2 (you chose 3)."],
        "city": ["Please choose one of the answers given."],
    }
    assert result.valid == {"colour": "other", "colour_other": "teal"}
    assert result.raw["pets"] == ["cat", "dog", "fish"]
    assert result.raw["city"] == "perth"
