"""Read models for the staff insight pages: each question's shares with their margins, rating
summaries and the Net Promoter Score; cross-tabs and Sight+ members beside other readers over
the responses a filter selects; one whole response with its neighbours; the charts of them all;
and each survey's median time to finish against its promise.

Functions take a session and plain values and only read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.orm import Session

from surveys import charts
from surveys.crosstabs import FACT_DIMENSIONS, CrossTab, CrossTabCounter, ResponseFacts, available_dimensions, crosstab
from surveys.definition import walk
from surveys.models import Response, Survey, SurveyVersion
from surveys.results import (
    BATCH,
    QuestionResult,
    ResponseFilter,
    SurveyResults,
    duration_seconds,
    select_responses,
    versions_in,
)
from surveys.statistics import NetPromoter, RatingSummary, Share, is_nps_question, net_promoter, rating_summary

# --- each question's figures -------------------------------------------------------------------


@dataclass
class QuestionInsight:
    id: str
    base: int  # who answered it
    shares: list[tuple[str, Share]] = field(default_factory=list)
    rating: RatingSummary | None = None
    nps: NetPromoter | None = None

    def chart(self, title: str) -> charts.Chart:
        return charts.share_bars(title, self.shares)

    def nps_chart(self, title: str) -> charts.Chart | None:
        if self.nps is None:
            return None
        bands = [self.nps.detractors, self.nps.passives, self.nps.promoters]
        return charts.stacked_bars(title, [("All who answered", self.nps.base, bands)], ["Detractors (0–6)", "Passives (7–8)", "Promoters (9–10)"])


def question_insights(results: SurveyResults, definitions: dict[int, dict]) -> dict[str, QuestionInsight]:
    """For each question with answers to count: its shares of those who answered (each with its
    95 % interval), and for ratings the mean, median and distribution, with the NPS when the
    newest version flags the question `nps: true`."""
    newest = {q.id: q.newest for q in walk.merge_questions(definitions)}
    found: dict[str, QuestionInsight] = {}
    for result in results.questions:
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


def question_result(results: SurveyResults, qid: str) -> QuestionResult | None:
    return next((q for q in results.questions if q.id == qid), None)


def days_chart(results: SurveyResults, title: str) -> charts.Chart:
    return charts.day_columns(title, [(d.day, d.count) for d in results.per_day])


# --- cross-tabs -----------------------------------------------------------------------------------


def stream_facts(session: Session, survey_id: int, flt: ResponseFilter) -> Iterator[ResponseFacts]:
    """What a cross-tab needs of each selected response, fetched in batches."""
    stmt = select_responses(
        survey_id, flt, SurveyVersion.number, Response.sight_plus, Response.utm_source, Response.answers
    ).order_by(Response.id)
    for number, sight_plus, source, answers in session.execute(stmt, execution_options={"yield_per": BATCH}):
        yield ResponseFacts(number, sight_plus, source, answers or {})


def dimensions_for(session: Session, survey: Survey, flt: ResponseFilter):
    return available_dimensions(versions_in(session, survey, flt))


def survey_crosstab(session: Session, survey: Survey, flt: ResponseFilter, rows: str, columns: str) -> CrossTab:
    """Counts and row percentages of `rows` by `columns` (dimension keys) over the selection."""
    dims = dimensions_for(session, survey, flt)
    return crosstab(dims[rows], dims[columns], stream_facts(session, survey.id, flt))


def crosstab_chart(table: CrossTab, title: str) -> charts.Chart:
    rows = [(row.label, row.base, [cell.share for cell in row.cells]) for row in table.table]
    return charts.stacked_bars(title, rows, table.column_labels)


def side_by_side(session: Session, survey: Survey, flt: ResponseFilter) -> list[CrossTab]:
    """Every choice and rating question by Sight+ (members, other signed-in readers, readers
    not signed in), counted in one pass over the responses."""
    dims = dimensions_for(session, survey, flt)
    counters = [
        CrossTabCounter(dimension, dims["sight_plus"]) for key, dimension in dims.items() if key not in FACT_DIMENSIONS
    ]
    for facts in stream_facts(session, survey.id, flt):
        for counter in counters:
            counter.add(facts)
    return [counter.result() for counter in counters]


# --- one response, whole -------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerLine:
    id: str
    question: str
    answer: list[str]  # what the reader chose or wrote, in the labels of their version; empty: not answered


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
    previous_id: int | None = None
    next_id: int | None = None
    position: int = 0  # of `total` selected responses, oldest first
    total: int = 0

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
        return [f"{line}: {other}" if value == walk.OTHER_VALUE and other else line for line, value in zip(lines, chosen, strict=True)]
    if kind == "rating":
        points = walk.rating_points(question)
        return [f"{answer} (on a scale from {points[0]} to {points[-1]})"]
    return [str(answer)]


def labelled_answers(definition: dict, answers: dict) -> list[AnswerLine]:
    """Every question of the version, in order, with the answer in that version's labels."""
    return [AnswerLine(q["id"], q["label"], _answer_text(q, answers)) for q in walk.iter_questions(definition)]


SOURCE_FIELDS = {
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "utm_term": "utm_term",
    "utm_content": "utm_content",
    "referrer_url": "Referring page",
}


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
    count = select_responses(survey.id, flt, func.count(Response.id))
    detail.total = session.scalar(count) or 0
    detail.position = session.scalar(count.where(Response.id <= response_id)) or 0
    return detail
