"""Responses as a table for spreadsheets: the columns, one row per response, the codebook, and
writers for CSV, XLSX and JSON Lines that stream whatever the number of responses.

The layout (DESIGN.md, Staff): metadata columns first, then one column per question id across
every version in the export; multiple choice joined with "; " (summary) or one 0/1 column per
option `ID[value]` (details); `ID_other` beside its question; a matrix as `ID[row]`. Labels are
looked up in the version each response answered; `values="codes"` gives the option values.

Times are written in the display time zone with their offset (ISO 8601), as pages show them.
A CSV cell a spreadsheet would run as a formula is neutralised (sight.spreadsheet); an XLSX cell
holds the reader's words exactly, since a cell typed as text is never a formula.
"""

from __future__ import annotations

import csv
import functools
import io
import itertools
import json
import operator
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from xml.sax.saxutils import escape as xml_escape
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    BigInteger,
    Integer,
    Select,
    String,
    Text,
    case,
    cast,
    extract,
    func,
    literal,
    literal_column,
    null,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from sight.audit import Actor, record_audit
from sight.jobs import NO_PROGRESS, Progress
from sight.spreadsheet import FORMULA_TRIGGERS, neutralise

from surveys.definition import walk
from surveys.models import Response, Survey
from surveys.results import TRACKING_COLUMNS, ResponseFilter, count_responses, select_responses, versions_in

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/x-ndjson; charset=utf-8",
}
# The file name's extension: JSON Lines is not one JSON document.
EXTENSIONS = {"csv": "csv", "xlsx": "xlsx", "json": "jsonl"}
CHUNK_BYTES = 64 * 1024
# Rows fetched from the database, and handed to a writer, at a time.
ROWS_PER_BATCH = 500
MULTIPLE_SEPARATOR = "; "
# Control characters XML cannot carry (tab, line feed and carriage return it can).
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010\013\014\016-\037]")


# --- columns --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """How the responses of one version fill one column: which answer, read how. Versions whose
    cells are equal share one SQL expression."""

    kind: str  # label | joined | chosen | value | number | matrix | other
    key: str  # the answer's key: the question id, or ID_other
    # What the version stores under the key (models.py): text, list, number or object.
    stored: str = "text"
    # (value, label) pairs to show labels for stored values; empty when exporting codes.
    labels: tuple[tuple[str, str], ...] = ()
    part: str = ""  # the option of a 0/1 column, or the matrix row


@dataclass(frozen=True)
class Column:
    header: str
    numeric: bool
    # Version number -> how its responses fill the column; a version that does not ask the
    # question is absent (its cells are empty). Metadata columns have none.
    cells: dict[int, Cell] = field(default_factory=dict)


METADATA = [
    Column("response_id", True),
    Column("survey_version", True),
    Column("submitted_at", False),
    Column("duration_seconds", True),
    Column("sight_plus", False),
    # Where the reader came from: results.TRACKING_COLUMNS, in that order.
    *(Column(name, False) for name in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "referrer")),
]
# An instant that shows the form of a time in the codebook, written in the export's zone.
EXAMPLE_TIME = datetime(2026, 12, 6, 23, 15, tzinfo=timezone.utc)


def metadata_meaning(zone: ZoneInfo) -> dict[str, str]:
    """What each metadata column holds, for the codebook."""
    return {
        "response_id": "Response number",
        "survey_version": "Version of the survey the response answered",
        "submitted_at": f"When the response was submitted: {zone.key} time with its offset from UTC "
        f"(ISO 8601, e.g. {EXAMPLE_TIME.astimezone(zone).isoformat()}); empty while unfinished",
        "duration_seconds": "Seconds from starting to submitting",
        "sight_plus": "Whether the reader was Sight+ when they submitted (only for responses linked to an account)",
        "utm_source": "utm_source of the link the reader followed to the survey",
        "utm_medium": "utm_medium of that link",
        "utm_campaign": "utm_campaign of that link",
        "utm_term": "utm_term of that link",
        "utm_content": "utm_content of that link",
        "referrer": "The article the reader came from: the path of a page of the magazine's site (from ?from=, "
        "else the page that linked to the survey); (other site) when it was another site's",
    }


def _stored(asked: dict) -> str:
    """What a version keeps under a question's id (models.py), so that its cells are read right."""
    kind = asked.get("type")
    if kind == "multiple_choice":
        return "list"
    if kind == "matrix":
        return "object"
    return "number" if kind in walk.NUMERIC_TYPES else "text"


def _question_columns(q: walk.MergedQuestion, layout: str, codes: bool) -> list[Column]:
    qid = q.id

    def labels(pairs: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
        return () if codes else tuple(pairs)

    def cells(make) -> dict[int, Cell]:
        made = {number: make(asked, _stored(asked)) for number, asked in q.by_version.items()}
        return {number: cell for number, cell in made.items() if cell is not None}

    def choice(asked, stored):
        # One cell: the label of the stored value, or of each chosen value joined with "; ".
        kind = {"list": "joined", "object": None}.get(stored, "label")
        return kind and Cell(kind, qid, stored, labels(walk.options(asked)))

    def chosen(value: str):
        def cell(asked, stored):
            offered = value in dict(walk.options(asked))
            return Cell("chosen", qid, stored, part=value) if offered and stored in ("list", "text") else None

        return cell

    def as_is(_asked, stored):
        return Cell("value", qid, stored) if stored in ("text", "number") else None

    def number(_asked, stored):
        return Cell("number", qid, stored) if stored == "number" else None

    def matrix_row(row: str):
        def cell(asked, stored):
            return Cell("matrix", qid, stored, labels(walk.matrix_columns(asked)), row) if stored == "object" else None

        return cell

    if q.type == "multiple_choice" and layout == "details":
        columns = [Column(f"{qid}[{value}]", True, cells(chosen(value))) for value, _ in q.options()]
    elif q.type in walk.CHOICE_TYPES:
        columns = [Column(qid, False, cells(choice))]
    elif q.type in walk.NUMERIC_TYPES:
        columns = [Column(qid, True, cells(number))]
    elif q.type == "matrix":
        columns = [Column(f"{qid}[{row}]", False, cells(matrix_row(row))) for row, _ in q.rows()]
    else:
        columns = [Column(qid, False, cells(as_is))]
    if q.has_other:
        columns.append(Column(f"{qid}_other", False, cells(lambda _asked, _stored: Cell("other", f"{qid}_other"))))
    return columns


def export_columns(definitions: dict[int, dict], layout: str = "summary", values: str = "labels") -> list[Column]:
    """Every column of an export of responses to these versions (number -> definition)."""
    codes = values == "codes"
    columns = list(METADATA)
    for question in walk.merge_questions(definitions):
        columns.extend(_question_columns(question, layout, codes))
    return columns


# --- cells picked out by the database ---------------------------------------------------------
#
# The database reads each cell from the stored answers (SQLite's JSON1, PostgreSQL's json
# operators), labels it and, for CSV and JSON Lines, writes the whole line, so that Python
# neither decodes answers nor touches a cell. The cells are read in an inner query that the
# database may not fold into the outer one (OFFSET 0), so that the outer query's neutralising and
# quoting, which mention each cell several times, read each cell once.

# How the exported rows come: typed cells for a spreadsheet, or each response as one CSV line
# (without its line end) or one JSON object.
SHEET, CSV_LINES, JSON_LINES = "sheet", "csv", "json"
# Values per call of SQLite's printf, below its limit on a function's arguments (127).
PRINTF_VALUES = 100


class _Cells:
    """The SQL of one export's cells, for one database and one of the three renderings."""

    def __init__(self, dialect: str, rendering: str):
        self.postgresql = dialect == "postgresql"
        self.rendering = rendering

    # -- reading the stored answers

    def raw(self, key: str):
        """A stored string as text (NULL when absent)."""
        if self.postgresql:
            return Response.answers.op("->>", return_type=String)(literal(key, String))
        return func.json_extract(Response.answers, literal(_json_path(key), String))

    def raw_in(self, key: str, part: str):
        """A matrix answer's column for one row, as text."""
        if self.postgresql:
            inner = Response.answers.op("->", return_type=JSON)(literal(key, String))
            return inner.op("->>", return_type=String)(literal(part, String))
        return func.json_extract(Response.answers, literal(_json_path(key, part), String))

    def token(self, key: str):
        """A stored number as its JSON text, which is what Python's str() of it writes."""
        if self.postgresql:
            return cast(Response.answers.op("->", return_type=JSON)(literal(key, String)), Text)
        return Response.answers.op("->", return_type=String)(literal(_json_path(key), String))

    def typed(self, key: str):
        """A stored number as a number (PostgreSQL's driver decodes the JSON value)."""
        if self.postgresql:
            return Response.answers.op("->", return_type=JSON)(literal(key, String))
        return func.json_extract(Response.answers, literal(_json_path(key), String))

    def elements(self, key: str):
        """The stored list as rows (position from 0, value)."""
        if self.postgresql:
            each = func.json_array_elements_text(Response.answers.op("->", return_type=JSON)(literal(key, String)))
            rows = each.table_valued("value", with_ordinality="position").render_derived()
            return rows, rows.c.position - 1, rows.c.value
        rows = func.json_each(Response.answers, literal(_json_path(key), String)).table_valued("key", "value").alias()
        return rows, rows.c.key, rows.c.value

    def quoted(self, text):
        """Text as a JSON string (NULL stays NULL on PostgreSQL, becomes null on SQLite)."""
        if self.rendering != JSON_LINES:
            return text
        return cast(func.to_json(text), Text) if self.postgresql else func.json_quote(text)

    # -- cells

    def cell(self, cell: Cell):
        if cell.kind in ("label", "other"):
            value = self.token(cell.key) if cell.stored == "number" else func.nullif(self.raw(cell.key), "")
            return self.quoted(_labelled(value, cell.labels))
        if cell.kind == "matrix":
            return self.quoted(_labelled(self.raw_in(cell.key, cell.part), cell.labels))
        if cell.kind == "joined":
            rows, position, value = self.elements(cell.key)
            label, separator = _labelled(value, cell.labels), literal(MULTIPLE_SEPARATOR, String)
            if self.postgresql:
                joined = func.string_agg(label, aggregate_order_by(separator, position))
            else:
                # json_each reads the list in order, and group_concat keeps the order it is given.
                joined = func.group_concat(label, separator)
            return self.quoted(select(joined).select_from(rows).scalar_subquery())
        if cell.kind == "chosen":
            if cell.stored == "text":
                value = func.nullif(self.raw(cell.key), "")
                return case((value == cell.part, 1), (value.is_not(None), 0))
            rows, _position, value = self.elements(cell.key)
            chosen = select(1).select_from(rows).where(value == cell.part).exists()
            path = cell.key if self.postgresql else _json_path(cell.key)
            listed = Response.answers.op("->", return_type=JSON)(literal(path, String))
            return case((func.json_array_length(listed) > 0, case((chosen, 1), else_=0)))
        if cell.kind == "value" and cell.stored == "text":
            return self.quoted(func.nullif(self.raw(cell.key), ""))
        if cell.kind == "value":
            # A number in a text column (the question's type changed): a number to JSON, text to
            # a spreadsheet, as str() writes it.
            return self.token(cell.key)
        return self.typed(cell.key) if self.rendering == SHEET else self.token(cell.key)

    # -- a column across versions

    def column(self, column: Column, version_ids: dict[int, int]):
        """The column's cell: one expression when every exported version fills it alike, else
        one per kind of version (none for a version that does not ask the question)."""
        versions: dict[Cell, list[int]] = {}
        for number, cell in column.cells.items():
            if number in version_ids:
                versions.setdefault(cell, []).append(version_ids[number])
        if not versions:
            return null()
        if len(versions) == 1 and len(next(iter(versions.values()))) == len(version_ids):
            return self.cell(next(iter(versions)))
        return case(*((Response.version_id.in_(ids), self.cell(cell)) for cell, ids in versions.items()))

    def local_time(self, moment, offset: timedelta):
        """A UTC time as ISO 8601 text in a zone whose offset from UTC is `offset`, to the second."""
        seconds = int(offset.total_seconds())
        if self.postgresql:
            shifted = func.timezone("UTC", moment) + literal_column(f"interval '{seconds} seconds'")
            local = func.to_char(shifted, literal('YYYY-MM-DD"T"HH24:MI:SS', String))
        else:
            local = func.strftime(literal("%Y-%m-%dT%H:%M:%S", String), moment, literal(f"{seconds:+d} seconds", String))
        return local.concat(_constant(_offset_text(seconds)))

    def zoned_time(self, moment, periods: list[ZonePeriod]):
        """A UTC time as ISO 8601 text in the zone, with the offset the zone had then."""
        ends = [period.starts for period in periods[1:]]
        branches = [(moment < end, self.local_time(moment, period.offset)) for period, end in zip(periods, ends)]
        last = self.local_time(moment, periods[-1].offset)
        return case(*branches, else_=last) if branches else last

    def metadata(self, version_numbers: dict[int, int], periods: list[ZonePeriod]) -> list:
        """Response number, version, submitted_at, duration_seconds, sight_plus and tracking."""
        submitted, started = Response.submitted_at, Response.started_at
        iso = self.zoned_time(submitted, periods)
        if self.postgresql:
            seconds = cast(func.trunc(extract("epoch", submitted - started)), BigInteger)
        else:
            # Whole seconds truncated, as int() of the exact difference: SQLite keeps times as
            # text with six digits of microseconds from the 21st character, and its integer
            # division truncates too.
            whole = type_coerce(func.strftime("%s", submitted), Integer) - type_coerce(func.strftime("%s", started), Integer)
            fraction = cast(func.substr(submitted, 21), Integer) - cast(func.substr(started, 21), Integer)
            seconds = (whole * 1_000_000 + fraction) // 1_000_000
        sight_plus = {True: "yes", False: "no"}
        if self.rendering == JSON_LINES:
            sight_plus = {given: json.dumps(text) for given, text in sight_plus.items()}
        return [
            Response.id,
            case(version_numbers, value=Response.version_id),
            self.quoted(iso),
            seconds,
            case((Response.sight_plus.is_(True), sight_plus[True]), (Response.sight_plus.is_(False), sight_plus[False])),
            *(self.quoted(column) for column in TRACKING_COLUMNS),
        ]

    # -- rows

    def statement(self, plan: ExportPlan) -> Select:
        version_ids = {number: plan.version_ids[number] for number in plan.definitions}
        expressions = self.metadata({version_id: number for number, version_id in version_ids.items()}, plan.zone_periods)
        expressions += [self.column(column, version_ids) for column in plan.columns[len(METADATA) :]]
        inner = (
            select_responses(plan.survey_id, plan.filter, *(e.label(f"c{i}") for i, e in enumerate(expressions)))
            .order_by(Response.id)
            .offset(0)
            .subquery()
        )
        # The outer query reads the inner one's rows as they come, in the inner one's order (a
        # sort of its own would hold every line before the first is sent).
        cells = list(inner.c)
        if self.rendering == JSON_LINES:
            # Every cell is already JSON text (or NULL for null).
            keys = [("{" if n == 0 else ", ") + json.dumps(header, ensure_ascii=False) + ": " for n, header in enumerate(plan.headers)]
            values = [func.coalesce(cast(value, String), _constant("null")) for value in cells]
            return select(self.line(keys, values, [False] * len(cells), "}")).select_from(inner)
        if self.rendering == SHEET:
            # Cells typed as text: a spreadsheet never runs them, so they hold the reader's words.
            return select(*cells).select_from(inner)
        neutralised = functools.partial(_neutralised, first_code=func.ascii if self.postgresql else func.unicode)
        text = [value if numeric else neutralised(value) for value, numeric in zip(cells, plan.numeric, strict=True)]
        # RFC 4180 as csv.writer(quoting=QUOTE_ALL) writes it: every field quoted, quotes doubled.
        openings = ['"' if n == 0 else '","' for n in range(len(text))]
        values = [func.coalesce(cast(value, String), _constant("")) for value in text]
        return select(self.line(openings, values, [not numeric for numeric in plan.numeric], '"')).select_from(inner)

    def line(self, openings: list[str], values: list, doubled: list[bool], end: str):
        """Each value after its opening text, then `end`; `doubled` values with their double
        quotes doubled (for CSV)."""
        if self.postgresql:
            parts = []
            for opening, value, double in zip(openings, values, doubled, strict=True):
                parts += [literal(opening, String), func.replace(value, _constant('"'), _constant('""')) if double else value]
            return _concatenated([*parts, literal(end, String)])
        # SQLite's printf writes a line in one call (%w doubles double quotes), a few calls
        # when there are more values than a function may take.
        calls = []
        for first in range(0, len(values), PRINTF_VALUES):
            group = range(first, min(first + PRINTF_VALUES, len(values)))
            layout = "".join(openings[n].replace("%", "%%") + ("%w" if doubled[n] else "%s") for n in group)
            if group.stop == len(values):
                layout += end.replace("%", "%%")
            calls.append(func.printf(literal(layout, String), *(values[n] for n in group)))
        return _concatenated(calls)


def _labelled(value, labels: tuple[tuple[str, str], ...]):
    """The label of a stored value (the value itself when it has none)."""
    return case(dict(labels), value=value, else_=value) if labels else value


def _neutralised(text, first_code=func.unicode):
    """A text cell a spreadsheet would run as a formula, made plain text (sight.spreadsheet)."""
    triggers = [literal_column(str(ord(character))) for character in FORMULA_TRIGGERS]
    return case((first_code(text).in_(triggers), _constant("'").concat(text)), else_=text)


def _constant(text: str):
    """One of this module's own SQL strings, written into the statement rather than bound: the
    database then treats it as a constant, which is measurably cheaper per cell."""
    return literal_column("'" + text.replace("'", "''") + "'", String)


def _concatenated(parts: list):
    return functools.reduce(lambda line, part: line.concat(part), parts[1:], parts[0])


def _json_path(*keys: str) -> str:
    return "$" + "".join(f'."{key}"' for key in keys)


# --- times in the display zone ----------------------------------------------------------------


@dataclass(frozen=True)
class ZonePeriod:
    """From `starts` (None: from the beginning) until the next period, the zone is `offset` from UTC."""

    starts: datetime | None
    offset: timedelta


def zone_periods(zone: ZoneInfo, first: datetime | None, last: datetime | None) -> list[ZonePeriod]:
    """The offsets from UTC `zone` has from `first` to `last` (e.g. daylight saving and back), so
    that the database can write each time in the zone without a time zone database of its own."""

    def offset(second: int) -> timedelta:
        return datetime.fromtimestamp(second, zone).utcoffset()

    if first is None or last is None:
        # No exported response has a time to write: any one offset will do.
        return [ZonePeriod(None, EXAMPLE_TIME.astimezone(zone).utcoffset())]
    second, end = int(first.timestamp()) - 1, int(last.timestamp()) + 1
    periods = [ZonePeriod(None, offset(second))]
    day = 24 * 3600
    while second < end:
        step = min(second + day, end)
        if offset(step) != periods[-1].offset:
            # The change lies within this day: find its first second.
            low, high = second, step
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (middle, high) if offset(middle) == periods[-1].offset else (low, middle)
            periods.append(ZonePeriod(datetime.fromtimestamp(high, timezone.utc), offset(high)))
            step = high
        second = step
    return periods


def _offset_text(seconds: int) -> str:
    """+11:00, -05:00, +00:00 (as Python's isoformat writes an offset; seconds only when there are some)."""
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, rest = divmod(rest, 60)
    return f"{sign}{hours:02d}:{minutes:02d}" + (f":{rest:02d}" if rest else "")


# --- the codebook ---------------------------------------------------------------------------

CODEBOOK_HEADERS = ["column", "question_id", "version", "type", "question", "value", "label"]
CODEBOOK_NUMERIC = [False, False, True, False, False, False, False]


def codebook_rows(definitions: dict[int, dict], zone: ZoneInfo, layout: str = "summary") -> list[list]:
    """What each export column holds, per version: one line per code and its label."""
    rows: list[list] = [[name, "", None, "metadata", meaning, "", ""] for name, meaning in metadata_meaning(zone).items()]
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
    # Version number -> its row id, for the versions of the survey.
    version_ids: dict[int, int]
    columns: list[Column]
    codebook: list[list]
    row_count: int
    # The display zone's offsets over the times of the exported responses.
    zone_periods: list[ZonePeriod]

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    @property
    def numeric(self) -> list[bool]:
        return [c.numeric for c in self.columns]


def plan_export(
    session: Session, survey: Survey, flt: ResponseFilter, layout: str = "summary", values: str = "labels", *, zone: ZoneInfo
) -> ExportPlan:
    """Decide the columns and count the rows; times will be written in `zone`. Run it in the
    transaction that will stream the rows, so that the count (which goes in the audit log) is
    the number of rows sent."""
    definitions = versions_in(session, survey, flt)
    first, last = session.execute(
        select_responses(survey.id, flt, func.min(Response.submitted_at), func.max(Response.submitted_at))
    ).one()
    return ExportPlan(
        survey_id=survey.id,
        slug=survey.slug,
        filter=flt,
        definitions=definitions,
        version_ids={v.number: v.id for v in survey.versions},
        columns=export_columns(definitions, layout, values),
        codebook=codebook_rows(definitions, zone, layout),
        row_count=count_responses(session, survey.id, flt),
        zone_periods=zone_periods(zone, first, last),
    )


def export_rows(session: Session, plan: ExportPlan, rendering: str) -> Iterator[list[Sequence]]:
    """The export's rows in batches, oldest first, so that memory does not grow with the survey:
    typed cells for a spreadsheet (SHEET), or one CSV line (neutralised) or JSON object per
    response (CSV_LINES, JSON_LINES), each a row of one value."""
    stmt = _Cells(session.get_bind().dialect.name, rendering).statement(plan)
    return session.connection().execute(stmt.execution_options(yield_per=ROWS_PER_BATCH)).partitions()


def neutralised_rows(headers: list[str], numeric: list[bool], rows: Iterable[list]) -> Iterator[list]:
    """Headers and rows for a CSV file, which a spreadsheet reads without types: text that it
    would run as a formula neutralised, numbers left as they are."""
    yield [neutralise(h) for h in headers]
    for row in rows:
        yield [_csv_cell(value, kind) for value, kind in zip(row, numeric, strict=True)]


def _csv_cell(value, numeric: bool):
    if value is None or numeric:
        return value
    return neutralise(str(value))


def _sheet_export(session: Session, plan: ExportPlan, progress: Progress = NO_PROGRESS) -> Iterator[Sequence]:
    """The export's headers, then its rows, as typed cells."""
    yield plan.headers
    for batch in _counted(export_rows(session, plan, SHEET), progress):
        yield from batch


def _counted(batches: Iterable[list[Sequence]], progress: Progress) -> Iterator[list[Sequence]]:
    for batch in batches:
        yield batch
        progress.advance(len(batch))


def _batches(rows: Iterable[Sequence]) -> Iterator[list[Sequence]]:
    rows = iter(rows)
    return iter(lambda: list(itertools.islice(rows, ROWS_PER_BATCH)), [])


def csv_chunks(rows: Iterable[Sequence], bom: bool = False) -> Iterator[bytes]:
    """RFC 4180: every field quoted, CRLF line ends, UTF-8 (with a byte-order mark for Excel)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    if bom:
        buffer.write("\ufeff")
    for batch in _batches(rows):
        writer.writerows(batch)
        if buffer.tell() >= CHUNK_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _line_chunks(batches: Iterable[list[Sequence]], end: str, first: str = "") -> Iterator[bytes]:
    """Batches of lines (rows of one value), `end` after each line, `first` ahead of them all."""
    parts, size = [first], len(first)
    for batch in batches:
        text = end.join(map(_first, batch)) + end
        parts.append(text)
        size += len(text)
        if size >= CHUNK_BYTES:
            yield "".join(parts).encode()
            parts, size = [], 0
    yield "".join(parts).encode()


_first = operator.itemgetter(0)


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
            text = ILLEGAL_CHARACTERS_RE.sub("", value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
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
                row_number = 0
                # A batch of rows per write: the compressor costs per call, not per byte.
                for batch in _batches(rows):
                    part.write(b"".join(_xlsx_row(row_number := row_number + 1, row) for row in batch))
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


def export_chunks(
    session: Session, plan: ExportPlan, fmt: str, bom: bool = False, progress: Progress = NO_PROGRESS
) -> Iterator[bytes]:
    """The export file, a chunk at a time; `progress` hears of each batch of rows."""
    progress.start(plan.row_count, "Exporting responses")
    if fmt == "json":
        yield from _line_chunks(_counted(export_rows(session, plan, JSON_LINES), progress), "\n")
    elif fmt == "csv":
        header = b"".join(csv_chunks([[neutralise(h) for h in plan.headers]], bom)).decode()
        yield from _line_chunks(_counted(export_rows(session, plan, CSV_LINES), progress), "\r\n", header)
    elif fmt == "xlsx":
        yield from xlsx_chunks(
            [
                ("Responses", _sheet_export(session, plan, progress)),
                ("Codebook", [CODEBOOK_HEADERS, *plan.codebook]),
            ]
        )
    else:
        raise ValueError(f"unknown export format {fmt!r}")


def codebook_chunks(plan: ExportPlan, bom: bool = False) -> Iterator[bytes]:
    return csv_chunks(neutralised_rows(CODEBOOK_HEADERS, CODEBOOK_NUMERIC, plan.codebook), bom)


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
