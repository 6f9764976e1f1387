"""Cross-tabs counted from random responses and checked against counts made in the test."""

from __future__ import annotations

import csv
import io
import random

import pytest

from surveys.crosstabs import ResponseFacts, available_dimensions, crosstab, crosstab_sheet
from surveys.export import csv_chunks, neutralised_rows
from tests.surveys.staff.conftest import V1, V2

DEFINITIONS = {1: V1, 2: V2}


def random_responses(seed: int, count: int) -> list[ResponseFacts]:
    rng = random.Random(seed)
    made = []
    for _ in range(count):
        version = rng.choice([1, 2])
        answers: dict = {}
        if rng.random() < 0.9:
            answers["read_frequency"] = rng.choice(["daily", "weekly", "monthly"] + (["rarely"] if version == 2 else []))
        if rng.random() < 0.8:
            answers["sections"] = sorted(rng.sample(["news", "culture", "science"], rng.randint(1, 3)))
        if rng.random() < 0.7:
            answers["recommend"] = rng.randint(0, 10)
        made.append(ResponseFacts(version, rng.choice([True, False, None]), rng.choice([None, "newsletter", "=cmd|x"]), answers))
    return made


@pytest.fixture(scope="module")
def responses():
    return random_responses(seed=13, count=600)


def test_a_question_against_sight_plus_counts_what_the_responses_say(responses):
    dims = available_dimensions(DEFINITIONS)
    table = crosstab(dims["read_frequency"], dims["sight_plus"], responses)
    answered = [r for r in responses if "read_frequency" in r.answers]
    assert table.base == len(answered)
    assert table.column_labels == ["Sight+ members", "Other signed-in readers", "Not linked to an account"]
    status = {True: 0, False: 1, None: 2}
    for row, value in zip(table.table, ["daily", "weekly", "monthly", "rarely"], strict=True):
        in_row = [r for r in answered if r.answers["read_frequency"] == value]
        assert row.base == len(in_row)
        for column in range(3):
            expected = sum(1 for r in in_row if status[r.sight_plus] == column)
            assert row.cells[column].share.count == expected
            assert row.cells[column].share.percent == pytest.approx(expected * 100 / len(in_row))
        assert sum(cell.share.percent for cell in row.cells) == pytest.approx(100)
    # The newest version's words, saying what version 1 called it.
    assert table.table[0].label == "Daily (was: Every day)"
    assert [t.count for t in table.column_totals] == [sum(1 for r in answered if status[r.sight_plus] == c) for c in range(3)]


def test_multiple_choice_puts_a_response_in_every_category_it_chose(responses):
    dims = available_dimensions(DEFINITIONS)
    table = crosstab(dims["sections"], dims["version"], responses)
    for row, value in zip(table.table, ["news", "culture", "science"], strict=False):
        chose = [r for r in responses if value in r.answers.get("sections", [])]
        assert row.base == len(chose)
        assert [c.share.count for c in row.cells] == [sum(1 for r in chose if r.version == v) for v in (1, 2)]
    crossed = crosstab(dims["read_frequency"], dims["sections"], responses)
    assert not crossed.percents_add_up


def test_sources_are_the_values_met_most_frequent_first(responses):
    dims = available_dimensions(DEFINITIONS)
    table = crosstab(dims["recommend"], dims["source"], responses)
    rated = [r for r in responses if "recommend" in r.answers]
    counts = {label: sum(1 for r in rated if (r.source or "(no source)") == label) for label in table.column_labels}
    assert sorted(counts.values(), reverse=True) == list(counts.values())
    assert [row.label for row in table.table] == [str(p) for p in range(11)]


def test_the_csv_has_the_counts_and_no_formula(responses):
    dims = available_dimensions(DEFINITIONS)
    table = crosstab(dims["read_frequency"], dims["source"], responses)
    headers, numeric, rows = crosstab_sheet(table)
    text = b"".join(csv_chunks(neutralised_rows(headers, numeric, rows))).decode()
    parsed = list(csv.reader(io.StringIO(text)))
    header = parsed[0]
    assert "'=cmd|x (count)" in header and "=cmd|x (count)" not in header
    weekly = next(line for line in parsed if line[0] == "Every week")
    in_row = [r for r in responses if r.answers.get("read_frequency") == "weekly"]
    assert int(weekly[1]) == len(in_row)
    column = header.index("newsletter (count)")
    assert int(weekly[column]) == sum(1 for r in in_row if r.source == "newsletter")
    assert float(weekly[column + 1]) == round(int(weekly[column]) * 100 / len(in_row), 1)
    assert parsed[-1][0] == "All who answered both" and int(parsed[-1][1]) == table.base


def test_choice_and_rating_questions_and_facts_can_be_crossed_text_cannot():
    dims = available_dimensions(DEFINITIONS)
    assert {"read_frequency", "found_via", "sections", "device", "recommend", "new_question"} <= set(dims)
    assert {"sight_plus", "version", "source"} <= set(dims)
    assert not {"comment", "email", "age", "agree"} & set(dims)
