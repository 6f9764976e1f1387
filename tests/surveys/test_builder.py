"""The builder's edits on definitions as data: each makes one change and returns a definition
that the import rules accept; changes that would break the survey are refused with a reason."""

from __future__ import annotations

import pytest

from surveys import builder
from surveys.builder import BuilderError
from surveys.definition import DefinitionError, dump_definition, load_definition
from surveys.definition.walk import visible_answers

FREQUENCY = {"type": "single_choice", "label": "How often do you read Sight?", "required": True,
             "options": ["Every day", "Every week", "Hardly ever"]}


def three_questions() -> dict:
    """What an editor builds in the done-when scenario: a choice, a 0–10 NPS, and a text shown
    only to daily readers."""
    definition = builder.new_definition("builder-test", "Built without YAML", FREQUENCY)
    definition, recommend = builder.add_question(definition, "first", {
        "type": "rating", "label": "How likely are you to recommend Sight to a friend?",
        "scale": {"min": 0, "max": 10, "min_label": "Not at all", "max_label": "Extremely"}, "nps": True})
    definition, why = builder.add_page(definition, "Why", {"type": "long_text", "label": "What brings you back every day?"})
    condition = builder.make_condition(definition, "how_often_do_you_read_sight", ["every_day"], before_question="what_brings_you_back_every_day")
    definition = builder.set_question_condition(definition, "what_brings_you_back_every_day", condition)
    return definition


def test_a_survey_built_step_by_step_is_a_definition_import_accepts():
    definition = three_questions()
    assert [q["id"] for p in definition["pages"] for q in p["questions"]] == [
        "how_often_do_you_read_sight", "how_likely_are_you_to_recommend_sight_to", "what_brings_you_back_every_day"]
    assert definition["pages"][0]["questions"][0]["options"] == [
        {"value": "every_day", "label": "Every day"}, {"value": "every_week", "label": "Every week"},
        {"value": "hardly_ever", "label": "Hardly ever"}]
    assert definition["pages"][0]["questions"][1]["nps"] is True
    # Download and import give back the same definition.
    assert load_definition(dump_definition(definition)) == definition
    # The condition works like one written in YAML.
    why = definition["pages"][1]["questions"][0]
    assert why["show_if"] == {"question": "how_often_do_you_read_sight", "equals": "every_day"}
    answers = {"how_often_do_you_read_sight": "every_week", "what_brings_you_back_every_day": "x"}
    assert "what_brings_you_back_every_day" not in visible_answers(definition, answers)


def test_values_and_ids_are_made_unique_and_valid():
    taken = {"every_day"}
    assert builder.value_from_label("Every day!", taken) == "every_day_2"
    assert builder.value_from_label("Other", set()) == "other_answer"
    assert builder.value_from_label("Ça va", set()) == "ca_va"
    assert builder.id_from_label("2026 plans", set()) == "q_2026_plans"
    assert builder.id_from_label("Pets", {"pets_other"}) != "pets"


def test_every_question_type_can_be_added():
    definition = three_questions()
    specs = [
        {"type": "multiple_choice", "label": "Sections", "options": ["News", "Culture"], "other": True, "max_choices": 2},
        {"type": "dropdown", "label": "State", "options": ["NSW", "VIC"]},
        {"type": "short_text", "label": "Postcode", "max_length": 4, "pattern": "[0-9]{4}"},
        {"type": "email", "label": "Email"},
        {"type": "number", "label": "Age", "min": 0, "max": 120},
        {"type": "matrix", "label": "Coverage", "rows": ["News", "Sport"], "columns": ["Poor", "Good"]},
    ]
    for spec in specs:
        definition, _ = builder.add_question(definition, "why", spec)
    kinds = [q["type"] for q in definition["pages"][1]["questions"]]
    assert kinds == ["long_text", "multiple_choice", "dropdown", "short_text", "email", "number", "matrix"]
    assert load_definition(dump_definition(definition)) == definition


def test_edit_options_values_and_limits():
    definition = three_questions()
    qid = "how_often_do_you_read_sight"
    definition = builder.add_option(definition, qid, "Every month")
    definition = builder.update_option(definition, qid, "every_month", label="Monthly", new_value="monthly")
    definition = builder.move_option(definition, qid, "monthly", "up")
    options = definition["pages"][0]["questions"][0]["options"]
    assert [o["value"] for o in options] == ["every_day", "every_week", "monthly", "hardly_ever"]
    assert options[2]["label"] == "Monthly"
    definition = builder.remove_option(definition, qid, "hardly_ever")
    definition = builder.update_question(definition, qid, {"label": "How often?", "help": "Roughly.", "required": False})
    question = definition["pages"][0]["questions"][0]
    assert (question["label"], question["help"], question["required"]) == ("How often?", "Roughly.", False)


def test_refusals_say_what_to_do_first():
    definition = three_questions()
    qid = "how_often_do_you_read_sight"
    with pytest.raises(BuilderError, match="depending on this one"):
        builder.remove_question(definition, qid)
    with pytest.raises(BuilderError, match="depending on this answer"):
        builder.remove_option(definition, qid, "every_day")
    with pytest.raises(BuilderError, match="already used"):
        builder.add_option(definition, qid, "Daily", "every_day")
    with pytest.raises(BuilderError, match="last page is always shown"):
        builder.set_page_condition(definition, "why", {"question": qid, "equals": "every_day"})
    # Moving the page with the condition before the question it depends on.
    with pytest.raises(BuilderError, match="would then come after it"):
        builder.move_page(definition, "why", "up")
    with pytest.raises(BuilderError, match="Choose an earlier question"):
        builder.make_condition(definition, "what_brings_you_back_every_day", [], before_question=qid)
    with pytest.raises(DefinitionError):
        builder.update_question(definition, "how_likely_are_you_to_recommend_sight_to", {"scale": {"min": 1, "max": 5}})


def test_moving_questions_across_pages_and_removing_them():
    definition = three_questions()
    definition, _ = builder.add_question(definition, "why", {"type": "email", "label": "Email"})
    definition = builder.move_question(definition, "email", "up")
    assert [q["id"] for q in definition["pages"][1]["questions"]] == ["email", "what_brings_you_back_every_day"]
    definition = builder.move_question(definition, "email", "up")  # to the end of page one
    assert definition["pages"][0]["questions"][-1]["id"] == "email"
    definition = builder.remove_question(definition, "email")
    definition = builder.set_question_condition(definition, "what_brings_you_back_every_day", None)
    definition = builder.remove_question(definition, "what_brings_you_back_every_day")
    assert [p["id"] for p in definition["pages"]] == ["first"]  # the empty page went with it


def test_conditions_offer_earlier_questions_and_read_back_in_words():
    definition = three_questions()
    sources = builder.condition_sources(definition, question="what_brings_you_back_every_day")
    assert [s.id for s in sources] == ["how_often_do_you_read_sight", "how_likely_are_you_to_recommend_sight_to"]
    assert sources[1].answers[0] == ("0", "0") and len(sources[1].answers) == 11
    condition = builder.make_condition(definition, sources[1].id, ["9", "10"], before_question="what_brings_you_back_every_day")
    assert condition == {"question": sources[1].id, "any_of": [9, 10]}
    text = builder.describe_condition(definition, definition["pages"][1]["questions"][0]["show_if"])
    assert text == "when “How often do you read Sight?” is Every day"
