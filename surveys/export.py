"""Responses as a table for spreadsheets: the columns, one row per response, the codebook, and
writers for CSV, XLSX and JSON Lines that stream whatever the number of responses.

The layout (DESIGN.md, Staff): metadata columns first, then one column per question id across
every version in the export; multiple choice joined with "; " (summary) or one 0/1 column per
option `ID[value]` (details); `ID_other` beside its question; a matrix as `ID[row]`. Labels are
looked up in the version each response answered; `values="codes"` gives the option values.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from xml.sax.saxutils import escape as xml_escape

from sqlalchemy.orm import Session

from sight.audit import Actor, record_audit
from sight.spreadsheet import FORMULA_TRIGGERS, neutralise

from surveys.definition import walk
from surveys.models import Survey
from surveys.results import ResponseFilter, count_responses, duration_seconds, stream_responses, versions_in

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/x-ndjson; charset=utf-8",
}
# The file name's extension: JSON Lines is not one JSON document.
EXTENSIONS = {"csv": "csv", "xlsx": "xlsx", "json": "jsonl"}
# A spreadsheet runs a cell that starts with one of these as a formula.
CHUNK_BYTES = 64 * 1024
MULTIPLE_SEPARATOR = "; "
FORMULA_FIRST_CHARACTERS = frozenset(FORMULA_TRIGGERS)
# Control characters XML cannot carry (tab, line feed and carriage return it can).
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010\013\014\016-\037]")


# --- columns --------------------------------------------------------------------------------


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
    # For the labels of one version, how to read this column's cell from a response's answers;
    # None when that version does not ask the question (the cell is then empty). Built once per
    # version, so that each cell costs one small call (metadata columns have no reader).
    reader: Callable[[VersionLabels], Callable[[dict], object] | None] | None = None


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


METADATA = [
    Column("response_id", True),
    Column("survey_version", True),
    Column("submitted_at", False),
    Column("duration_seconds", True),
    Column("sight_plus", False),
    # Where the reader came from: results.TRACKING_COLUMNS, in that order.
    *(Column(name, False) for name in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "referrer")),
]
SIGHT_PLUS_CELL = {True: "yes", False: "no", None: None}
METADATA_MEANING = {
    "response_id": "Response number",
    "survey_version": "Version of the survey the response answered",
    "submitted_at": "When the response was submitted (ISO 8601, UTC); empty while unfinished",
    "duration_seconds": "Seconds from starting to submitting",
    "sight_plus": "Whether the reader was Sight+ when they submitted (only for responses linked to an account)",
    "utm_source": "utm_source of the link the reader followed to the survey",
    "utm_medium": "utm_medium of that link",
    "utm_campaign": "utm_campaign of that link",
    "utm_term": "utm_term of that link",
    "utm_content": "utm_content of that link",
    "referrer": "The article the reader came from: ?from= as given, else the path of a page of the magazine's site",
}


# A stored answer of these types counts as not given when it is empty (0 and False are answers).
EMPTY_TYPES = (str, list, dict)


def _given(answer) -> bool:
    # Most answers are truthy, and the first test settles them.
    return bool(answer) or (answer is not None and type(answer) not in EMPTY_TYPES)


def _question_columns(q: walk.MergedQuestion, layout: str, codes: bool) -> list[Column]:
    qid = q.id

    def asks(make):
        """A reader for the versions that ask the question; None for the others."""
        return lambda v: make(v) if qid in v.questions else None

    def labeller(labels: dict):
        if codes:
            return str

        def label(value) -> str:
            text = value if type(value) is str else str(value)
            return labels.get(text, text)

        return label

    def single(v):
        label = labeller(v.options[qid])

        def cell(answers):
            answer = answers.get(qid)
            return label(answer) if _given(answer) else None

        return cell

    def joined(v):
        label = labeller(v.options[qid])

        def cell(answers):
            answer = answers.get(qid)
            if not _given(answer):
                return None
            return MULTIPLE_SEPARATOR.join(label(value) for value in (answer if isinstance(answer, list) else [answer]))

        return cell

    def chosen(value: str):
        def reader(v):
            if value not in v.options[qid]:
                return None

            def cell(answers):
                answer = answers.get(qid)
                if not _given(answer):
                    return None
                return 1 if value in [str(a) for a in (answer if isinstance(answer, list) else [answer])] else 0

            return cell

        return reader

    def as_is(_v):
        def cell(answers):
            answer = answers.get(qid)
            return None if not _given(answer) or isinstance(answer, dict | list) else answer

        return cell

    def number(_v):
        def cell(answers):
            answer = answers.get(qid)
            return answer if isinstance(answer, int | float) and not isinstance(answer, bool) else None

        return cell

    def matrix_row(row: str):
        def reader(v):
            label = labeller(v.columns[qid])

            def cell(answers):
                answer = answers.get(qid)
                if not isinstance(answer, dict) or answer.get(row) is None:
                    return None
                return label(answer[row])

            return cell

        return reader

    def other(_v):
        key = f"{qid}_other"
        return lambda answers: answers.get(key) or None

    if q.type == "multiple_choice" and layout == "details":
        columns = [Column(f"{qid}[{value}]", True, asks(chosen(value))) for value, _ in q.options()]
    elif q.type == "multiple_choice":
        columns = [Column(qid, False, asks(joined))]
    elif q.type in walk.CHOICE_TYPES:
        columns = [Column(qid, False, asks(single))]
    elif q.type in walk.NUMERIC_TYPES:
        columns = [Column(qid, True, asks(number))]
    elif q.type == "matrix":
        columns = [Column(f"{qid}[{row}]", False, asks(matrix_row(row))) for row, _ in q.rows()]
    else:
        columns = [Column(qid, False, asks(as_is))]
    if q.has_other:
        columns.append(Column(f"{qid}_other", False, asks(other)))
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


def export_rows(session: Session, plan: ExportPlan, *, for_sheet: bool = False) -> Iterator[list]:
    """One list of cell values per response, in column order; `for_sheet` neutralises text
    cells against formula injection (numeric columns are left as they are)."""
    readers = {}
    for number, definition in plan.definitions.items():
        labels = VersionLabels(definition)
        readers[number] = [column.reader(labels) for column in plan.columns[len(METADATA) :]]
    text_columns = [i for i, column in enumerate(plan.columns) if not column.numeric]
    for response_id, number, started_at, submitted_at, sight_plus, answers, *tracking in stream_responses(
        session, plan.survey_id, plan.filter, tracking=True
    ):
        answers = answers or {}
        row = [
            response_id,
            number,
            _iso(submitted_at),
            duration_seconds(started_at, submitted_at),
            SIGHT_PLUS_CELL[sight_plus],
            *tracking,
        ]
        row += [None if read is None else read(answers) for read in readers[number]]
        if for_sheet:
            for i in text_columns:
                value = row[i]
                if value is not None:
                    text = value if type(value) is str else str(value)
                    row[i] = "'" + text if text[:1] in FORMULA_FIRST_CHARACTERS else text
        yield row


def sheet_rows(headers: list[str], numeric: list[bool], rows: Iterable[list]) -> Iterator[list]:
    """Headers and rows as a spreadsheet should get them: formula injection neutralised."""
    yield [neutralise(h) for h in headers]
    for row in rows:
        yield [_sheet_cell(value, kind) for value, kind in zip(row, numeric, strict=True)]


def _sheet_cell(value, numeric: bool):
    if value is None or numeric:
        return value
    return neutralise(str(value))


def _sheet_export(plan: ExportPlan, rows: Iterator[list]) -> Iterator[list]:
    """The export's headers, then its rows (neutralised by `export_rows(for_sheet=True)`)."""
    yield [neutralise(h) for h in plan.headers]
    yield from rows


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
    # One encoder for the whole export: json.dumps with options makes a new one for every call.
    encode = json.JSONEncoder(ensure_ascii=False).encode
    lines: list[str] = []
    size = 0
    for row in rows:
        line = encode(dict(zip(headers, row, strict=True))) + "\n"
        lines.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            yield "".join(lines).encode()
            lines, size = [], 0
    yield "".join(lines).encode()


class _Pipe(io.RawIOBase):
    """Where the zip writer puts its bytes, to be handed on a chunk at a time. It cannot seek,
    so the zip writer streams: each part's sizes follow its data instead of being patched in."""

    def __init__(self):
        super().__init__()
        self.parts: list[bytes] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts, self.size = [], 0
        return data


XLSX_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "{sheets}</Types>"
)
XLSX_SHEET_TYPE = (
    '<Override PartName="/xl/worksheets/sheet{n}.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
)
XLSX_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
XLSX_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>{sheets}</sheets></workbook>'
)
XLSX_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{sheets}'
    '<Relationship Id="rIdStyles" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/></Relationships>'
)
XLSX_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
XLSX_SHEET_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
XLSX_SHEET_TAIL = b"</sheetData></worksheet>"


def _xlsx_row(number: int, row: list) -> bytes:
    """One <row> of a worksheet: text as inline strings, numbers as numbers, nothing for empty."""
    cells = []
    for letter, value in zip(_column_letters(len(row)), row):
        if value is None:
            continue
        if type(value) is str:
            # XML cannot carry most control characters; a reader's stray one must not end the export.
            text = xml_escape(ILLEGAL_CHARACTERS_RE.sub("", value))
            cells.append(f'<c r="{letter}{number}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>')
        elif isinstance(value, bool):
            cells.append(f'<c r="{letter}{number}" t="b"><v>{int(value)}</v></c>')
        elif isinstance(value, int | float):
            cells.append(f'<c r="{letter}{number}"><v>{value!r}</v></c>')
        else:
            text = xml_escape(ILLEGAL_CHARACTERS_RE.sub("", str(value)))
            cells.append(f'<c r="{letter}{number}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>')
    return f'<row r="{number}">{"".join(cells)}</row>'.encode()


def _column_letter(number: int) -> str:
    """1 -> A, 26 -> Z, 27 -> AA: a spreadsheet's name for its column."""
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


@functools.cache
def _column_letters(count: int) -> list[str]:
    return [_column_letter(n) for n in range(1, count + 1)]


def xlsx_chunks(sheets: Iterable[tuple[str, Iterable[list]]]) -> Iterator[bytes]:
    """A workbook from (title, rows) pairs, written as a streaming zip: its bytes flow while the
    rows are read, and memory holds one chunk whatever the number of rows."""
    pipe = _Pipe()
    titles = []
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED) as book:
        for number, (title, rows) in enumerate(sheets, start=1):
            titles.append(title)
            with book.open(f"xl/worksheets/sheet{number}.xml", "w", force_zip64=True) as part:
                part.write(XLSX_SHEET_HEAD)
                for row_number, row in enumerate(rows, start=1):
                    part.write(_xlsx_row(row_number, row))
                    if pipe.size >= CHUNK_BYTES:
                        yield pipe.take()
                part.write(XLSX_SHEET_TAIL)
        numbers = range(1, len(titles) + 1)
        book.writestr("[Content_Types].xml", XLSX_CONTENT_TYPES.format(sheets="".join(XLSX_SHEET_TYPE.format(n=n) for n in numbers)))
        book.writestr("_rels/.rels", XLSX_ROOT_RELS)
        book.writestr(
            "xl/workbook.xml",
            XLSX_WORKBOOK.format(
                sheets="".join(
                    f'<sheet name="{xml_escape(title, {chr(34): "&quot;"})}" sheetId="{n}" r:id="rId{n}"/>'
                    for n, title in zip(numbers, titles)
                )
            ),
        )
        book.writestr(
            "xl/_rels/workbook.xml.rels",
            XLSX_WORKBOOK_RELS.format(
                sheets="".join(
                    f'<Relationship Id="rId{n}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
                    f'Target="worksheets/sheet{n}.xml"/>'
                    for n in numbers
                )
            ),
        )
        book.writestr("xl/styles.xml", XLSX_STYLES)
    yield pipe.take()


def export_chunks(session: Session, plan: ExportPlan, fmt: str, bom: bool = False) -> Iterator[bytes]:
    """The export file, a chunk at a time."""
    if fmt == "json":
        yield from jsonl_chunks(plan.headers, export_rows(session, plan))
    elif fmt == "csv":
        yield from csv_chunks(_sheet_export(plan, export_rows(session, plan, for_sheet=True)), bom)
    elif fmt == "xlsx":
        yield from xlsx_chunks(
            [
                ("Responses", _sheet_export(plan, export_rows(session, plan, for_sheet=True))),
                ("Codebook", sheet_rows(CODEBOOK_HEADERS, CODEBOOK_NUMERIC, plan.codebook)),
            ]
        )
    else:
        raise ValueError(f"unknown export format {fmt!r}")


def codebook_chunks(plan: ExportPlan, bom: bool = False) -> Iterator[bytes]:
    return csv_chunks(sheet_rows(CODEBOOK_HEADERS, CODEBOOK_NUMERIC, plan.codebook), bom)


def export_filename(slug: str, what: str, extension: str, today: datetime) -> str:
    """reader-survey-2026-11-25.csv, reader-survey-codebook-2026-11-25.csv"""
    kind = "" if EXTENSIONS.get(what) == extension else f"-{what}"
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
