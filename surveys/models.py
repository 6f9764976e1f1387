"""Surveys, their versions, and readers' responses.

A survey's questions live in `SurveyVersion.definition` (the validated definition, as data).
Editing the questions of a survey that has responses adds a new version; each response points
at the version it answered, so its labels are always looked up there.

`Response.answers` holds option *values*, never labels, keyed by question id:
  single choice / dropdown  -> "value"
  multiple choice           -> ["value", ...]           (+ "ID_other": "text" when "other" chosen)
  short/long text, email    -> "text"
  number                    -> int or float
  rating                    -> int
  matrix                    -> {"row value": "column value", ...}
A question not answered (or hidden by show_if) is absent from the dict.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, Enum, ForeignKey, Index, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sight.db import utcnow
from sight.extensions import db


class SurveyStatus(enum.Enum):
    open = "open"
    closed = "closed"


class Survey(db.Model):
    __tablename__ = "survey"
    __table_args__ = (
        CheckConstraint("promise_minutes BETWEEN 1 AND 120", name="promise_minutes_range"),
        CheckConstraint("text_retention_months > 0", name="text_retention_positive"),
        CheckConstraint("unfinished_retention_days > 0", name="unfinished_retention_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[SurveyStatus] = mapped_column(
        Enum(SurveyStatus, native_enum=False, create_constraint=True, length=10, name="survey_status"),
        default=SurveyStatus.open,
    )
    opens_at: Mapped[datetime | None]
    closes_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Retention (`flask surveys purge`): free-text and email answers are removed this many
    # months after submission, unfinished responses this many days after they were started.
    text_retention_months: Mapped[int] = mapped_column(default=24, server_default="24")
    unfinished_retention_days: Mapped[int] = mapped_column(default=30, server_default="30")
    # What the invitation promises ("it'll only take a couple of minutes"); the dashboard
    # sets the median time to finish against it.
    promise_minutes: Mapped[int] = mapped_column(default=2, server_default="2")
    # The builder's work in progress: edits land here one step at a time, and become a version
    # (through the same rules as an import) only when staff save them.
    draft_definition: Mapped[dict | None] = mapped_column(JSON)

    versions: Mapped[list[SurveyVersion]] = relationship(
        back_populates="survey", order_by="SurveyVersion.number"
    )

    @property
    def current_version(self) -> SurveyVersion:
        return self.versions[-1]


class SurveyVersion(db.Model):
    __tablename__ = "survey_version"
    __table_args__ = (UniqueConstraint("survey_id", "number", name="uq_survey_version_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    definition: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    survey: Mapped[Survey] = relationship(back_populates="versions")


class Response(db.Model):
    """One reader's answers. Unfinished responses have no `submitted_at` and never count."""

    __tablename__ = "survey_response"
    __table_args__ = (
        Index("ix_survey_response_survey_submitted", "survey_id", "submitted_at"),
        # One submitted response per account and survey (NULL user ids never clash).
        Index(
            "uq_survey_response_one_per_account",
            "survey_id",
            "user_id",
            unique=True,
            postgresql_where=text("submitted_at IS NOT NULL"),
            sqlite_where=text("submitted_at IS NOT NULL"),
        ),
        # A survey's newest responses without a sort (the latest free-text answers of its results).
        Index("ix_survey_response_survey_newest", "survey_id", "id"),
        # Finished responses not yet counted in the tallies (surveys.tallies): few at any time.
        # Three columns, so that SQLite's planner (which keeps no statistics here) prefers it to
        # (survey_id, submitted_at) for "survey_id = ? AND tallied = 0 AND submitted_at IS NOT NULL".
        Index(
            "ix_survey_response_untallied",
            "survey_id",
            "tallied",
            "submitted_at",
            postgresql_where=text("submitted_at IS NOT NULL AND tallied = false"),
            sqlite_where=text("submitted_at IS NOT NULL AND tallied = 0"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(ForeignKey("survey_version.id"), index=True)
    # Secret that lets the same browser (cookie) or a resume link find this response again.
    resume_token: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    answers: Mapped[dict] = mapped_column(JSON, default=dict)
    current_page: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    utm_source: Mapped[str | None] = mapped_column(String(200))
    utm_medium: Mapped[str | None] = mapped_column(String(200))
    utm_campaign: Mapped[str | None] = mapped_column(String(200))
    utm_term: Mapped[str | None] = mapped_column(String(200))
    utm_content: Mapped[str | None] = mapped_column(String(200))
    # The article the reader came from: the path of `?from=`, else of the Referer, when it is a
    # page under SITE_URL; "(other site)" (operations.OTHER_SITE) when it was another site's.
    referrer_url: Mapped[str | None] = mapped_column(Text)
    # Whether the reader was Sight+ when they submitted; only for responses linked to an account.
    sight_plus: Mapped[bool | None]
    # Whether this response's answers are counted in the survey's tallies (surveys.tallies).
    tallied: Mapped[bool] = mapped_column(default=False, server_default=false())

    survey: Mapped[Survey] = relationship()
    version: Mapped[SurveyVersion] = relationship()

    @property
    def duration_seconds(self) -> int | None:
        if self.submitted_at is None:
            return None
        return int((self.submitted_at - self.started_at).total_seconds())


class AskTally(db.Model):
    """How often a survey's thank-you page showed the Sight+ ask and how often it was clicked.
    Counts only: who saw or clicked it is never recorded."""

    __tablename__ = "survey_ask_tally"

    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"), primary_key=True)
    views: Mapped[int] = mapped_column(default=0, server_default="0")
    clicks: Mapped[int] = mapped_column(default=0, server_default="0")


class SurveyTally(db.Model):
    """Counts kept for the results page (surveys.tallies): how many finished responses, of one version, finished on one local day, with one stored
    Sight+ value ("yes", "no" or "" for not linked), gave `value` to `field`."""

    __tablename__ = "survey_tally"
    __table_args__ = (
        UniqueConstraint("survey_id", "zone", "version_number", "day", "sight_plus", "field", "value", name="uq_survey_tally_key"),
        # The days at either end of a range that does not start or stop on a month's first day.
        Index("ix_survey_tally_day", "survey_id", "zone", "day"),
        # Responses per day for the chart, without reading each day's other rows.
        Index("ix_survey_tally_field_day", "survey_id", "zone", "field", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"))
    zone: Mapped[str] = mapped_column(String(64))
    version_number: Mapped[int]
    day: Mapped[date] = mapped_column(Date)
    sight_plus: Mapped[str] = mapped_column(String(3))
    field: Mapped[str] = mapped_column(String(300))
    value: Mapped[str] = mapped_column(String(300))
    count: Mapped[int]


class SurveyMonthTally(db.Model):
    """The counts of `SurveyTally` summed over a local calendar month (`month` is its first day),
    kept beside them, so that results over years add up a few rows per month rather than per day."""

    __tablename__ = "survey_month_tally"
    __table_args__ = (
        UniqueConstraint(
            "survey_id", "zone", "month", "version_number", "sight_plus", "field", "value", name="uq_survey_month_tally_key"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"))
    zone: Mapped[str] = mapped_column(String(64))
    month: Mapped[date] = mapped_column(Date)
    version_number: Mapped[int]
    sight_plus: Mapped[str] = mapped_column(String(3))
    field: Mapped[str] = mapped_column(String(300))
    value: Mapped[str] = mapped_column(String(300))
    count: Mapped[int]


class SurveyAnswerWord(db.Model):
    """One word of a finished response's free-text answer, for search by words (surveys.search)."""

    __tablename__ = "survey_answer_word"
    __table_args__ = (Index("ix_survey_answer_word_lookup", "survey_id", "field", "word", "response_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("survey.id", ondelete="CASCADE"))
    response_id: Mapped[int] = mapped_column(ForeignKey("survey_response.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(300))
    word: Mapped[str] = mapped_column(String(100))
