"""Exports parsed back equal what readers submitted: every question type, both layouts, labels
and codes, across two versions; formula injection neutralised; Unicode intact; the CLI agrees."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from sight.models import AuditEntry
from surveys.export import neutralised_rows
from tests.surveys.staff.conftest import V1, V2, add_response, make_survey

UTC = timezone.utc

ANSWERS_V1 = {
    "read_frequency": "daily",
    "found_via": "other",
    "found_via_other": 'A friend, who said "hi"',
    "sections": ["news", "science"],
    "device": "phone",
    "nickname": "Zoë 😀",
    "comment": "line one\nline two, with a comma",
    "email": "zoe@example.com",
    "age": 42,
    "recommend": 9,
    "agree": {"news": "3", "culture": "1"},
    "old_question": "old answer",
}
ANSWERS_V2 = {
    "read_frequency": "daily",
    "sections": ["news", "sport", "other"],
    "sections_other": "שלום עולם",
    "device": "desktop",
    "new_question": "yes",
    "age": 30,
    "recommend": 0,
    "agree": {"news": "2", "science": "3"},
}

METADATA = [
    "response_id", "survey_version", "submitted_at", "duration_seconds", "sight_plus",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "referrer",
]  # fmt: skip
SUMMARY_HEADERS = METADATA + [
    "read_frequency", "found_via", "found_via_other", "sections", "sections_other", "device", "new_question",
    "nickname", "comment", "email", "age", "recommend", "agree[news]", "agree[culture]", "agree[science]",
    "old_question",
]  # fmt: skip
DETAIL_COLUMNS = ["sections[news]", "sections[culture]", "sections[science]", "sections[sport]", "sections[other]"]
DETAILS_HEADERS = [c for h in SUMMARY_HEADERS for c in (DETAIL_COLUMNS if h == "sections" else [h])]


def expected_rows(first_id: int, layout: str, values: str) -> list[dict]:
    """What the two responses must look like (None = empty cell), worked out by hand."""
    codes = values == "codes"
    first = {
        "response_id": first_id, "survey_version": 1, "submitted_at": "2026-11-20T12:02:03+11:00",
        "duration_seconds": 95, "sight_plus": "yes",
        "utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "spring", "utm_term": "climate",
        "utm_content": "footer", "referrer": "/news/a-story",
        "read_frequency": "daily" if codes else "Every day",
        "found_via": "other" if codes else "Other (please specify)",
        "found_via_other": 'A friend, who said "hi"',
        "sections": "news; science" if codes else "News; Science",
        "sections_other": None,
        "device": "phone" if codes else "Phone",
        "new_question": None,
        "nickname": "Zoë 😀", "comment": "line one\nline two, with a comma", "email": "zoe@example.com",
        "age": 42, "recommend": 9,
        "agree[news]": "3" if codes else "Agree", "agree[culture]": "1" if codes else "Disagree",
        "agree[science]": None,
        "old_question": "old answer",
    }  # fmt: skip
    second = {
        "response_id": first_id + 1, "survey_version": 2, "submitted_at": "2026-11-22T10:00:00+11:00",
        "duration_seconds": 130, "sight_plus": None,
        "utm_source": None, "utm_medium": None, "utm_campaign": None, "utm_term": None, "utm_content": None,
        "referrer": None,
        "read_frequency": "daily" if codes else "Daily",
        "found_via": None, "found_via_other": None,
        "sections": "news; sport; other" if codes else "News; Sport; Other (please specify)",
        "sections_other": "שלום עולם",
        "device": "desktop" if codes else "Computer",
        "new_question": "yes" if codes else "Yes please",
        "nickname": None, "comment": None, "email": None,
        "age": 30, "recommend": 0,
        "agree[news]": "2" if codes else "Neutral", "agree[culture]": None,
        "agree[science]": "3" if codes else "Agree",
        "old_question": None,
    }  # fmt: skip
    if layout == "details":
        # Version 1 did not offer "sport": not offered is empty, not 0.
        first.update(dict(zip(DETAIL_COLUMNS, [1, 0, 1, None, 0], strict=True)))
        second.update(dict(zip(DETAIL_COLUMNS, [1, 0, 0, 1, 1], strict=True)))
        for row in (first, second):
            del row["sections"]
    return [first, second]


@pytest.fixture
def two_versions(session):
    survey = make_survey(session, (V1, V2))
    first = add_response(
        session, survey, ANSWERS_V1, version=1, sight_plus=True, utm_source="newsletter", utm_medium="email",
        utm_campaign="spring", utm_term="climate", utm_content="footer", referrer_url="/news/a-story",
    )
    add_response(
        session, survey, ANSWERS_V2, version=2, submitted_at=datetime(2026, 11, 21, 23, 0, tzinfo=UTC), seconds=130
    )
    # Unfinished: never exported by default.
    add_response(session, survey, {"nickname": "half way"}, version=2, submitted_at=None,
                 started_at=datetime(2026, 11, 21, tzinfo=UTC))  # fmt: skip
    return survey, first.id


def parse_csv(body: bytes) -> tuple[list[str], list[dict]]:
    reader = csv.reader(io.StringIO(body.decode("utf-8"), newline=""))
    headers, *rows = list(reader)
    return headers, [dict(zip(headers, row, strict=True)) for row in rows]


def as_csv_text(rows: list[dict]) -> list[dict]:
    return [{k: "" if v is None else str(v) for k, v in row.items()} for row in rows]


def parse_xlsx(body: bytes, sheet: str = "Responses") -> tuple[list[str], list[dict]]:
    workbook = load_workbook(io.BytesIO(body), read_only=True)
    headers, *rows = [list(r) for r in workbook[sheet].iter_rows(values_only=True)]
    workbook.close()
    # A row ends at its last filled cell.
    return headers, [dict(zip(headers, row + [None] * (len(headers) - len(row)), strict=True)) for row in rows]


@pytest.mark.parametrize("layout", ["summary", "details"])
@pytest.mark.parametrize("values", ["labels", "codes"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_spreadsheet_export_reads_back_as_submitted(staff_client, two_versions, fmt, layout, values):
    survey, first_id = two_versions
    response = staff_client.get(f"/staff/surveys/reader-survey/export.{fmt}?layout={layout}&values={values}")
    assert response.status_code == 200
    assert 'filename="reader-survey-' in response.headers["Content-Disposition"]
    expected = expected_rows(first_id, layout, values)
    if fmt == "csv":
        assert response.mimetype == "text/csv"
        headers, rows = parse_csv(response.data)
        expected = as_csv_text(expected)
    else:
        # XLSX keeps numbers as numbers.
        headers, rows = parse_xlsx(response.data)
    assert headers == (DETAILS_HEADERS if layout == "details" else SUMMARY_HEADERS)
    assert rows == expected


@pytest.mark.parametrize("layout", ["summary", "details"])
def test_json_lines_export_has_one_object_per_response(staff_client, two_versions, layout):
    survey, first_id = two_versions
    response = staff_client.get(f"/staff/surveys/reader-survey/export.json?layout={layout}&values=codes")
    assert response.status_code == 200
    lines = response.data.decode("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == expected_rows(first_id, layout, "codes")
    assert list(json.loads(lines[0])) == (DETAILS_HEADERS if layout == "details" else SUMMARY_HEADERS)


def test_csv_quotes_every_field_ends_lines_with_crlf_and_can_carry_a_bom(staff_client, two_versions):
    plain = staff_client.get("/staff/surveys/reader-survey/export.csv").data
    assert plain.startswith(b'"response_id","survey_version",')
    assert b'\r\n"' in plain and plain.endswith(b"\r\n")
    assert b'"line one\nline two, with a comma"' in plain
    assert b'"A friend, who said ""hi"""' in plain
    with_bom = staff_client.get("/staff/surveys/reader-survey/export.csv?bom=1").data
    assert with_bom == b"\xef\xbb\xbf" + plain


PROBES = ["=1+1", "+61 2 9999 0000", "-2", "@SUM(A1)", "\tindented", "\rcarriage", "\nline"]


@pytest.fixture
def injection_survey(session):
    """Probes in answers, option labels (cells with values=labels) and option values (headers)."""
    definition = {
        "pages": [
            {
                "id": "p",
                "questions": [
                    {"id": "probe", "type": "short_text", "label": "Probe"},
                    {"id": "pick", "type": "multiple_choice", "label": "Pick",
                     "options": [{"value": p, "label": p} for p in PROBES]},
                    {"id": "age", "type": "number", "label": "Age"},
                ],
            }
        ]
    }  # fmt: skip
    survey = make_survey(session, (definition,), slug="probes", title="Probes")
    for probe in PROBES:
        add_response(session, survey, {"probe": probe, "pick": [probe], "age": -5})
    return survey


def test_formula_injection_is_neutralised_in_csv_cells_and_headers(staff_client, injection_survey):
    summary = parse_csv(staff_client.get("/staff/surveys/probes/export.csv").data)[1]
    assert [row["probe"] for row in summary] == ["'" + p for p in PROBES]
    assert [row["pick"] for row in summary] == ["'" + p for p in PROBES]
    # Numeric columns are numbers, not text: -5 stays -5.
    assert {row["age"] for row in summary} == {"-5"}
    headers = parse_csv(staff_client.get("/staff/surveys/probes/export.csv?layout=details").data)[0]
    assert [h for h in headers if h.startswith("'")] == []  # ids come first, so headers start safely
    assert "pick[=1+1]" in headers


def test_xlsx_cells_hold_exactly_the_readers_words_typed_as_text_never_a_formula(staff_client, injection_survey):
    body = staff_client.get("/staff/surveys/probes/export.xlsx?layout=details").data
    headers, rows = parse_xlsx(body)
    # XML reads a bare carriage return back as a line feed.
    assert [row["probe"] for row in rows] == [p.replace("\r", "\n") for p in PROBES]
    assert [row["pick"] if "pick" in row else None for row in rows] == [None] * len(PROBES)
    assert "pick[=1+1]" in headers and {row["age"] for row in rows} == {-5}
    summary = parse_xlsx(staff_client.get("/staff/surveys/probes/export.xlsx").data)[1]
    assert [row["pick"] for row in summary] == [p.replace("\r", "\n") for p in PROBES]
    workbook = load_workbook(io.BytesIO(body))
    # Every text cell is a string, none a formula; numbers are numbers.
    cells = [cell for sheet in workbook for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert all(cell.data_type in ("s", "n") for cell in cells)
    codebook = [r for r in workbook["Codebook"].iter_rows(values_only=True)]
    assert ("pick", "pick", 1, "multiple_choice", "Pick", "=1+1", "=1+1") not in codebook  # summary is not details
    assert ("pick[=1+1]", "pick", 1, "multiple_choice", "Pick — =1+1", "1", "chosen") in codebook


def test_csv_headers_are_neutralised_like_cells_but_numbers_are_not():
    rows = list(neutralised_rows(["=cmd", "-x", "@h", "n"], [False, False, False, True], [["=1", "-1", "a", -1]]))
    assert rows == [["'=cmd", "'-x", "'@h", "n"], ["'=1", "'-1", "a", -1]]


def test_unfinished_responses_are_left_out_by_default(staff_client, two_versions):
    rows = parse_csv(staff_client.get("/staff/surveys/reader-survey/export.csv").data)[1]
    assert all(row["nickname"] != "half way" for row in rows)


def test_codebook_lists_ids_versions_labels_and_options(staff_client, two_versions):
    response = staff_client.get("/staff/surveys/reader-survey/codebook.csv")
    assert response.status_code == 200
    headers, rows = parse_csv(response.data)
    assert headers == ["column", "question_id", "version", "type", "question", "value", "label"]
    lines = {(r["column"], r["version"], r["value"], r["label"]) for r in rows}
    assert ("read_frequency", "1", "daily", "Every day") in lines
    assert ("read_frequency", "2", "daily", "Daily") in lines
    assert ("read_frequency", "2", "rarely", "Rarely") in lines
    assert ("agree[science]", "2", "3", "Agree") in lines
    assert ("recommend", "1", "10", "Extremely likely") in lines
    assert ("sections_other", "2", "", "") in lines
    assert ("old_question", "1", "", "") in lines
    assert ("response_id", "", "", "") in lines
    assert {"utm_source", "utm_term", "utm_content", "referrer"} <= {r["column"] for r in rows if r["type"] == "metadata"}
    xlsx = parse_xlsx(staff_client.get("/staff/surveys/reader-survey/export.xlsx").data, "Codebook")[1]
    assert len(xlsx) == len(rows)


def test_times_are_written_in_the_configured_zone_with_their_offset_and_the_codebook_says_so(app, staff_client, two_versions):
    codebook = parse_csv(staff_client.get("/staff/surveys/reader-survey/codebook.csv").data)[1]
    meaning = next(r["question"] for r in codebook if r["column"] == "submitted_at")
    assert "Australia/Sydney time with its offset from UTC (ISO 8601, e.g. 2026-12-07T10:15:00+11:00)" in meaning
    app.config["DISPLAY_TIMEZONE"] = "America/New_York"
    for fmt, read in (("csv", parse_csv), ("xlsx", parse_xlsx)):
        rows = read(staff_client.get(f"/staff/surveys/reader-survey/export.{fmt}").data)[1]
        assert [row["submitted_at"] for row in rows] == ["2026-11-19T20:02:03-05:00", "2026-11-21T18:00:00-05:00"]
    lines = staff_client.get("/staff/surveys/reader-survey/export.json").get_data(as_text=True).splitlines()
    assert json.loads(lines[0])["submitted_at"] == "2026-11-19T20:02:03-05:00"
    codebook = parse_csv(staff_client.get("/staff/surveys/reader-survey/codebook.csv").data)[1]
    meaning = next(r["question"] for r in codebook if r["column"] == "submitted_at")
    assert "America/New_York time with its offset from UTC (ISO 8601, e.g. 2026-12-06T18:15:00-05:00)" in meaning


def test_every_export_is_audited_with_who_filters_and_rows(staff_client, staff_user, two_versions, session):
    staff_client.get("/staff/surveys/reader-survey/export.csv?values=codes&version=2").close()
    staff_client.get("/staff/surveys/reader-survey/codebook.csv").close()
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(e.action, e.actor_email, e.target) for e in entries] == [
        ("survey.export", staff_user.email, "survey:reader-survey"),
        ("survey.export", staff_user.email, "survey:reader-survey"),
    ]
    assert entries[0].details == {"what": "csv", "filters": {"values": "codes", "version": "2"}, "rows": 1, "via": "web"}
    assert entries[1].details["what"] == "codebook"


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_cli_export_writes_what_the_web_export_sends(app, staff_client, two_versions, tmp_path, fmt):
    out = tmp_path / f"export.{fmt}"
    result = app.test_cli_runner().invoke(
        args=["surveys", "export", "reader-survey", "--format", fmt, "-o", str(out), "--layout", "details",
              "--values", "codes", "--from", "2026-11-20"]  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    assert "Wrote 2 responses" in result.output
    web = staff_client.get(f"/staff/surveys/reader-survey/export.{fmt}?layout=details&values=codes&from=2026-11-20").data
    if fmt == "xlsx":
        assert parse_xlsx(out.read_bytes()) == parse_xlsx(web)
        assert parse_xlsx(out.read_bytes(), "Codebook") == parse_xlsx(web, "Codebook")
    else:
        assert out.read_bytes() == web


def test_cli_refuses_bad_filters_and_unknown_surveys_without_writing(app, two_versions, tmp_path):
    out = tmp_path / "export.csv"
    runner = app.test_cli_runner()
    bad = runner.invoke(args=["surveys", "export", "reader-survey", "--format", "csv", "-o", str(out), "--status", "done"])
    assert bad.exit_code != 0 and "Choose one of: finished, unfinished, all" in bad.output
    unknown = runner.invoke(args=["surveys", "export", "nope", "--format", "csv", "-o", str(out)])
    assert unknown.exit_code != 0 and "no survey" in unknown.output
    assert not out.exists()


def test_content_types_name_their_charset_once_and_json_lines_are_named_jsonl(staff_client, two_versions):
    def headers(url: str):
        reply = staff_client.get(url)
        reply.close()
        return reply.headers

    assert headers("/staff/surveys/reader-survey/export.csv")["Content-Type"] == "text/csv; charset=utf-8"
    json_lines = headers("/staff/surveys/reader-survey/export.json")
    assert json_lines["Content-Type"] == "application/x-ndjson; charset=utf-8"
    assert json_lines["Content-Disposition"].endswith('.jsonl"')
    assert headers("/staff/surveys/reader-survey/codebook.csv")["Content-Type"] == "text/csv; charset=utf-8"


def test_cli_export_can_write_the_codebook_beside_it(app, staff_client, two_versions, tmp_path):
    out, codebook = tmp_path / "export.csv", tmp_path / "codebook.csv"
    result = app.test_cli_runner().invoke(
        args=["surveys", "export", "reader-survey", "--format", "csv", "-o", str(out), "--codebook", str(codebook)]
    )
    assert result.exit_code == 0, result.output
    assert f"Wrote the codebook to {codebook}" in result.output
    assert codebook.read_bytes() == staff_client.get("/staff/surveys/reader-survey/codebook.csv").data
