"""What readers said: which responses a filter selects, counts and percentages per question,
free-text answers, responses per day, and the figures for the staff dashboard."""

from __future__ import annotations

import json
import statistics
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from sqlalchemy import Select, Text, cast, func, or_, select
from sqlalchemy.orm import Session

from surveys.definition import walk
from surveys.models import AskTally, Response, Survey, SurveyVersion
from surveys.search import matches, matching_responses, search_terms, text_value
from surveys.statistics import mean_of_counts, median_of_counts

# How many sources and referring articles the results page lists, and the name of "none given".
ORIGINS_SHOWN = 10
NOT_GIVEN = "(none)"
# Sources and referring articles are counted by their first this many characters (the tallies'
# value column); an article's address longer than that is shown cut.
ORIGIN_LENGTH = 300
# Rows fetched at a time when walking every response of a survey.
BATCH = 500


@dataclass(frozen=True)
class ResponseFilter:
    """Which responses count. Times are UTC bounds: `since <= time < until`."""

    since: datetime | None = None
    until: datetime | None = None
    version: int | None = None
    status: str = "finished"  # finished | unfinished | all
    sight_plus: bool | None = None  # only responses that stored this value
    utm_source: str | None = None


def day_bounds(first: date | None, last: date | None, zone: tzinfo) -> tuple[datetime | None, datetime | None]:
    """Local calendar days `first`..`last` (inclusive) as UTC bounds."""
    since = datetime.combine(first, time(), zone).astimezone(timezone.utc) if first else None
    until = (
        datetime.combine(last + timedelta(days=1), time(), zone).astimezone(timezone.utc) if last else None
    )
    return since, until


def response_time():
    """When a response happened: its submission, or its start while unfinished."""
    return func.coalesce(Response.submitted_at, Response.started_at)


def filter_conditions(survey_id: int, flt: ResponseFilter) -> list:
    """What `flt` asks of a response of the survey, beside being of the survey."""
    conditions = []
    if flt.status == "finished":
        conditions.append(Response.submitted_at.is_not(None))
        when = Response.submitted_at
    else:
        if flt.status == "unfinished":
            conditions.append(Response.submitted_at.is_(None))
        when = response_time()
    if flt.since is not None:
        conditions.append(when >= flt.since)
    if flt.until is not None:
        conditions.append(when < flt.until)
    if flt.version is not None:
        conditions.append(
            Response.version_id.in_(
                select(SurveyVersion.id).where(SurveyVersion.survey_id == survey_id, SurveyVersion.number == flt.version)
            )
        )
    if flt.sight_plus is not None:
        conditions.append(Response.sight_plus == flt.sight_plus)
    if flt.utm_source is not None:
        conditions.append(Response.utm_source == flt.utm_source)
    return conditions


def select_responses(survey_id: int, flt: ResponseFilter, *columns) -> Select:
    """The responses `flt` selects. `survey_version` is joined only when a column comes from it,
    so that a count or a probe is answered from `survey_response`'s indexes alone."""
    stmt = select(*columns).select_from(Response).where(Response.survey_id == survey_id)
    if any(getattr(getattr(column, "expression", None), "table", None) is SurveyVersion.__table__ for column in columns):
        stmt = stmt.join(SurveyVersion, Response.version_id == SurveyVersion.id)
    return stmt.where(*filter_conditions(survey_id, flt))


def count_responses(session: Session, survey_id: int, flt: ResponseFilter) -> int:
    return session.scalar(select_responses(survey_id, flt, func.count(Response.id))) or 0


def answers_hold_value(session: Session, survey_id: int, qid: str, kind: str, value: str) -> bool:
    """Whether any response of the survey — any version, finished or not — holds `value` in its
    answer to `qid`: as the option chosen (`kind` "options"), the matrix row answered ("rows") or
    the column given in a row ("columns")."""
    # The database narrows the search to answers whose stored text mentions the value (as JSON
    # writes it); Python then reads each of those few where in the answer the value must be.
    needles = {json.dumps(value), json.dumps(value, ensure_ascii=False)}
    stored = cast(Response.answers, Text)
    candidates = select(Response.answers).where(
        Response.survey_id == survey_id, or_(*(stored.contains(needle, autoescape=True) for needle in needles))
    )
    with session.execute(candidates, execution_options={"yield_per": BATCH}) as rows:
        for (answers,) in rows:
            answer = (answers or {}).get(qid)
            if kind == "options" and (answer == value or isinstance(answer, list) and value in answer):
                return True
            if kind == "rows" and isinstance(answer, dict) and value in answer:
                return True
            if kind == "columns" and isinstance(answer, dict) and value in answer.values():
                return True
    return False


def versions_in(session: Session, survey: Survey, flt: ResponseFilter) -> dict[int, dict]:
    """Number -> definition of the versions the selected responses answered; when none are
    selected, the version asked for, else the current one, so the columns are still known."""
    # One probe per version (a survey has a few), each stopping at its first response, rather
    # than reading every response to list the versions they answered.
    numbers = {
        version.number
        for version in survey.versions
        if (flt.version is None or flt.version == version.number)
        and session.scalar(select_responses(survey.id, flt, Response.id).where(Response.version_id == version.id).limit(1))
        is not None
    }
    if not numbers and survey.versions:
        numbers = {flt.version if flt.version is not None else survey.current_version.number}
    return {v.number: v.definition for v in survey.versions if v.number in numbers}


# Where the reader came from, in the order of the exports' metadata columns.
TRACKING_COLUMNS = (
    Response.utm_source,
    Response.utm_medium,
    Response.utm_campaign,
    Response.utm_term,
    Response.utm_content,
    Response.referrer_url,
)


def stream_responses(session: Session, survey_id: int, flt: ResponseFilter):
    """(id, version number, started_at, submitted_at, sight_plus, answers) of each selected
    response, oldest first, fetched in batches so memory does not grow with the survey."""
    stmt = select_responses(
        survey_id,
        flt,
        Response.id,
        SurveyVersion.number,
        Response.started_at,
        Response.submitted_at,
        Response.sight_plus,
        Response.answers,
    ).order_by(Response.id)
    # Core rows straight from the connection: the ORM's per-row loading is not needed for columns.
    yield from session.connection().execute(stmt.execution_options(yield_per=BATCH))


def duration_seconds(started_at: datetime, submitted_at: datetime | None) -> int | None:
    if submitted_at is None:
        return None
    return int((submitted_at - started_at).total_seconds())


def median(values: list[int]) -> int | None:
    return round(statistics.median(values)) if values else None


def describe_duration(seconds: int | None, promise_minutes: int) -> str:
    """E.g. "1 min 52 s, within the 2 minutes promised": each survey's invitation makes its promise."""
    if seconds is None:
        return "no finished responses yet"
    minutes, rest = divmod(seconds, 60)
    text = f"{minutes} min {rest} s" if minutes else f"{rest} s"
    verdict = "within" if seconds <= promise_minutes * 60 else "over"
    unit = "minute" if promise_minutes == 1 else "minutes"
    return f"{text}, {verdict} the {promise_minutes} {unit} promised"


# --- results per question -----------------------------------------------------------------


@dataclass
class Bar:
    label: str
    count: int
    percent: float  # of the responses that answered the question
    value: str = ""  # the stored value (for a rating, its point)

    @property
    def share(self) -> float:
        return self.percent / 100


@dataclass
class MatrixRow:
    label: str
    answered: int
    cells: list[Bar]


@dataclass
class NumberSummary:
    minimum: float
    median: float
    mean: float
    maximum: float


@dataclass
class QuestionResult:
    id: str
    type: str
    label: str
    answered: int = 0
    bars: list[Bar] = field(default_factory=list)
    matrix_columns: list[str] = field(default_factory=list)
    matrix_rows: list[MatrixRow] = field(default_factory=list)
    numbers: NumberSummary | None = None
    # The latest few free-text answers, newest first (for text questions and "Other" texts).
    latest_texts: list[str] = field(default_factory=list)
    other_count: int = 0

    @property
    def kind(self) -> str:
        if self.type in walk.CHOICE_TYPES or self.type == "rating":
            return "bars"
        if self.type == "matrix":
            return "matrix"
        if self.type == "number":
            return "number"
        return "text"


@dataclass
class DayCount:
    day: date
    count: int


@dataclass
class SurveyResults:
    total: int
    median_seconds: int | None
    questions: list[QuestionResult]
    per_day: list[DayCount]
    promise_minutes: int

    @property
    def duration_text(self) -> str:
        return describe_duration(self.median_seconds, self.promise_minutes)


def _percent(count: int, base: int) -> float:
    return count * 100 / base if base else 0.0


def texts_given(question: walk.MergedQuestion, answers: dict) -> list[str]:
    """What one response gives a question as text, in order: an answer that is no choice, grid
    or number (a text question's, or an old version's of a question whose type changed), then
    its "Other" text."""
    answer = answers.get(question.id)
    if answer is None or answer == "" or answer == [] or answer == {}:
        return []
    kind = question.type
    plain = kind in walk.CHOICE_TYPES or kind == "rating" or kind == "multiple_choice"
    plain = plain or (kind == "matrix" and isinstance(answer, dict))
    plain = plain or (kind == "number" and isinstance(answer, int | float))
    texts = [] if plain else [str(answer)]
    other = answers.get(f"{question.id}_other")
    if other:
        texts.append(str(other))
    return texts


class _Tally:
    """Running counts for one question while the responses stream past."""

    def __init__(self, question: walk.MergedQuestion):
        self.question = question
        self.answered = 0
        self.counts: Counter = Counter()
        self.rows: dict[str, Counter] = {}
        self.row_answered: Counter = Counter()
        # Number -> how many gave it: a million answers are a few hundred distinct numbers.
        self.numbers: Counter = Counter()
        self.texts: deque[str] = deque(maxlen=3)
        self.other_count = 0

    def add(self, answers: dict) -> None:
        qid, kind = self.question.id, self.question.type
        answer = answers.get(qid)
        if answer is None or answer == "" or answer == [] or answer == {}:
            return
        self.answered += 1
        if kind == "multiple_choice":
            self.counts.update(str(v) for v in (answer if isinstance(answer, list) else [answer]))
        elif kind in walk.CHOICE_TYPES or kind == "rating":
            self.counts[str(answer)] += 1
        elif kind == "matrix" and isinstance(answer, dict):
            for row, column in answer.items():
                self.rows.setdefault(str(row), Counter())[str(column)] += 1
                self.row_answered[str(row)] += 1
        elif kind == "number" and isinstance(answer, int | float):
            self.numbers[answer] += 1
        if answers.get(f"{qid}_other"):
            self.other_count += 1
        self.texts.extend(texts_given(self.question, answers))

    def result(self) -> QuestionResult:
        q = self.question
        result = QuestionResult(q.id, q.type, q.label, answered=self.answered, other_count=self.other_count)
        result.latest_texts = list(reversed(self.texts))
        if q.type in walk.CHOICE_TYPES:
            pairs = q.options()
        elif q.type == "rating":
            points = walk.merge_pairs([(str(p), str(p)) for p in walk.rating_points(v)] for v in q.by_version.values())
            pairs = sorted(points, key=lambda pair: int(pair[0]))
        else:
            pairs = []
        known = {value for value, _ in pairs}
        # A stored value no version offers still counts, under its own name.
        pairs += [(value, value) for value in self.counts if value not in known]
        result.bars = [
            Bar(label, self.counts[value], _percent(self.counts[value], self.answered), value) for value, label in pairs
        ]
        if q.type == "matrix":
            columns = q.columns()
            result.matrix_columns = [label for _, label in columns]
            for row, row_label in q.rows():
                counts, base = self.rows.get(row, Counter()), self.row_answered[row]
                cells = [Bar(label, counts[value], _percent(counts[value], base)) for value, label in columns]
                result.matrix_rows.append(MatrixRow(row_label, base, cells))
        if self.numbers:
            result.numbers = NumberSummary(
                min(self.numbers), median_of_counts(self.numbers), mean_of_counts(self.numbers), max(self.numbers)
            )
        return result


def survey_results(session: Session, survey: Survey, flt: ResponseFilter, zone: tzinfo) -> SurveyResults:
    """Counts and percentages per question (of those who answered it), responses per local day,
    and the median time to finish, over the responses `flt` selects."""
    merged = walk.merge_questions(versions_in(session, survey, flt))
    tallies = [_Tally(q) for q in merged]
    per_day: Counter = Counter()
    durations: list[int] = []
    total = 0
    for _id, _number, started_at, submitted_at, _plus, answers in stream_responses(session, survey.id, flt):
        total += 1
        per_day[(submitted_at or started_at).astimezone(zone).date()] += 1
        seconds = duration_seconds(started_at, submitted_at)
        if seconds is not None:
            durations.append(seconds)
        for tally in tallies:
            tally.add(answers or {})
    days: list[DayCount] = []
    if per_day:
        day, last = min(per_day), max(per_day)
        while day <= last:
            days.append(DayCount(day, per_day[day]))
            day += timedelta(days=1)
    return SurveyResults(total, median(durations), [t.result() for t in tallies], days, survey.promise_minutes)


# --- free-text answers ----------------------------------------------------------------------


@dataclass
class TextAnswer:
    response_id: int
    when: datetime
    text: str


@dataclass
class TextPage:
    answers: list[TextAnswer]
    total: int  # matching answers, over all pages
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def text_answers(
    session: Session, survey_id: int, flt: ResponseFilter, field_name: str, search: str, page: int, per_page: int = 25
) -> TextPage:
    """One page of the answers to a text field (a question id or `ID_other`), newest first,
    keeping those in which every word of `search` begins a word (surveys.search). Finished
    responses are searched through the word index, which the caller has refreshed
    (surveys.tallies.refresh_tallies)."""
    terms = search_terms(search)
    first = (page - 1) * per_page
    if terms and flt.status == "finished":
        # The index holds the survey's finished responses only, so the matches drive the
        # query: "survey_id = ?" is left out, or SQLite would walk every response of the survey.
        matching = matching_responses(survey_id, field_name, terms)
        shown_columns = (Response.id, Response.started_at, Response.submitted_at, Response.answers)
        if flt == ResponseFilter():
            hits = matching.subquery()
            total = session.scalar(select(func.count()).select_from(hits)) or 0
            on_page = select(hits.c.response_id).order_by(hits.c.response_id.desc()).offset(first).limit(per_page)
            newest = session.execute(select(*shown_columns).where(Response.id.in_(on_page)).order_by(Response.id.desc()))
        else:
            conditions = [Response.id.in_(matching), *filter_conditions(survey_id, flt)]
            total = session.scalar(select(func.count(Response.id)).where(*conditions)) or 0
            newest = session.execute(
                select(*shown_columns).where(*conditions).order_by(Response.id.desc()).offset(first).limit(per_page)
            )
        shown = [
            TextAnswer(response_id, submitted_at or started_at, text)
            for response_id, started_at, submitted_at, answers in newest
            if (text := text_value(answers or {}, field_name)) is not None
        ]
        return TextPage(shown, total, page, per_page)
    matched: deque[TextAnswer] = deque()
    total = 0
    # Newest first means the page is counted from the end: keep a window of the answers that
    # could still fall on it rather than every answer.
    for response_id, _number, started_at, submitted_at, _plus, answers in stream_responses(session, survey_id, flt):
        text = text_value(answers or {}, field_name)
        if text is None or (terms and not matches(text, terms)):
            continue
        total += 1
        matched.append(TextAnswer(response_id, submitted_at or started_at, text))
        if len(matched) > first + per_page:
            matched.popleft()
    newest_first = list(reversed(matched))
    return TextPage(newest_first[first : first + per_page], total, page, per_page)


def text_fields(survey: Survey) -> dict[str, str]:
    """Field name -> what staff know it as, for every free-text field any version has."""
    fields: dict[str, str] = {}
    definitions = {v.number: v.definition for v in survey.versions}
    for q in walk.merge_questions(definitions):
        if q.type in walk.TEXT_TYPES:
            fields[q.id] = q.label
        if q.has_other:
            fields[f"{q.id}_other"] = f"{q.label} ({walk.OTHER_LABEL})"
    return fields


# --- the staff dashboard --------------------------------------------------------------------


@dataclass
class VersionTime:
    number: int
    finished: int
    median_seconds: int | None


@dataclass
class SurveyActivity:
    slug: str
    title: str
    total: int
    this_week: int
    median_seconds: int | None
    promise_minutes: int
    # Each version with finished responses, newest first: a new version may take longer.
    versions: list[VersionTime] = field(default_factory=list)

    @property
    def duration_text(self) -> str:
        return describe_duration(self.median_seconds, self.promise_minutes)

    def version_text(self, version: VersionTime) -> str:
        return f"{describe_duration(version.median_seconds, self.promise_minutes)} ({version.finished:,} finished)"


def week_start(now: datetime, zone: tzinfo) -> datetime:
    """Monday 00:00 of `now`'s week in the display time zone, as UTC."""
    local = now.astimezone(zone).date()
    return day_bounds(local - timedelta(days=local.weekday()), None, zone)[0]


# --- where readers came from ----------------------------------------------------------------


@dataclass
class Origins:
    """The most common utm_source values and referring articles of the selected responses."""

    sources: list[Bar]
    articles: list[Bar]


def origin_key(value: str | None) -> str:
    """What a source or referring article is counted under: "" when none was given (empty or
    missing alike), else its first ORIGIN_LENGTH characters, which is what the tallies keep."""
    return (value or "")[:ORIGIN_LENGTH]


def most_common_origins(counts: Mapping[str, int], total: int) -> list[Bar]:
    """The ORIGINS_SHOWN most common keys, ties in the order of their text."""
    ranked = sorted(((key, n) for key, n in counts.items() if n), key=lambda pair: (-pair[1], pair[0]))
    return [Bar(key or NOT_GIVEN, n, _percent(n, total)) for key, n in ranked[:ORIGINS_SHOWN]]


def reader_origins(session: Session, survey_id: int, flt: ResponseFilter) -> Origins:
    """From the responses themselves (surveys.tallies.tallied_origins reads the tallies)."""
    total = count_responses(session, survey_id, flt)

    def counted(column) -> Counter:
        counts: Counter = Counter()
        for value, n in session.execute(select_responses(survey_id, flt, column, func.count(Response.id)).group_by(column)):
            counts[origin_key(value)] += n
        return counts

    return Origins(
        most_common_origins(counted(Response.utm_source), total), most_common_origins(counted(Response.referrer_url), total)
    )


# --- the Sight+ ask on the thank-you page ---------------------------------------------------------


@dataclass
class AskFigures:
    views: int  # thank-you pages that showed the ask
    clicks: int
    gifts: int | None = None  # completed gifts started from it (asked of membership by the view)

    @property
    def click_rate(self) -> str:
        return f"{_percent(self.clicks, self.views):.1f}%" if self.views else "no views yet"


def ask_figures(session: Session, survey_id: int) -> AskFigures:
    tally = session.get(AskTally, survey_id)
    return AskFigures(tally.views, tally.clicks) if tally else AskFigures(0, 0)


def asks_by_slug(session: Session) -> dict[str, AskFigures]:
    """The ask's figures of every survey, for the dashboard."""
    rows = session.execute(select(Survey.slug, AskTally.views, AskTally.clicks).outerjoin(AskTally, AskTally.survey_id == Survey.id))
    return {slug: AskFigures(views or 0, clicks or 0) for slug, views, clicks in rows}
