"""How long readers' answers are kept: per survey, free-text and email answers for some months
after submission, unfinished responses for some days after they were started. `purge_survey`
removes what is older (`flask surveys purge`, run from cron), and says how much in the audit log.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sight.audit import Actor, record_audit
from surveys.definition.walk import free_text_keys, personal_data_questions
from surveys.models import Response, Survey, SurveyVersion
from surveys.tallies import untally


@dataclass(frozen=True)
class Retention:
    text_months: int
    unfinished_days: int

    @classmethod
    def from_config(cls, config) -> Retention:
        return cls(config["SURVEY_RETENTION_MONTHS"], config["UNFINISHED_RETENTION_DAYS"])

    @classmethod
    def of(cls, survey: Survey) -> Retention:
        return cls(survey.text_retention_months, survey.unfinished_retention_days)


def personal_data_ids(survey: Survey) -> list[str]:
    """The ids of questions, in any version, that ask who the reader is (email addresses)."""
    ids: dict[str, None] = {}
    for version in survey.versions:
        ids.update((question["id"], None) for question in personal_data_questions(version.definition))
    return list(ids)


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (the 31st becomes the month's last day)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def set_retention(session: Session, survey: Survey, retention: Retention, actor: Actor | None, now: datetime) -> None:
    if retention.text_months < 1 or retention.unfinished_days < 1:
        raise ValueError("Retention is at least one month and one day.")
    if Retention.of(survey) == retention:
        return
    survey.text_retention_months = retention.text_months
    survey.unfinished_retention_days = retention.unfinished_days
    survey.updated_at = now
    record_audit(
        session,
        actor=actor,
        action="survey.retention",
        target=f"survey:{survey.slug}",
        details={"text_months": retention.text_months, "unfinished_days": retention.unfinished_days},
        now=now,
    )


@dataclass(frozen=True)
class PurgeCounts:
    responses_with_text_removed: int
    answers_removed: int
    unfinished_deleted: int


def purge_survey(session: Session, survey: Survey, actor: Actor | None, now: datetime) -> PurgeCounts:
    """Remove the free-text and email answers of responses submitted more than the survey's
    months ago, and delete unfinished responses started more than its days ago; audited with
    the counts (never the answers)."""
    text_before = months_before(now, survey.text_retention_months)
    keys_by_version = {
        version_id: free_text_keys(definition)
        for version_id, definition in session.execute(
            select(SurveyVersion.id, SurveyVersion.definition).where(SurveyVersion.survey_id == survey.id)
        )
    }
    old = session.scalars(
        select(Response).where(
            Response.survey_id == survey.id,
            Response.submitted_at.is_not(None),
            Response.submitted_at < text_before,
        )
    )
    responses = answers = 0
    for response in old:
        keys = keys_by_version.get(response.version_id, set()) & set(response.answers)
        if keys:
            # Out of the results' tallies; the next refresh counts it again as it now stands.
            untally(session, [response.id])
            response.answers = {key: value for key, value in response.answers.items() if key not in keys}
            responses += 1
            answers += len(keys)
    unfinished = session.execute(
        delete(Response)
        .where(
            Response.survey_id == survey.id,
            Response.submitted_at.is_(None),
            Response.started_at < now - timedelta(days=survey.unfinished_retention_days),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    counts = PurgeCounts(responses, answers, unfinished)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="survey.purge",
        target=f"survey:{survey.slug}",
        details={
            "text_before": text_before.isoformat(),
            "responses_with_text_removed": counts.responses_with_text_removed,
            "answers_removed": counts.answers_removed,
            "unfinished_deleted": counts.unfinished_deleted,
        },
        now=now,
    )
    return counts
