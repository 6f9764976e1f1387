"""Read models for the staff insight pages: each question's shares with their margins, rating
summaries and the Net Promoter Score; cross-tabs and Sight+ members beside other readers over
the responses a filter selects; one whole response with its neighbours; the charts of them all;
and searched words marked in an answer.

Functions take a session and plain values and only read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from surveys import charts
from surveys.crosstabs import (
    FACT_DIMENSIONS,
    CrossTab,
    CrossTabCounter,
    Dimension,
    ResponseFacts,
    available_dimensions,
    crosstab,
)
from surveys.definition import walk
from surveys.models import Response, Survey, SurveyVersion
from surveys.results import (
    BATCH,
    QuestionResult,
    ResponseFilter,
    SurveyResults,
    duration_seconds,
    select_responses,
)
from surveys.search import search_terms
from surveys.statistics import NetPromoter, RatingSummary, Share, is_nps_question, net_promoter, rating_summary

# --- each question's figures -------------------------------------------------------------------


@dataclass
class QuestionInsight:
    id: str
    base: int  # who answered it
    shares: list[tuple[str, Share]] = field(default_factory=list)
    rating: RatingSummary | None = None
    nps: NetPromoter | None = None
    # A grid: each row's cells as shares of those who answered that row.
    matrix: list[list[Share]] = field(default_factory=list)

    def chart(self, title: str) -> charts.Chart:
        return charts.share_bars(title, self.shares)

    def nps_chart(self, title: str) -> charts.Chart | None:
        if self.nps is None:
            return None
        bands = [self.nps.detractors, self.nps.passives, self.nps.promoters]
        legend = ["Detractors (0–6)", "Passives (7–8)", "Promoters (9–10)"]
        return charts.stacked_bars(title, [("All who answered", self.nps.base, bands)], legend)


def question_insights(results: SurveyResults, definitions: dict[int, dict]) -> dict[str, QuestionInsight]:
    """For each question with answers to count: its shares of those who answered (each with its
    95 % interval), and for ratings the mean, median and distribution, with the NPS when the
    newest version flags the question `nps: true`."""
    newest = {q.id: q.newest for q in walk.merge_questions(definitions)}
    found: dict[str, QuestionInsight] = {}
    for result in results.questions:
        if result.kind == "matrix":
            matrix = [[Share(cell.count, row.answered) for cell in row.cells] for row in result.matrix_rows]
            found[result.id] = QuestionInsight(result.id, result.answered, matrix=matrix)
            continue
        if result.kind != "bars":
            continue
        insight = QuestionInsight(result.id, result.answered)
        insight.shares = [(bar.label, Share(bar.count, result.answered)) for bar in result.bars]
        if result.type == "rating":
            counts = {int(bar.value): bar.count for bar in result.bars}
            insight.rating = rating_summary(walk.rating_points(newest.get(result.id, {})), counts)
            if is_nps_question(newest.get(result.id, {})):
                insight.nps = net_promoter(counts)
        found[result.id] = insight
    return found


@dataclass
class ResultsInsight:
    """What the results page adds to the counts: figures with margins, and charts drawn as SVG."""

    questions: dict[str, QuestionInsight]
    charts: dict[str, Markup]  # "days", "q-ID", "nps-ID"


def results_insight(results: SurveyResults, definitions: dict[int, dict]) -> ResultsInsight:
    questions = question_insights(results, definitions)
    drawn: dict[str, Markup] = {}
    if results.per_day:
        drawn["days"] = charts.to_svg(days_chart(results, "Responses per day"), in_page=True)
    labels = {q.id: q.label for q in results.questions}
    for qid, found in questions.items():
        if question_result(results, qid).kind != "bars":
            continue  # a grid is shown as a table
        drawn[f"q-{qid}"] = charts.to_svg(found.chart(labels[qid]), in_page=True)
        nps = found.nps_chart(f"{labels[qid]}: Net Promoter Score")
        if nps is not None:
            drawn[f"nps-{qid}"] = charts.to_svg(nps, in_page=True)
    return ResultsInsight(questions, drawn)


def question_result(results: SurveyResults, qid: str) -> QuestionResult | None:
    return next((q for q in results.questions if q.id == qid), None)


def days_chart(results: SurveyResults, title: str) -> charts.Chart:
    return charts.day_columns(title, [(d.day, d.count) for d in results.per_day])


# --- cross-tabs -----------------------------------------------------------------------------------


def stream_facts(session: Session, survey_id: int, flt: ResponseFilter, question_ids: list[str]) -> Iterator[ResponseFacts]:
    """What a cross-tab needs of each selected response, fetched in batches: only the answers to
    `question_ids`, taken out of the stored answers by the database rather than decoding them all."""
    answers = [Response.answers[qid].label(qid) for qid in question_ids]
    stmt = select_responses(
        survey_id, flt, SurveyVersion.number, Response.sight_plus, Response.utm_source, *answers
    ).order_by(Response.id)
    for number, sight_plus, source, *values in session.execute(stmt, execution_options={"yield_per": BATCH}):
        found = {qid: value for qid, value in zip(question_ids, values, strict=True) if value is not None}
        yield ResponseFacts(number, sight_plus, source, found)


def dimensions_for(survey: Survey) -> dict[str, Dimension]:
    """What can be crossed: the questions of every version of the survey, and the facts."""
    return available_dimensions({v.number: v.definition for v in survey.versions})


def survey_crosstab(session: Session, survey: Survey, flt: ResponseFilter, rows: str, columns: str) -> CrossTab:
    """Counts and row percentages of `rows` by `columns` (dimension keys) over the selection."""
    dims = dimensions_for(survey)
    asked = [key for key in (rows, columns) if key not in FACT_DIMENSIONS]
    return crosstab(dims[rows], dims[columns], stream_facts(session, survey.id, flt, asked))


def crosstab_chart(table: CrossTab, title: str) -> charts.Chart:
    rows = [(row.label, row.base, [cell.share for cell in row.cells]) for row in table.table]
    return charts.stacked_bars(title, rows, table.column_labels)


@dataclass(frozen=True)
class Comparison:
    """One question's answers, each as a share of every group's answers to the question."""

    id: str
    label: str
    groups: list[tuple[str, int]]  # (group, how many in it answered)
    answers: list[tuple[str, list[Share]]]  # (answer, its share in each group)


def side_by_side_tables(survey: Survey) -> list[tuple[Dimension, Dimension]]:
    """(rows, columns) of each table Sight+ beside other readers shows: Sight+ by every choice
    and rating question."""
    dims = dimensions_for(survey)
    return [(dims["sight_plus"], dimension) for key, dimension in dims.items() if key not in FACT_DIMENSIONS]


def side_by_side(session: Session, survey: Survey, flt: ResponseFilter) -> list[Comparison]:
    """Every choice and rating question for Sight+ members, other signed-in readers and responses
    not linked to an account, counted in one pass over the responses."""
    counters = [CrossTabCounter(rows, columns) for rows, columns in side_by_side_tables(survey)]
    asked = [counter.columns.key for counter in counters]
    for facts in stream_facts(session, survey.id, flt, asked):
        for counter in counters:
            counter.add(facts)
    return comparisons([counter.result() for counter in counters])


def comparisons(tables: list[CrossTab]) -> list[Comparison]:
    """Sight+ by each question, as each answer's share of every group."""
    found = []
    for table in tables:
        groups = {label: 0 for _, label in table.rows.categories}
        cells = {row.label: row for row in table.table}
        groups.update({label: cells[label].base for label in cells})
        answers = []
        for index, answer in enumerate(table.column_labels):
            answers.append(
                (answer, [cells[group].cells[index].share if group in cells else Share(0, 0) for group in groups])
            )
        found.append(Comparison(table.columns.key, table.columns.label, list(groups.items()), answers))
    return found


# --- one response, whole -------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerLine:
    id: str
    question: str
    answer: list[str]  # what the reader chose or wrote, in the labels of their version; empty: not answered
    skipped: bool = False  # their answers hid it (show_if): it was never shown to them


@dataclass
class ResponseDetail:
    id: int
    version: int
    started_at: datetime
    submitted_at: datetime | None
    sight_plus: bool | None
    linked: bool
    source: dict[str, str]  # utm_… and the referring page, where known
    answers: list[AnswerLine]
    # The neighbours among the selected responses, by number (no count of them all: that would
    # read every response of a large survey on each page).
    previous_id: int | None = None
    next_id: int | None = None

    @property
    def duration_seconds(self) -> int | None:
        return duration_seconds(self.started_at, self.submitted_at)


def _answer_text(question: dict, answers: dict) -> list[str]:
    qid, kind = question["id"], question["type"]
    answer = answers.get(qid)
    if answer is None or answer in ("", [], {}):
        return []
    if kind == "matrix" and isinstance(answer, dict):
        rows, columns = dict(walk.matrix_rows(question)), dict(walk.matrix_columns(question))
        return [f"{rows.get(row, row)}: {columns.get(str(column), column)}" for row, column in answer.items()]
    if kind in walk.CHOICE_TYPES:
        chosen = answer if isinstance(answer, list) else [answer]
        lines = [walk.option_label(question, str(value)) for value in chosen]
        other = answers.get(f"{qid}_other")
        return [
            f"{line}: {other}" if value == walk.OTHER_VALUE and other else line
            for line, value in zip(lines, chosen, strict=True)
        ]
    if kind == "rating":
        points = walk.rating_points(question)
        return [f"{answer} (on a scale from {points[0]} to {points[-1]})"]
    return [str(answer)]


def labelled_answers(definition: dict, answers: dict) -> list[AnswerLine]:
    """Every question of the version, in order, with the answer in that version's labels, and
    whether skip logic hid it from this reader."""
    skipped = walk.skipped_questions(definition, answers)
    return [
        AnswerLine(q["id"], q["label"], _answer_text(q, answers), q["id"] in skipped) for q in walk.iter_questions(definition)
    ]


SOURCE_FIELDS = {
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "utm_term": "utm_term",
    "utm_content": "utm_content",
    "referrer_url": "Referring page",
}


def first_response_id(session: Session, survey: Survey, flt: ResponseFilter) -> int | None:
    """The oldest response `flt` selects: where reading them one by one starts."""
    return session.scalar(select_responses(survey.id, flt, Response.id).order_by(Response.id).limit(1))


def response_detail(session: Session, survey: Survey, response_id: int, flt: ResponseFilter) -> ResponseDetail | None:
    """One response of this survey with every answer, and its place among the responses `flt`
    selects (previous and next by number); None when there is no such response."""
    response = session.get(Response, response_id)
    if response is None or response.survey_id != survey.id:
        return None
    version = session.get(SurveyVersion, response.version_id)
    source = {
        label: str(getattr(response, name))
        for name, label in SOURCE_FIELDS.items()
        if getattr(response, name, None)
    }
    detail = ResponseDetail(
        id=response.id,
        version=version.number,
        started_at=response.started_at,
        submitted_at=response.submitted_at,
        sight_plus=response.sight_plus,
        linked=response.user_id is not None,
        source=source,
        answers=labelled_answers(version.definition, response.answers or {}),
    )
    selected = select_responses(survey.id, flt, Response.id)
    detail.previous_id = session.scalar(selected.where(Response.id < response_id).order_by(Response.id.desc()).limit(1))
    detail.next_id = session.scalar(selected.where(Response.id > response_id).order_by(Response.id).limit(1))
    return detail


# --- search highlight ------------------------------------------------------------------------------


def highlight_words(text: str, query: str | None) -> Markup:
    """The text, escaped, with each word that the search matched marked (<mark>): as the search
    does (surveys.search), a word matches when it begins with a word searched for, whatever the case."""
    terms = search_terms(query or "")
    if not terms:
        return Markup(escape(text))
    alternatives = "|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True))
    pattern = re.compile(rf"(?<!\w)(?:{alternatives})\w*", re.IGNORECASE)
    parts: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        parts += [escape(text[last : match.start()]), Markup("<mark>"), escape(match.group()), Markup("</mark>")]
        last = match.end()
    parts.append(escape(text[last:]))
    return Markup("").join(parts)
