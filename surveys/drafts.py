"""The builder's draft of a survey: where its edits land one step at a time, and how the draft
becomes the survey's questions (one version, by the same rule as an import or the YAML editor).

Each function takes a session, plain values, the actor and `now`; it may flush, the caller commits.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from accounts.models import User
from sight.audit import record_audit
from surveys.models import Survey, SurveyStatus
from surveys.operations import ImportResult, create_survey, update_definition
from surveys.retention import Retention


class DraftChanged(Exception):
    """The draft changed since the page that sent this step was drawn (someone else's edit)."""


def working_definition(survey: Survey) -> dict:
    """What the builder shows: the draft if there is one, else the current version."""
    return copy.deepcopy(survey.draft_definition or survey.current_version.definition)


def draft_token(definition: dict) -> str:
    """A short fingerprint of a definition, carried by every builder form, so that a step made
    on an outdated page is refused instead of undoing someone else's step."""
    text = json.dumps(definition, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def has_unsaved_draft(survey: Survey) -> bool:
    return survey.draft_definition is not None and survey.draft_definition != survey.current_version.definition


def apply_step(survey: Survey, token: str, change: Callable[[dict], dict], now: datetime) -> dict:
    """Apply one builder edit to the working definition and keep the result as the draft.

    `change` is a pure function from surveys.builder; what it raises reaches the caller with
    nothing changed."""
    current = working_definition(survey)
    if token != draft_token(current):
        raise DraftChanged()
    changed = change(current)
    survey.draft_definition = changed
    survey.updated_at = now
    return changed


def publish_draft(session: Session, survey: Survey, token: str, actor: User | None, now: datetime) -> ImportResult:
    """Make the draft the survey's questions: a new version when the current one has responses
    and the questions changed, else the current version updated (as every other editor does)."""
    if token != draft_token(working_definition(survey)):
        raise DraftChanged()
    # The builder edits texts, pages and questions; settings (dates among them, which staff may
    # have changed meanwhile) stay as the survey has them now.
    definition = dict(working_definition(survey), settings=copy.deepcopy(survey.current_version.definition["settings"]))
    return update_definition(session, survey, definition, actor, now, source="builder")


def discard_draft(survey: Survey, now: datetime) -> None:
    survey.draft_definition = None
    survey.updated_at = now


def create_built_survey(
    session: Session, definition: dict, actor: User | None, now: datetime, *, retention: Retention
) -> ImportResult:
    """A survey started in the builder: closed until staff open it, like New and Duplicate."""
    return create_survey(
        session, definition, actor, now, status=SurveyStatus.closed, source="builder", retention=retention
    )


def set_promise(session: Session, survey: Survey, minutes: int, actor: User | None, now: datetime) -> None:
    """How many minutes the invitation promises readers the survey takes."""
    if not 1 <= minutes <= 120:
        raise ValueError("A promise is from 1 to 120 minutes.")
    if survey.promise_minutes == minutes:
        return
    survey.promise_minutes = minutes
    survey.updated_at = now
    record_audit(
        session, actor=actor, action="survey.promise", target=f"survey:{survey.slug}", details={"minutes": minutes}, now=now
    )
