"""Responses as a table for spreadsheets: the columns, one row per response, the codebook, and
writers for CSV, XLSX and JSON Lines that stream whatever the number of responses.

The layout (DESIGN.md, Staff): metadata columns first, then one column per question id across
every version in the export; multiple choice joined with "; " (summary) or one 0/1 column per
option `ID[value]` (details); `ID_other` beside its question; a matrix as `ID[row]`. Labels are
looked up in the version each response answered; `values="codes"` gives the option values.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy.orm import Session

from sight.audit import Actor, record_audit
from sight.spreadsheet import neutralise

from surveys.definition import walk
from surveys.models import Survey
from surveys.results import ResponseFilter, count_responses, duration_seconds, stream_responses, versions_in

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/x-ndjson; charset=utf-8",
}
# A spreadsheet runs a cell that starts with one of these as a formula.
CHUNK_BYTES = 64 * 1024
MULTIPLE_SEPARATOR = "; "


# --- columns --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One response as it comes from the database."""

    id: int
    version: int
    started_at: datetime
    submitted_at: datetime | None
    sight_plus: bool | None
    answers: dict


class VersionLabels:
    """The questions of one version and their labels, to read a response of that version."""

    def __init__(self, definition: dict):
        self.questions = {q["id"]: q for q in walk.questions(definition)}
        self.options = {qid: dict(walk.options(q)) for qid, q in self.questions.items()}
        self.rows = {qid: dict(walk.matrix_rows(q)) for qid, q in self.questions.items()}
        self.columns = {qid: dict(walk.matrix_columns(q)) for qid, q in self.questions.items()}


@dataclass(frozen=True)
class Column:
    header: str
    numeric: bool
    # The cell for a response: (row, the labels of the version it answered) -> value or None.
    cell: Callable[[Row, VersionLabels], object]


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


METADATA = [
    Column("response_id", True, lambda r, v: r.id),
    Column("survey_version", True, lambda r, v: r.version),
    Column("submitted_at", False, lambda r, v: _iso(r.submitted_at)),
    Column("duration_seconds", True, lambda r, v: duration_seconds(r.started_at, r.submitted_at)),
    Column("sight_plus", False, lambda r, v: {True: "yes", False: "no"}.get(r.sight_plus)),
]
METADATA_MEANING = {
    "response_id": "Response number",
    "survey_version": "Version of the survey the response answered",
    "submitted_at": "When the response was submitted (ISO 8601, UTC); empty while unfinished",
    "duration_seconds": "Seconds from starting to submitting",
    "sight_plus": "Whether the reader was Sight+ when they submitted (only for responses linked to an account)",
}


def _answer(qid: str, r: Row, v: VersionLabels):
    """The stored answer, or None when the response's version does not ask the question."""
    if qid not in v.questions:
        return None
    answer = r.answers.get(qid)
    return None if answer in ("", [], {}) else answer


def _question_columns(q: walk.MergedQuestion, layout: str, codes: bool) -> list[Column]:
    qid = q.id

    def label(value, labels: dict) -> str:
        return str(value) if codes else labels.get(str(value), str(value))

    def single(r, v):
        answer = _answer(qid, r, v)
        return None if answer is None else label(answer, v.options[qid])

    def joined(r, v):
        answer = _answer(qid, r, v)
        if answer is None:
            return None
        chosen = answer if isinstance(answer, list) else [answer]
        return MULTIPLE_SEPARATOR.join(label(value, v.options[qid]) for value in chosen)

    def chosen(value: str):
        def cell(r, v):
            answer = _answer(qid, r, v)
            if answer is None or value not in v.options[qid]:
                return None
            return 1 if value in [str(a) for a in (answer if isinstance(answer, list) else [answer])] else 0

        return cell

    def as_is(r, v):
        answer = _answer(qid, r, v)
        return None if isinstance(answer, dict | list) else answer

    def number(r, v):
        answer = _answer(qid, r, v)
        return answer if isinstance(answer, int | float) and not isinstance(answer, bool) else None

    def matrix_row(row: str):
        def cell(r, v):
            answer = _answer(qid, r, v)
            if not isinstance(answer, dict) or answer.get(row) is None:
                return None
            return label(answer[row], v.columns[qid])

        return cell

    def other(r, v):
        return (r.answers.get(f"{qid}_other") or None) if qid in v.questions else None

    if q.type == "multiple_choice" and layout == "details":
        columns = [Column(f"{qid}[{value}]", True, chosen(value)) for value, _ in q.options()]
    elif q.type == "multiple_choice":
        columns = [Column(qid, False, joined)]
    elif q.type in walk.CHOICE_TYPES:
        columns = [Column(qid, False, single)]
    elif q.type in walk.NUMERIC_TYPES:
        columns = [Column(qid, True, number)]
    elif q.type == "matrix":
        columns = [Column(f"{qid}[{row}]", False, matrix_row(row)) for row, _ in q.rows()]
    else:
        columns = [Column(qid, False, as_is)]
    if q.has_other:
        columns.append(Column(f"{qid}_other", False, other))
    return columns


def export_columns(definitions: dict[int, dict], layout: str = "summary", values: str = "labels") -> list[Column]:
    """Every column of an export of responses to these versions (number -> definition)."""
    codes = values == "codes"
    columns = list(METADATA)
    for question in walk.merge_questions(definitions):
        columns.extend(_question_columns(question, layout, codes))
    return columns


# --- the codebook ---------------------------------------------------------------------------

CODEBOOK_HEADERS = ["column", "question_id", "version", "type", "question", "value", "label"]
CODEBOOK_NUMERIC = [False, False, True, False, False, False, False]


def codebook_rows(definitions: dict[int, dict], layout: str = "summary") -> list[list]:
    """What each export column holds, per version: one line per code and its label."""
    rows: list[list] = [[name, "", None, "metadata", meaning, "", ""] for name, meaning in METADATA_MEANING.items()]
    for q in walk.merge_questions(definitions):
        for number, asked in sorted(q.by_version.items()):
            kind, label = asked.get("type", ""), str(asked.get("label", q.id))
            if kind == "multiple_choice" and layout == "details":
                for value, option in walk.options(asked):
                    rows.append([f"{q.id}[{value}]", q.id, number, kind, f"{label} — {option}", "1", "chosen"])
                    rows.append([f"{q.id}[{value}]", q.id, number, kind, f"{label} — {option}", "0", "not chosen"])
            elif kind in walk.CHOICE_TYPES:
                rows += [[q.id, q.id, number, kind, label, value, option] for value, option in walk.options(asked)]
            elif kind == "rating":
                scale = asked.get("scale") or {}
                ends = {scale.get("min"): scale.get("min_label", ""), scale.get("max"): scale.get("max_label", "")}
                rows += [[q.id, q.id, number, kind, label, str(p), ends.get(p, "")] for p in walk.rating_points(asked)]
            elif kind == "matrix":
                for row, row_label in walk.matrix_rows(asked):
                    rows += [
                        [f"{q.id}[{row}]", q.id, number, kind, f"{label} — {row_label}", value, column]
                        for value, column in walk.matrix_columns(asked)
                    ]
            else:
                rows.append([q.id, q.id, number, kind, label, "", ""])
            if asked.get("other"):
                rows.append([f"{q.id}_other", q.id, number, "text", f"{label} — {walk.OTHER_LABEL}", "", ""])
    return rows


# --- an export, planned then streamed ---------------------------------------------------------


@dataclass
class ExportPlan:
    survey_id: int
    slug: str
    filter: ResponseFilter
    definitions: dict[int, dict]
    columns: list[Column]
    codebook: list[list]
    row_count: int

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    @property
    def numeric(self) -> list[bool]:
        return [c.numeric for c in self.columns]


def plan_export(
    session: Session, survey: Survey, flt: ResponseFilter, layout: str = "summary", values: str = "labels"
) -> ExportPlan:
    """Decide the columns and count the rows. Run it in the transaction that will stream the
    rows, so that the count (which goes in the audit log) is the number of rows sent."""
    definitions = versions_in(session, survey, flt)
    return ExportPlan(
        survey_id=survey.id,
        slug=survey.slug,
        filter=flt,
        definitions=definitions,
        columns=export_columns(definitions, layout, values),
        codebook=codebook_rows(definitions, layout),
        row_count=count_responses(session, survey.id, flt),
    )


def export_rows(session: Session, plan: ExportPlan) -> Iterator[list]:
    """One list of cell values per response, in column order."""
    labels = {number: VersionLabels(definition) for number, definition in plan.definitions.items()}
    for record in stream_responses(session, plan.survey_id, plan.filter):
        row = Row(*record[:5], answers=record[5] or {})
        version = labels[row.version]
        yield [column.cell(row, version) for column in plan.columns]


def _sheet_cell(value, numeric: bool):
    if value is None or numeric:
        return value
    return neutralise(str(value))


def sheet_rows(headers: list[str], numeric: list[bool], rows: Iterable[list]) -> Iterator[list]:
    """Headers and rows as a spreadsheet should get them: formula injection neutralised."""
    yield [neutralise(h) for h in headers]
    for row in rows:
        yield [_sheet_cell(value, kind) for value, kind in zip(row, numeric, strict=True)]


def csv_chunks(rows: Iterable[list], bom: bool = False) -> Iterator[bytes]:
    """RFC 4180: every field quoted, CRLF line ends, UTF-8 (with a byte-order mark for Excel)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    if bom:
        buffer.write("\ufeff")
    for row in rows:
        writer.writerow(row)
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def jsonl_chunks(headers: list[str], rows: Iterable[list]) -> Iterator[bytes]:
    """One JSON object per response, keyed by the same column names; empty cells are null."""
    lines: list[str] = []
    size = 0
    for row in rows:
        line = json.dumps(dict(zip(headers, row, strict=True)), ensure_ascii=False) + "\n"
        lines.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            yield "".join(lines).encode()
            lines, size = [], 0
    yield "".join(lines).encode()


def _xlsx_cell(value):
    # XML cannot carry most control characters; a reader's stray one must not end the export.
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def xlsx_chunks(sheets: Iterable[tuple[str, Iterable[list]]]) -> Iterator[bytes]:
    """A workbook from (title, rows) pairs. openpyxl's write-only mode keeps one row in memory,
    but a zip can only be finished at the end, so it is built in a temporary file first."""
    workbook = Workbook(write_only=True)
    for title, rows in sheets:
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append([_xlsx_cell(value) for value in row])
    with tempfile.TemporaryFile() as spool:
        workbook.save(spool)
        spool.seek(0)
        while chunk := spool.read(CHUNK_BYTES):
            yield chunk


def export_chunks(session: Session, plan: ExportPlan, fmt: str, bom: bool = False) -> Iterator[bytes]:
    """The export file, a chunk at a time."""
    rows = export_rows(session, plan)
    if fmt == "json":
        yield from jsonl_chunks(plan.headers, rows)
    elif fmt == "csv":
        yield from csv_chunks(sheet_rows(plan.headers, plan.numeric, rows), bom)
    elif fmt == "xlsx":
        yield from xlsx_chunks(
            [
                ("Responses", sheet_rows(plan.headers, plan.numeric, rows)),
                ("Codebook", sheet_rows(CODEBOOK_HEADERS, CODEBOOK_NUMERIC, plan.codebook)),
            ]
        )
    else:
        raise ValueError(f"unknown export format {fmt!r}")


def codebook_chunks(plan: ExportPlan, bom: bool = False) -> Iterator[bytes]:
    return csv_chunks(sheet_rows(CODEBOOK_HEADERS, CODEBOOK_NUMERIC, plan.codebook), bom)


def export_filename(slug: str, what: str, extension: str, today: datetime) -> str:
    """reader-survey-2026-11-25.csv, reader-survey-codebook-2026-11-25.csv"""
    kind = "" if what == extension else f"-{what}"
    return f"{slug}{kind}-{today.strftime('%Y-%m-%d')}.{extension}"


def record_export(
    session: Session,
    *,
    plan: ExportPlan,
    what: str,
    rows: int,
    filters: dict[str, str],
    actor: Actor | None,
    via: str,
    now: datetime,
) -> None:
    """Who exported what of which survey, with which filters, and how many rows it holds."""
    record_audit(
        session,
        actor=actor,
        action="survey.export",
        target=f"survey:{plan.slug}",
        details={"what": what, "filters": filters, "rows": rows, "via": via},
        now=now,
    )
