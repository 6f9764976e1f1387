"""Results from tallies: counts per question, option, matrix cell, number, finishing time, source
and referring article, by local day (`survey_tally`) and again by local month
(`survey_month_tally`), so that the results page, the dashboard and the cross-tabs by Sight+ or
version add up the whole months of a range and the days at its ends instead of reading every
response.

The words of free-text answers are indexed for search (surveys.search) in the same steps.

Tallies are materialised and refreshed incrementally. A finished response starts untallied
(`Response.tallied` is false); `refresh_tallies` claims untallied responses with one UPDATE …
RETURNING (so that two refreshes never count one response twice) and adds what they say. Code
that changes or deletes a finished response calls `untally` first, which takes its counts back
out and leaves it untallied, to be counted again as it then stands.

Days are local days in one time zone (the display zone), recorded with each tally; when the zone
changes, the survey's tallies are counted again from scratch. Filters tallies cannot answer —
unfinished responses, bounds that are not the zone's midnights, a source — fall back to reading the
responses (`results.survey_results`).
"""

from __future__ import annotations

import json
from collections import Counter, deque
from datetime import date, datetime, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import delete, false, func, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from surveys.crosstabs import FACT_DIMENSIONS, CrossTab, CrossTabCounter, Dimension
from surveys.definition import walk
from surveys.insight import Comparison, comparisons, dimensions_for, side_by_side, side_by_side_tables, survey_crosstab
from surveys.models import Response, Survey, SurveyAnswerWord, SurveyMonthTally, SurveyTally, SurveyVersion
from surveys.search import forget_words, index_words, text_field_names
from surveys.statistics import median_of_counts
from surveys.results import (
    DayCount,
    Origins,
    ResponseFilter,
    SurveyActivity,
    SurveyResults,
    VersionTime,
    _Tally,
    day_bounds,
    duration_seconds,
    most_common_origins,
    origin_key,
    reader_origins,
    select_responses,
    survey_results,
    texts_given,
    week_start,
)

# Special fields beside question ids (which never start with "#").
RESPONSES = "#responses"
SECONDS = "#seconds"
# Where readers came from: utm_source and the referring article (results.origin_key).
SOURCE = "#source"
ARTICLE = "#article"
# The value under which a question's (or a matrix row's) number of answers is kept.
ANSWERED = ""
# Responses claimed and counted per statement.
BATCH = 1000
# The latest free-text answers shown with results come from this many newest responses.
LATEST_TEXTS_WINDOW = 5000


def _plus_key(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def question_kinds(definition: dict) -> list[tuple[str, str]]:
    """(id, type) of each question of a version, walked once per version rather than per response."""
    return [(question["id"], question["type"]) for question in walk.questions(definition)]


def contributions(questions: list[tuple[str, str]], answers: dict):
    """Each (field, value) one response adds 1 to, following `results._Tally.add`."""
    for qid, kind in questions:
        answer = answers.get(qid)
        if answer is None or answer == "" or answer == [] or answer == {}:
            continue
        yield qid, ANSWERED
        if kind == "multiple_choice":
            for value in answer if isinstance(answer, list) else [answer]:
                yield qid, str(value)
        elif kind in walk.CHOICE_TYPES or kind == "rating":
            yield qid, str(answer)
        elif kind == "matrix" and isinstance(answer, dict):
            for row, column in answer.items():
                yield f"{qid}[{row}]", str(column)
                yield f"{qid}[{row}]", ANSWERED
        elif kind == "number" and isinstance(answer, int | float):
            yield qid, json.dumps(answer)
        if answers.get(f"{qid}_other"):
            yield f"{qid}_other", ANSWERED


def _upsert(session: Session, model: type[SurveyTally] | type[SurveyMonthTally], period: str, rows: list[dict]) -> None:
    if not rows:
        return
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    # Core rather than the ORM's bulk insert: the same statement, without its per-row work.
    statement = dialect.insert(model.__table__)
    statement = statement.on_conflict_do_update(
        index_elements=["survey_id", "zone", "version_number", period, "sight_plus", "field", "value"],
        set_={"count": model.__table__.c.count + statement.excluded.count},
    )
    session.connection().execute(statement, rows)


def _first_of_month(day: date) -> date:
    return day.replace(day=1)


def _add(session: Session, claimed, zone_name: str, sign: int) -> int:
    """Add (sign 1) or take back (sign -1) what the claimed responses say; returns how many."""
    zone = ZoneInfo(zone_name)
    versions: dict[int, tuple[int, list[tuple[str, str]], list[str]]] = {}
    totals: Counter = Counter()
    survey_id = None
    count = 0
    indexed = []
    for response_id, survey_id, version_id, started_at, submitted_at, plus, answers, source, article in claimed:
        if version_id not in versions:
            version = session.get(SurveyVersion, version_id)
            versions[version_id] = (version.number, question_kinds(version.definition), text_field_names(version.definition))
        number, questions, text_fields = versions[version_id]
        key = (survey_id, number, submitted_at.astimezone(zone).date(), _plus_key(plus))
        totals[key + (RESPONSES, ANSWERED)] += 1
        totals[key + (SECONDS, str(duration_seconds(started_at, submitted_at)))] += 1
        totals[key + (SOURCE, origin_key(source))] += 1
        totals[key + (ARTICLE, origin_key(article))] += 1
        for pair in contributions(questions, answers or {}):
            totals[key + pair] += 1
        indexed.append((survey_id, response_id, text_fields, answers or {}))
        count += 1
    monthly: Counter = Counter()
    for (s, v, d, p, f, x), n in totals.items():
        monthly[s, v, _first_of_month(d), p, f, x] += n
    for model, period, counts in ((SurveyTally, "day", totals), (SurveyMonthTally, "month", monthly)):
        rows = [
            {"survey_id": s, "zone": zone_name, "version_number": v, period: d, "sight_plus": p, "field": f, "value": x, "count": sign * n}
            for (s, v, d, p, f, x), n in counts.items()
        ]
        _upsert(session, model, period, rows)
        if sign < 0 and survey_id is not None:
            session.execute(delete(model).where(model.survey_id == survey_id, model.count == 0))
    if sign > 0:
        index_words(session, indexed)
    return count


_CLAIMED = (
    Response.id,
    Response.survey_id,
    Response.version_id,
    Response.started_at,
    Response.submitted_at,
    Response.sight_plus,
    Response.answers,
    Response.utm_source,
    Response.referrer_url,
)


def _tally_zones(session: Session, survey_id: int) -> set[str]:
    # The months hold the same zones as the days, in a thirtieth of the rows.
    return set(session.scalars(select(SurveyMonthTally.zone).where(SurveyMonthTally.survey_id == survey_id).distinct()))


def _counted_in_another_zone(session: Session, survey_id: int, zone_name: str) -> bool:
    """Two probes of the month tallies' key (survey, zone, …), rather than listing the zones."""
    return any(
        session.scalar(select(SurveyMonthTally.id).where(SurveyMonthTally.survey_id == survey_id, other).limit(1)) is not None
        for other in (SurveyMonthTally.zone < zone_name, SurveyMonthTally.zone > zone_name)
    )


def _untallied(survey_id: int):
    return Response.survey_id == survey_id, Response.tallied == false(), Response.submitted_at.is_not(None)


def untallied_count(session: Session, survey_id: int) -> int:
    """How many finished responses the next refresh has to count (for a job's progress)."""
    return session.scalar(select(func.count()).select_from(Response).where(*_untallied(survey_id)))


def refresh_tallies(session: Session, survey_id: int, zone_name: str, *, limit: int | None = None) -> int:
    """Count every finished response not yet counted, or about `limit` of them (whole batches);
    returns how many were added. The caller commits."""
    if _counted_in_another_zone(session, survey_id, zone_name):
        # Days were counted in another zone: count the whole survey again in this one.
        session.execute(delete(SurveyTally).where(SurveyTally.survey_id == survey_id))
        session.execute(delete(SurveyMonthTally).where(SurveyMonthTally.survey_id == survey_id))
        session.execute(delete(SurveyAnswerWord).where(SurveyAnswerWord.survey_id == survey_id))
        session.execute(
            update(Response)
            .where(Response.survey_id == survey_id, Response.tallied == true())
            .values(tallied=False)
            .execution_options(synchronize_session=False)
        )
    elif session.scalar(select(Response.id).where(*_untallied(survey_id)).limit(1)) is None:
        # Nothing new: a read, so that looking at results takes no write lock.
        return 0
    added = 0
    while True:
        pending = select(Response.id).where(*_untallied(survey_id)).limit(BATCH).scalar_subquery()
        # One statement claims and reads: a concurrent refresh skips the rows claimed here.
        claimed = session.execute(
            update(Response)
            .where(Response.id.in_(pending), Response.tallied == false())
            .values(tallied=True)
            .returning(*_CLAIMED)
            .execution_options(synchronize_session=False)
        ).all()
        if not claimed:
            return added
        added += _add(session, claimed, zone_name, 1)
        if limit is not None and added >= limit:
            return added


def untally(session: Session, response_ids: list[int]) -> None:
    """Take these responses' counts out of the tallies before their answers change or they are
    deleted; a response that stays is counted again, as it then stands, by the next refresh."""
    for first in range(0, len(response_ids), BATCH):
        claimed = session.execute(
            update(Response)
            .where(Response.id.in_(response_ids[first : first + BATCH]), Response.tallied == true())
            .values(tallied=False)
            .returning(*_CLAIMED)
            .execution_options(synchronize_session=False)
        ).all()
        forget_words(session, [row.id for row in claimed])
        by_survey: dict[int, list] = {}
        for row in claimed:
            by_survey.setdefault(row.survey_id, []).append(row)
        for survey_id, rows in by_survey.items():
            zones = _tally_zones(session, survey_id)
            if len(zones) == 1:
                _add(session, rows, zones.pop(), -1)


# --- reading them ----------------------------------------------------------------------------


def _local_day(bound: datetime | None, zone: tzinfo) -> date | None | bool:
    """The local day that starts at `bound`, None for no bound, False when it is not a midnight."""
    if bound is None:
        return None
    day = bound.astimezone(zone).date()
    return day if day_bounds(day, None, zone)[0] == bound else False


def answerable(flt: ResponseFilter, zone: tzinfo) -> bool:
    # Tallies are kept by version, day and Sight+; where a reader came from is not among them.
    return flt.status == "finished" and flt.utm_source is None and _local_day(flt.since, zone) is not False and _local_day(flt.until, zone) is not False


def _may_have_texts(question: walk.MergedQuestion) -> bool:
    """A text question, one with "Other", or one whose type changed between versions (an old
    version's answer may then be no choice or number of the newest type)."""
    kinds = {asked.get("type") for asked in question.by_version.values()}
    return question.has_other or bool(kinds & walk.TEXT_TYPES) or kinds != {question.type}


def _latest_texts(session: Session, survey: Survey, flt: ResponseFilter, tallies: list[_Tally]) -> None:
    """The newest few free-text answers per question, from the newest responses only."""
    newest = (
        select_responses(survey.id, flt, Response.answers)
        .order_by(Response.id.desc())
        .limit(LATEST_TEXTS_WINDOW)
    )
    # Only these can be given a text (answers are checked against their version's question), so
    # the walk stops as soon as each has its few, instead of reading the whole window for the
    # choice questions, which never get one.
    pending = {id(t): t for t in tallies if _may_have_texts(t.question)}
    if not pending:
        return
    # Closed on the way out: stopping early leaves a server-side cursor open on PostgreSQL.
    with session.execute(newest, execution_options={"yield_per": 100}) as rows:
        for (answers,) in rows:
            answers = answers or {}
            for key, tally in list(pending.items()):
                # Walking back from the newest, so each response's texts go in front, last first.
                for text in reversed(texts_given(tally.question, answers)):
                    if len(tally.texts) < tally.texts.maxlen:
                        tally.texts.appendleft(text)
                if len(tally.texts) == tally.texts.maxlen:
                    del pending[key]
            if not pending:
                return


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _periods(since: date | None, until: date | None) -> tuple[tuple[date | None, date | None] | None, list[tuple[date | None, date | None]]]:
    """Local days `since <= day < until` (None: no bound) as the whole months within them,
    read from the month tallies, and the days left at either end, read from the day tallies."""
    first_month = since if since is None or since.day == 1 else _next_month(since)
    end_month = until if until is None else _first_of_month(until)
    if first_month is not None and end_month is not None and first_month >= end_month:
        return None, [(since, until)]
    days = []
    if since is not None and since < first_month:
        days.append((since, first_month))
    if until is not None and end_month < until:
        days.append((end_month, until))
    return (first_month, end_month), days


def _within(model, period, survey_id: int, zone_name: str, flt: ResponseFilter, first: date | None, end: date | None) -> list:
    conditions = [model.survey_id == survey_id, model.zone == zone_name]
    if first is not None:
        conditions.append(period >= first)
    if end is not None:
        conditions.append(period < end)
    if flt.version is not None:
        conditions.append(model.version_number == flt.version)
    if flt.sight_plus is not None:
        conditions.append(model.sight_plus == _plus_key(flt.sight_plus))
    return conditions


def _summed_counts(
    session: Session, survey_id: int, zone_name: str, flt: ResponseFilter, since: date | None, until: date | None, fields=None
) -> Counter:
    """(version number, Sight+ key, field, value) -> count over the local days
    `since <= day < until`, of every field or of `fields`."""
    months, days = _periods(since, until)
    parts = [(SurveyMonthTally, SurveyMonthTally.month, *months)] if months else []
    parts += [(SurveyTally, SurveyTally.day, first, end) for first, end in days]
    summed: Counter = Counter()
    for model, period, first, end in parts:
        conditions = _within(model, period, survey_id, zone_name, flt, first, end)
        if fields is not None:
            conditions.append(model.field.in_(fields))
        rows = session.execute(
            select(model.version_number, model.sight_plus, model.field, model.value, func.sum(model.count))
            .where(*conditions)
            .group_by(model.version_number, model.sight_plus, model.field, model.value)
        )
        for number, plus, field, value, count in rows:
            summed[number, plus, field, value] += int(count)
    return summed


def tallied_results(session: Session, survey: Survey, flt: ResponseFilter, zone: tzinfo, zone_name: str) -> SurveyResults:
    """What `results.survey_results` says, from the tallies (refreshed by the caller) where they
    can answer `flt`, else from the responses themselves."""
    if not answerable(flt, zone):
        return survey_results(session, survey, flt, zone)
    since, until = _local_day(flt.since, zone), _local_day(flt.until, zone)
    summed = _summed_counts(session, survey.id, zone_name, flt, since, until)
    numbers = {number for (number, _plus, field, _value), count in summed.items() if field == RESPONSES and count}
    if not numbers and survey.versions:
        numbers = {flt.version if flt.version is not None else survey.current_version.number}
    merged = walk.merge_questions({v.number: v.definition for v in survey.versions if v.number in numbers})
    per_field: dict[str, dict[str, int]] = {}
    for (_number, _plus, field, value), count in summed.items():
        if count and field != RESPONSES:
            values = per_field.setdefault(field, {})
            values[value] = values.get(value, 0) + count
    per_day = session.execute(
        select(SurveyTally.day, func.sum(SurveyTally.count))
        .where(*_within(SurveyTally, SurveyTally.day, survey.id, zone_name, flt, since, until), SurveyTally.field == RESPONSES)
        .group_by(SurveyTally.day)
        .order_by(SurveyTally.day)
    ).all()
    tallies = [_tally_from_counts(q, per_field) for q in merged]
    _latest_texts(session, survey, flt, tallies)
    days: list[DayCount] = []
    counted = {day: int(count) for day, count in per_day if count}
    if counted:
        day, last = min(counted), max(counted)
        while day <= last:
            days.append(DayCount(day, counted.get(day, 0)))
            day = date.fromordinal(day.toordinal() + 1)
    seconds = {int(value): count for value, count in per_field.get(SECONDS, {}).items()}
    return SurveyResults(
        sum(counted.values()), _median_of_counts(seconds), [t.result() for t in tallies], days, survey.promise_minutes
    )


def tallied_origins(session: Session, survey: Survey, flt: ResponseFilter, zone: tzinfo, zone_name: str) -> Origins:
    """What `results.reader_origins` says, from the tallies (refreshed by the caller) where they
    can answer `flt`, else from the responses themselves."""
    if not answerable(flt, zone):
        return reader_origins(session, survey.id, flt)
    since, until = _local_day(flt.since, zone), _local_day(flt.until, zone)
    summed = _summed_counts(session, survey.id, zone_name, flt, since, until, fields=[RESPONSES, SOURCE, ARTICLE])
    per_field: dict[str, Counter] = {RESPONSES: Counter(), SOURCE: Counter(), ARTICLE: Counter()}
    for (_number, _plus, field, value), count in summed.items():
        per_field[field][value] += count
    total = sum(per_field[RESPONSES].values())
    return Origins(most_common_origins(per_field[SOURCE], total), most_common_origins(per_field[ARTICLE], total))


# The cross-tab categories of the facts the tallies are kept by (surveys.crosstabs).
_FACTS = {
    "sight_plus": lambda number, plus: {"yes": "yes", "no": "no", "": "unknown"}[plus],
    "version": lambda number, plus: str(number),
}


def _crossable(survey: Survey, rows: Dimension, columns: Dimension) -> bool:
    """Whether the tallies can count this cross-tab: one side a fact they are kept by (Sight+,
    version), the other such a fact too or a question asked with one type by every version
    (an old version's answer of another type is counted otherwise than a cross-tab reads it)."""
    questions = [d.key for d in (rows, columns) if d.key not in _FACTS]
    if any(d.key in FACT_DIMENSIONS and d.key not in _FACTS for d in (rows, columns)) or len(questions) > 1:
        return False
    merged = {q.id: q for q in walk.merge_questions({v.number: v.definition for v in survey.versions})}
    return all(len({asked.get("type") for asked in merged[key].by_version.values()}) == 1 for key in questions)


def _crosstab_from_counts(rows: Dimension, columns: Dimension, summed: Counter) -> CrossTab:
    """What `crosstabs.crosstab` counts over the responses, from their tallies."""
    counter = CrossTabCounter(rows, columns)
    question = rows if rows.key not in _FACTS else columns if columns.key not in _FACTS else None
    wanted = RESPONSES if question is None else question.key
    for (number, plus, field, value), n in summed.items():
        if field != wanted or not n:
            continue
        fact = {key: of(number, plus) for key, of in _FACTS.items()}
        if question is None or value == ANSWERED:
            # Responses (that answered the question): the base, and each fact's share of it.
            counter.base += n
            if rows is not question:
                counter.row_bases[fact[rows.key]] += n
            if columns is not question:
                counter.column_counts[fact[columns.key]] += n
            if question is None:
                counter.pairs[fact[rows.key], fact[columns.key]] += n
        elif rows is question:
            counter.row_bases[value] += n
            counter.pairs[value, fact[columns.key]] += n
        else:
            counter.column_counts[value] += n
            counter.pairs[fact[rows.key], value] += n
    return counter.result()


def tallied_crosstab(
    session: Session, survey: Survey, flt: ResponseFilter, rows: str, columns: str, zone: tzinfo, zone_name: str
) -> CrossTab:
    """What `insight.survey_crosstab` says, from the tallies (refreshed by the caller) where
    they can answer it, else from the responses themselves."""
    dims = dimensions_for(survey)
    if not answerable(flt, zone) or not _crossable(survey, dims[rows], dims[columns]):
        return survey_crosstab(session, survey, flt, rows, columns)
    since, until = _local_day(flt.since, zone), _local_day(flt.until, zone)
    fields = [key for key in (rows, columns) if key not in _FACTS] or [RESPONSES]
    summed = _summed_counts(session, survey.id, zone_name, flt, since, until, fields=fields)
    return _crosstab_from_counts(dims[rows], dims[columns], summed)


def tallied_side_by_side(session: Session, survey: Survey, flt: ResponseFilter, zone: tzinfo, zone_name: str) -> list[Comparison]:
    """What `insight.side_by_side` says, from the tallies (refreshed by the caller) where they
    can answer it, else from the responses themselves."""
    tables = side_by_side_tables(survey)
    if not answerable(flt, zone) or not all(_crossable(survey, rows, columns) for rows, columns in tables):
        return side_by_side(session, survey, flt)
    since, until = _local_day(flt.since, zone), _local_day(flt.until, zone)
    summed = _summed_counts(session, survey.id, zone_name, flt, since, until, fields=[columns.key for _, columns in tables])
    return comparisons([_crosstab_from_counts(rows, columns, summed) for rows, columns in tables])


def _median_of_counts(counts: dict[int, int]) -> int | None:
    """`results.median` of a list given as value -> how many times it occurs."""
    middle = median_of_counts(counts)
    return None if middle is None else round(middle)


def _tally_from_counts(question: walk.MergedQuestion, per_field: dict[str, dict[str, int]]) -> _Tally:
    tally = _Tally(question)
    own = dict(per_field.get(question.id, {}))
    tally.answered = own.pop(ANSWERED, 0)
    if question.type == "number":
        tally.numbers = Counter()
        for value, n in own.items():
            tally.numbers[json.loads(value)] += n
    elif question.type != "matrix":
        tally.counts = Counter(own)
    prefix = f"{question.id}["
    for field, values in per_field.items():
        if field.startswith(prefix) and field.endswith("]"):
            row = field[len(prefix) : -1]
            values = dict(values)
            tally.row_answered[row] = values.pop(ANSWERED, 0)
            tally.rows[row] = Counter(values)
    tally.other_count = per_field.get(f"{question.id}_other", {}).get(ANSWERED, 0)
    tally.texts = deque(maxlen=3)
    return tally


def survey_activity(session: Session, now: datetime, zone: tzinfo, zone_name: str) -> list[SurveyActivity]:
    """Finished responses per survey, in total and since Monday, and the median time to finish,
    of the survey and of each version against the minutes it promises, from the tallies
    (refreshed by the caller): the months for what is all time, the days of this week."""
    monday = week_start(now, zone).astimezone(zone).date()
    activity = []
    for survey in session.scalars(select(Survey).order_by(Survey.title)):
        counts = session.execute(
            select(SurveyMonthTally.field, SurveyMonthTally.version_number, SurveyMonthTally.value, func.sum(SurveyMonthTally.count))
            .where(
                SurveyMonthTally.survey_id == survey.id,
                SurveyMonthTally.zone == zone_name,
                SurveyMonthTally.field.in_([RESPONSES, SECONDS]),
            )
            .group_by(SurveyMonthTally.field, SurveyMonthTally.version_number, SurveyMonthTally.value)
        ).all()
        this_week = session.scalar(
            select(func.sum(SurveyTally.count)).where(
                SurveyTally.survey_id == survey.id,
                SurveyTally.zone == zone_name,
                SurveyTally.field == RESPONSES,
                SurveyTally.day >= monday,
            )
        )
        total = 0
        by_version: dict[int, Counter] = {}
        for field, number, value, n in counts:
            if field == RESPONSES:
                total += int(n)
            elif n:
                by_version.setdefault(number, Counter())[int(value)] += int(n)
        every: Counter = sum(by_version.values(), Counter())
        activity.append(
            SurveyActivity(
                slug=survey.slug,
                title=survey.title,
                total=total,
                this_week=int(this_week or 0),
                median_seconds=_median_of_counts(every),
                promise_minutes=survey.promise_minutes,
                versions=[
                    VersionTime(number, sum(by_version[number].values()), _median_of_counts(by_version[number]))
                    for number in sorted(by_version, reverse=True)
                ],
            )
        )
    return activity


def refresh_every_survey(session: Session, zone_name: str) -> None:
    for survey_id in session.scalars(select(Survey.id)):
        refresh_tallies(session, survey_id, zone_name)
