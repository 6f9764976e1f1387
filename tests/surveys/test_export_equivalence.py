"""The exports' bytes equal those of a plain reference reading of the same responses: every
question type, three versions (relabelled options, a question whose type changed, one dropped),
"Other", text a spreadsheet would run as a formula (neutralised in CSV, as written in XLSX),
Unicode, empty and missing answers, times either side of the end of daylight saving, both
layouts, labels and codes, every filter kind, CSV, JSON Lines and XLSX.

The reference below reads each response's answers in Python, one cell at a time, following the
layout of DESIGN.md (Staff); the exporter lets the database pick the cells out."""

from __future__ import annotations

import copy
import csv
import io
import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from sight.spreadsheet import neutralise
from surveys.definition import walk
from surveys.export import export_chunks, plan_export
from surveys.models import Response
from surveys.results import ResponseFilter
from tests.surveys.staff.conftest import V1, V2, add_response, make_survey

UTC = timezone.utc
SYDNEY = ZoneInfo("Australia/Sydney")
HOSTILE = ["=1+1", "+61 2", "-2", "@SUM(A1)", "\tx", "\rx", "\nx"]


def _v3() -> dict:
    """Version 3: labels a spreadsheet would run, a dropdown made multiple choice, a text question
    made single choice, a rating made text, a whole number made a decimal one."""
    definition = copy.deepcopy(V2)
    reading, about = definition["pages"]
    frequency, found, sections, device, new = reading["questions"]
    frequency["options"][0]["label"] = "=Daily"
    frequency["options"][1]["label"] = "-Weekly, or so"
    found["options"].append({"value": "=friend", "label": "@A friend"})
    sections["options"][0]["label"] = "+News"
    sections["options"].append({"value": "50%s", "label": "100% of %w"})
    device.update(type="multiple_choice", other=True)
    device["options"].append({"value": "tablet", "label": "Tablet 📱"})
    questions = {q["id"]: q for q in about["questions"]}
    questions["nickname"].update(
        type="single_choice", options=[{"value": "zoe", "label": "Zoë"}, {"value": "-x", "label": "\tTabbed"}]
    )
    questions["recommend"] = {"id": "recommend", "type": "short_text", "label": "Would you recommend Sight?"}
    questions["age"]["integer"] = False
    questions["agree"]["columns"][0]["label"] = "=Disagree"
    about["questions"] = list(questions.values())
    return definition


V3 = _v3()

ANSWERS = [
    (1, {"read_frequency": "daily", "found_via": "other", "found_via_other": '=A friend, who said "hi"',
         "sections": ["news", "science", "other"], "sections_other": "-minus", "device": "phone",
         "nickname": "Zoë 😀", "comment": "line one\nline two, with a comma", "email": "zoe@example.com",
         "age": 42, "recommend": 9, "agree": {"news": "3", "culture": "1"}, "old_question": "@old"}),
    (1, {"read_frequency": "weekly", "sections": [], "nickname": "", "comment": "", "age": 0, "recommend": 0,
         "agree": {}, "old_question": "+1"}),
    (1, {}),
    (2, {"read_frequency": "rarely", "sections": ["sport", "news"], "device": "desktop", "new_question": "yes",
         "age": -7, "recommend": 10, "agree": {"science": "2", "news": "9"}, "comment": "\rcarriage"}),
    (2, {"read_frequency": "unknown-value", "found_via": "social", "nickname": "\tindented",
         "email": "שלום@example.com", "agree": {"culture": ""}}),
    (3, {"read_frequency": "daily", "found_via": "=friend", "sections": ["news"], "device": ["tablet", "other"],
         "device_other": "=HYPERLINK(1)", "nickname": "-x", "recommend": "-absolutely", "age": 2.5,
         "agree": {"news": "1", "science": "3"}, "new_question": "no"}),
    (3, {"read_frequency": "weekly", "device": ["phone"], "nickname": "zoe", "recommend": "", "age": 3.0,
         "comment": "日本語 and \"quotes\""}),
    (3, {"device": [], "age": -0.5, "sections": ["culture", "sport", "50%s"]}),
]  # fmt: skip


@pytest.fixture
def survey(session):
    survey = make_survey(session, (V1, V2, V3))
    # Hourly from 23:02 in Sydney on 3 April 2027 (+11:00); daylight saving ends at 16:00 UTC, three
    # hours later, and the clocks go back from 03:00 to 02:00 (+10:00).
    submitted = datetime(2027, 4, 3, 12, 2, 3, 456789, tzinfo=UTC)
    tracking = [
        {"utm_source": "=newsletter", "utm_medium": "email", "referrer_url": "-/news/a-story"},
        {"utm_campaign": "spring 🌸", "utm_term": "@term", "utm_content": "\tfooter"},
        {},
    ]
    for n, (version, answers) in enumerate(ANSWERS):
        # Durations with fractions of a second, which a whole-second reading would round the wrong way.
        add_response(
            session, survey, answers, version=version, submitted_at=submitted + timedelta(hours=n),
            started_at=submitted + timedelta(hours=n) - timedelta(seconds=59 + n, microseconds=999_999 - n),
            sight_plus=[True, False, None][n % 3], **tracking[n % 3],
        )  # fmt: skip
    add_response(session, survey, {"nickname": "half way", "age": 5}, version=3, submitted_at=None,
                 started_at=datetime(2026, 11, 21, tzinfo=UTC), utm_source="-unfinished")  # fmt: skip
    return survey


# --- the reference ----------------------------------------------------------------------------


def _labels(pairs, codes: bool, value) -> str:
    text = str(value)
    return text if codes else dict(pairs).get(text, text)


def _given(answer) -> bool:
    return answer is not None and not (isinstance(answer, str | list | dict) and not answer)


def reference_table(session, survey, flt: ResponseFilter, layout: str, values: str):
    """(headers, numeric, rows) of the export, read one response and one cell at a time."""
    codes = values == "codes"
    versions = {v.number: v for v in survey.versions}
    chosen = [
        r
        for r in session.scalars(select(Response).where(Response.survey_id == survey.id).order_by(Response.id))
        if (flt.status == "all" or (r.submitted_at is not None) == (flt.status == "finished"))
        and (flt.version is None or versions[flt.version].id == r.version_id)
    ]
    numbers = {r.version.number for r in chosen}
    merged = walk.merge_questions({n: versions[n].definition for n in sorted(numbers)})
    headers = ["response_id", "survey_version", "submitted_at", "duration_seconds", "sight_plus",
               "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "referrer"]  # fmt: skip
    numeric = [True, True, False, True, False] + [False] * 6
    for q in merged:
        if q.type == "multiple_choice" and layout == "details":
            headers += [f"{q.id}[{value}]" for value, _ in q.options()]
            numeric += [True] * len(q.options())
        elif q.type == "matrix":
            headers += [f"{q.id}[{row}]" for row, _ in q.rows()]
            numeric += [False] * len(q.rows())
        else:
            headers.append(q.id)
            numeric.append(q.type in walk.NUMERIC_TYPES)
        if q.has_other:
            headers.append(f"{q.id}_other")
            numeric.append(False)
    rows = []
    for r in chosen:
        asked = {q["id"]: q for q in walk.questions(r.version.definition)}
        seconds = int((r.submitted_at - r.started_at).total_seconds()) if r.submitted_at else None
        row = [
            r.id, r.version.number,
            r.submitted_at.astimezone(SYDNEY).isoformat(timespec="seconds") if r.submitted_at else None,
            seconds, {True: "yes", False: "no"}.get(r.sight_plus),
            r.utm_source, r.utm_medium, r.utm_campaign, r.utm_term, r.utm_content, r.referrer_url,
        ]  # fmt: skip
        for q in merged:
            mine, answer = asked.get(q.id), r.answers.get(q.id)
            listed = answer if isinstance(answer, list) else [answer]
            if q.type == "multiple_choice" and layout == "details":
                offered = dict(walk.options(mine)) if mine else {}
                row += [
                    (int(value in [str(a) for a in listed]) if _given(answer) else None) if value in offered else None
                    for value, _ in q.options()
                ]
            elif q.type == "matrix":
                for row_value, _ in q.rows():
                    cell = answer.get(row_value) if mine and isinstance(answer, dict) else None
                    row.append(None if cell is None else _labels(walk.matrix_columns(mine), codes, cell))
            elif mine is None or not _given(answer):
                row.append(None)
            elif q.type in walk.CHOICE_TYPES:
                row.append("; ".join(_labels(walk.options(mine), codes, a) for a in listed))
            elif q.type in walk.NUMERIC_TYPES:
                row.append(answer if isinstance(answer, int | float) else None)
            else:
                row.append(None if isinstance(answer, list | dict) else answer)
            if q.has_other:
                row.append((r.answers.get(f"{q.id}_other") or None) if mine else None)
        rows.append(row)
    return headers, numeric, rows


def for_csv(headers, numeric, rows):
    yield [neutralise(h) for h in headers]
    for row in rows:
        yield [value if value is None or kind else neutralise(str(value)) for value, kind in zip(row, numeric)]


def reference_csv(table) -> bytes:
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(for_csv(*table))
    return out.getvalue().encode()


def reference_jsonl(table) -> bytes:
    headers, _numeric, rows = table
    return "".join(json.dumps(dict(zip(headers, row)), ensure_ascii=False) + "\n" for row in rows).encode()


def exported(session, survey, flt, layout, values, fmt) -> bytes:
    plan = plan_export(session, survey, flt, layout, values, zone=SYDNEY)
    return b"".join(export_chunks(session, plan, fmt))


FILTERS = [ResponseFilter(), ResponseFilter(status="all"), ResponseFilter(version=3), ResponseFilter(version=1)]


@pytest.mark.parametrize("flt", FILTERS, ids=["finished", "all", "version-3", "version-1"])
@pytest.mark.parametrize("layout", ["summary", "details"])
@pytest.mark.parametrize("values", ["labels", "codes"])
def test_csv_and_json_lines_equal_the_reference_byte_for_byte(session, survey, flt, layout, values):
    table = reference_table(session, survey, flt, layout, values)
    assert len(table[2]) >= 3
    assert exported(session, survey, flt, layout, values, "csv") == reference_csv(table)
    assert exported(session, survey, flt, layout, values, "json") == reference_jsonl(table)


@pytest.mark.parametrize("layout", ["summary", "details"])
def test_xlsx_holds_the_reference_cells_as_the_readers_wrote_them(session, survey, layout):
    flt = ResponseFilter(status="all")
    headers, numeric, rows = reference_table(session, survey, flt, layout, "labels")
    book = load_workbook(io.BytesIO(exported(session, survey, flt, layout, "labels", "xlsx")), read_only=True)
    got = [list(row) for row in book["Responses"].iter_rows(values_only=True)]
    book.close()
    width = len(headers)
    # A row ends at its last filled cell; XML reads a bare carriage return back as a line feed.
    # Text columns hold text (a number an older version stored there too), typed as text.
    typed = [[v if v is None or kind else str(v) for v, kind in zip(row, numeric)] for row in rows]
    expected = [
        [v.replace("\r", "\n") if isinstance(v, str) else v for v in row] for row in [headers, *typed]
    ]
    assert [row + [None] * (width - len(row)) for row in got] == expected


def test_a_survey_wider_than_a_database_function_takes_arguments_exports_alike(session):
    """More columns than SQLite's printf takes values (the details layout of many options)."""
    options = [{"value": f"o{n}", "label": f"Option {n} %s"} for n in range(130)]
    wide = {"pages": [{"id": "p", "questions": [
        {"id": "pick", "type": "multiple_choice", "label": "Pick", "options": options},
        {"id": "note", "type": "short_text", "label": "Note"},
    ]}]}  # fmt: skip
    survey = make_survey(session, (wide,), slug="wide", title="Wide")
    add_response(session, survey, {"pick": ["o0", "o64", "o129"], "note": '=last "one"'})
    add_response(session, survey, {"note": "second"})
    for layout in ("summary", "details"):
        table = reference_table(session, survey, ResponseFilter(), layout, "labels")
        assert len(table[0]) > 130 or layout == "summary"
        assert exported(session, survey, ResponseFilter(), layout, "labels", "csv") == reference_csv(table)
        assert exported(session, survey, ResponseFilter(), layout, "labels", "json") == reference_jsonl(table)
