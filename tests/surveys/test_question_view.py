"""The per-question view model: what a template draws, decided once (ids, "Other", show_if)."""

from __future__ import annotations

from surveys.question_view import question_views
from tests.surveys.conftest import definition


def test_other_is_one_more_choice_with_its_text_box_and_keeps_what_was_typed():
    first_page = definition()["pages"][0]
    colour, pets, city, dog_name = question_views(
        first_page["questions"],
        raw={"colour": "other", "colour_other": "Teal", "pets": ["dog"]},
        errors={"colour": ["Please choose an answer."]},
        page_question_ids={q["id"] for q in first_page["questions"]},
    )
    assert [(c.value, c.label, c.input_id, c.checked) for c in colour.choices] == [
        ("red", "Red", "f-colour-0", False),
        ("blue", "Blue", "f-colour-1", False),
        ("other", "Other (please specify)", "f-colour-2", True),
    ]
    assert (colour.other.name, colour.other.input_id, colour.other.value) == ("colour_other", "f-colour-other", "Teal")
    assert colour.describedby == "q-colour-error" and colour.anchor == "f-colour-0"
    assert pets.input_type == "checkbox" and pets.describedby == "q-pets-help"
    assert city.control == "select" and city.other is None and city.anchor == "f-city"
    # A condition on the same page is left to the browser; the server applies the others.
    assert dog_name.show_if == {"question": "pets", "equals": "dog"} and dog_name.depends_on == "pets"
    assert question_views([first_page["questions"][3]])[0].show_if is None


def test_ratings_and_matrices_name_every_control():
    second_page = definition()["pages"][1]
    views = {q.id: q for q in question_views(second_page["questions"], raw={"score": "10", "grid[news]": "2"})}
    score, grid = views["score"], views["grid"]
    assert [c.label for c in score.choices][:2] == ["0 (Bad)", "1"] and score.choices[-1].label == "10 (Good)"
    assert [c.checked for c in score.choices].index(True) == 10
    assert [(row.name, [c.input_id for c in row.choices]) for row in grid.rows] == [
        ("grid[news]", ["f-grid-0-0", "f-grid-0-1"]),
        ("grid[sport]", ["f-grid-1-0", "f-grid-1-1"]),
    ]
    assert grid.rows[0].choices[1].checked and grid.anchor == "f-grid-0-0"
    assert views["age"].inputmode == "numeric" and views["email"].input_type == "email"
