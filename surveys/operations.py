"""The writes of the surveys package: import and version definitions, manage surveys, and
take a survey (start, save a page, submit). Each function takes a session, plain values, the
actor and `now`; it may flush, the caller commits.
"""

from __future__ import annotations

import copy
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urljoin, urlsplit

from sqlalchemy import Select, Update, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, contains_eager, joinedload
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.datastructures import MultiDict

from accounts.models import User
from sight.audit import record_audit
from sight.db import utcnow
from surveys.answers import raw_from_answers, read_page
from surveys.definition import load_definition
from surveys.definition.walk import iter_questions, page_answer_keys, questions_changed, visible_answers, visible_pages
from surveys.models import AskTally, Response, Survey, SurveyStatus, SurveyVersion
from surveys.retention import Retention
from surveys.tallies import untally

DEFAULT_SURVEY_FILE = Path(__file__).resolve().parent / "data" / "reader-survey.yaml"
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
TRACKING_LENGTH = 200
REFERRER_LENGTH = 2000
# Kept as the referring article of a reader who came from another site's page: the address is
# dropped (it may say anything), only that they came from elsewhere is counted.
OTHER_SITE = "(other site)"
# The least time a quick reader takes to read and answer one question.
SECONDS_PER_ANSWER = 3


class SurveyRefused(Exception):
    """The reader cannot do this now; `reason` picks the page or message they see."""

    def __init__(self, reason: str, page_index: int | None = None, wait_seconds: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.page_index = page_index
        # For "too_fast": how long the reader should wait before sending again.
        self.wait_seconds = wait_seconds


@dataclass
class ImportResult:
    survey: Survey
    version: SurveyVersion
    # "created", "new_version" (the old one has responses), "updated" (in place) or "unchanged".
    outcome: str


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# --- definitions and versions ------------------------------------------------------------


def survey_by_slug(session: Session, slug: str) -> Survey | None:
    return session.scalar(select(Survey).where(Survey.slug == slug))


def version_has_responses(session: Session, version: SurveyVersion) -> bool:
    return session.scalar(select(Response.id).where(Response.version_id == version.id).limit(1)) is not None


def import_definition(
    session: Session,
    definition: dict,
    actor: User | None,
    now: datetime,
    *,
    source: str = "import",
    new_status: SurveyStatus = SurveyStatus.open,
    retention: Retention | None = None,
) -> ImportResult:
    """Create the survey (with `new_status` and `retention`), or bring it up to `definition`
    following the versioning rule: changed questions or options make a new version when the
    current one has any response (finished or not); anything else updates the current version
    in place."""
    survey = survey_by_slug(session, definition["slug"])
    if survey is None:
        return create_survey(session, definition, actor, now, status=new_status, source=source, retention=retention)
    return update_definition(session, survey, definition, actor, now, source=source)


def create_survey(
    session: Session,
    definition: dict,
    actor: User | None,
    now: datetime,
    *,
    status: SurveyStatus = SurveyStatus.open,
    source: str = "create",
    retention: Retention | None = None,
) -> ImportResult:
    """A new survey; `retention` None keeps the schema's defaults."""
    settings = definition["settings"]
    survey = Survey(
        slug=definition["slug"],
        title=definition["title"],
        status=status,
        opens_at=_moment(settings["opens_at"]),
        closes_at=_moment(settings["closes_at"]),
        created_at=now,
        updated_at=now,
    )
    version = SurveyVersion(
        number=1, definition=definition, created_at=now, created_by_id=actor.id if actor else None
    )
    if retention is not None:
        survey.text_retention_months = retention.text_months
        survey.unfinished_retention_days = retention.unfinished_days
    survey.versions.append(version)
    session.add(survey)
    session.flush()
    session.add(AskTally(survey_id=survey.id))
    record_audit(
        session,
        actor=actor,
        action="survey.create",
        target=f"survey:{survey.slug}",
        details={"version": 1, "source": source},
        now=now,
    )
    return ImportResult(survey, version, "created")


def update_definition(
    session: Session, survey: Survey, definition: dict, actor: User | None, now: datetime, *, source: str = "edit"
) -> ImportResult:
    if definition["slug"] != survey.slug:
        raise ValueError("a survey's slug cannot change")
    current = survey.current_version
    if definition == current.definition:
        return ImportResult(survey, current, "unchanged")
    if questions_changed(current.definition, definition) and version_has_responses(session, current):
        version = SurveyVersion(
            number=current.number + 1,
            definition=definition,
            created_at=now,
            created_by_id=actor.id if actor else None,
        )
        survey.versions.append(version)
        outcome = "new_version"
    else:
        version = current
        # A new dict, so that the JSON column sees the change.
        version.definition = copy.deepcopy(definition)
        outcome = "updated"
    survey.title = definition["title"]
    # A builder draft made on the questions this replaces would undo it when saved.
    survey.draft_definition = None
    survey.opens_at = _moment(definition["settings"]["opens_at"])
    survey.closes_at = _moment(definition["settings"]["closes_at"])
    survey.updated_at = now
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="survey.edit",
        target=f"survey:{survey.slug}",
        details={"version": version.number, "outcome": outcome, "source": source},
        now=now,
    )
    return ImportResult(survey, version, outcome)


def definition_for_download(survey: Survey, version: SurveyVersion) -> dict:
    """The stored definition with its version number, ready to dump and import again."""
    definition = dict(version.definition)
    ordered = {key: definition[key] for key in ("slug", "title")}
    ordered["version"] = version.number
    ordered.update(definition)
    return ordered


def set_survey_status(session: Session, survey: Survey, status: SurveyStatus, actor: User | None, now: datetime) -> None:
    if survey.status is status:
        return
    survey.status = status
    survey.updated_at = now
    record_audit(session, actor=actor, action=f"survey.{status.value}", target=f"survey:{survey.slug}", now=now)


def set_survey_dates(
    session: Session,
    survey: Survey,
    opens_at: datetime | None,
    closes_at: datetime | None,
    actor: User | None,
    now: datetime,
) -> None:
    """Set when the survey opens and closes; kept in the current version's settings too, so
    that a downloaded definition says the same (a settings edit never needs a new version)."""
    if opens_at and closes_at and opens_at >= closes_at:
        raise ValueError("The closing time must be later than the opening time.")
    if survey.opens_at == opens_at and survey.closes_at == closes_at:
        return
    survey.opens_at, survey.closes_at = opens_at, closes_at
    survey.updated_at = now
    version = survey.current_version
    definition = copy.deepcopy(version.definition)
    definition["settings"]["opens_at"] = opens_at.isoformat() if opens_at else None
    definition["settings"]["closes_at"] = closes_at.isoformat() if closes_at else None
    version.definition = definition
    record_audit(
        session,
        actor=actor,
        action="survey.dates",
        target=f"survey:{survey.slug}",
        details={"opens_at": definition["settings"]["opens_at"], "closes_at": definition["settings"]["closes_at"]},
        now=now,
    )


def duplicate_survey(
    session: Session, survey: Survey, slug: str, title: str, actor: User | None, now: datetime
) -> Survey:
    """A copy of the current version under a new slug, closed until staff open it."""
    definition = copy.deepcopy(survey.current_version.definition)
    definition["slug"], definition["title"] = slug, title
    result = create_survey(
        session,
        definition,
        actor,
        now,
        status=SurveyStatus.closed,
        source=f"duplicate:{survey.slug}",
        retention=Retention.of(survey),
    )
    record_audit(
        session,
        actor=actor,
        action="survey.duplicate",
        target=f"survey:{survey.slug}",
        details={"copy": slug},
        now=now,
    )
    return result.survey


def seed_default_survey(session: Session, app) -> list[str]:
    """`flask seed`: load the default survey once; staff edits are never overwritten."""
    definition = load_definition(DEFAULT_SURVEY_FILE.read_text(encoding="utf-8"))
    if survey_by_slug(session, definition["slug"]) is not None:
        return [f"Survey {definition['slug']}: already there."]
    create_survey(session, definition, None, utcnow(), source="seed", retention=Retention.from_config(app.config))
    return [f"Survey {definition['slug']}: created (version 1)."]


# --- taking a survey ---------------------------------------------------------------------


def availability(survey: Survey, now: datetime) -> str:
    """"open", "closed" (by staff), "not_yet_open" or "ended" (by its dates)."""
    if survey.status is SurveyStatus.closed:
        return "closed"
    if survey.opens_at and now < survey.opens_at:
        return "not_yet_open"
    if survey.closes_at and now >= survey.closes_at:
        return "ended"
    return "open"


def account_has_submitted(session: Session, survey: Survey, user_id: int) -> bool:
    return (
        session.scalar(
            select(func.count(Response.id)).where(
                Response.survey_id == survey.id,
                Response.user_id == user_id,
                Response.submitted_at.is_not(None),
            )
        )
        > 0
    )


def start_refusal(
    session: Session, survey: Survey, *, user_id: int | None, taken_in_browser: bool, now: datetime
) -> str | None:
    """Why this reader cannot start a response now, or None when they can."""
    state = availability(survey, now)
    if state != "open":
        return state
    rule = survey.current_version.definition["settings"]["one_response_per"]
    if rule == "browser" and taken_in_browser:
        return "already_taken"
    if rule == "account":
        if user_id is None:
            return "sign_in_required"
        if account_has_submitted(session, survey, user_id):
            return "already_taken"
    return None


def _site_path(address: str, site_url: str | None) -> str | None:
    """The path of `address` when it is a page under `site_url` (a bare path is read against it),
    else None. Query and fragment are dropped, so that one article is counted once."""
    bare_path = address.startswith("/") and not address.startswith("//")
    try:
        parts = urlsplit(urljoin(site_url, address) if bare_path and site_url else address)
        site = urlsplit(site_url or "")
    except ValueError:  # e.g. "http://[" is no address
        return None
    if bare_path and not site_url:
        # Without SITE_URL a path can still only name a page of the magazine.
        return parts.path
    if not site_url or parts.scheme not in ("http", "https") or parts.netloc.lower() != site.netloc.lower():
        return None
    root = site.path.rstrip("/")
    path = parts.path or "/"
    if root and path != root and not path.startswith(root + "/"):
        return None
    return path


def _host(address: str) -> str:
    try:
        return urlsplit(address.strip()).netloc.lower()
    except ValueError:
        return ""


def _is_web_address(address: str) -> bool:
    try:
        parts = urlsplit(address)
    except ValueError:
        return False
    # "//host/path" (no scheme) is another site's address too.
    return bool(parts.netloc) and (parts.scheme in ("http", "https") or address.startswith("//"))


def referring_article(from_param: str, referer: str, site_url: str | None, own_host: str = "") -> str:
    """Where the reader came from: the path of `?from=` when given, else of the Referer, when
    it is a page under SITE_URL; OTHER_SITE when it is another site's address (which is not
    kept, only counted); "" when nothing usable was given. A Referer from `own_host` (this
    app's pages: signing in, going back) names no article."""
    if own_host and not _site_path(referer.strip(), site_url) and _host(referer) == own_host.lower():
        referer = ""
    for address in (from_param, referer):
        address = address.strip()[:REFERRER_LENGTH]
        if not address or "\x00" in address:
            continue
        path = _site_path(address, site_url)
        if path is not None:
            return path
        if _is_web_address(address):
            return OTHER_SITE
        # Anything else (javascript:…) says nothing; the Referer may.
    return ""


def clean_tracking(values: dict[str, str | None], site_url: str | None) -> dict[str, str | None]:
    """utm_* cut to their columns; `from` (the intro page's hidden field, which a client can
    change) kept only as the path of a page under SITE_URL, or OTHER_SITE for another site."""
    tracking: dict[str, str | None] = {}
    for key in UTM_KEYS:
        value = (values.get(key) or "").strip().replace("\x00", "")
        tracking[key] = value[:TRACKING_LENGTH] or None
    referrer = (values.get("from") or "").strip()
    if referrer == OTHER_SITE:
        tracking["referrer_url"] = OTHER_SITE
    else:
        tracking["referrer_url"] = referring_article(referrer, "", site_url) or None
    return tracking


def start_response(
    session: Session,
    survey: Survey,
    *,
    user_id: int | None,
    taken_in_browser: bool,
    tracking: dict[str, str | None],
    site_url: str | None,
    now: datetime,
) -> Response:
    reason = start_refusal(session, survey, user_id=user_id, taken_in_browser=taken_in_browser, now=now)
    if reason:
        raise SurveyRefused(reason)
    version = survey.current_version
    response = Response(
        survey=survey,
        version=version,
        resume_token=secrets.token_urlsafe(32),
        # Only so that the reader can resume on another device; cleared at submission
        # unless they choose to link their response to their account.
        user_id=user_id,
        answers={},
        current_page=visible_pages(version.definition, {})[0],
        started_at=now,
        **clean_tracking(tracking, site_url),
    )
    session.add(response)
    session.flush()
    return response


def response_by_token(session: Session, survey: Survey, token: str) -> Response | None:
    return session.scalar(select(Response).where(Response.resume_token == token[:100], Response.survey_id == survey.id))


def delete_own_response(session: Session, response: Response, now: datetime) -> None:
    """A reader deletes their own response (no account needed): it is gone, not hidden. The
    audit log says a response was deleted by its reader, and nothing of what it said."""
    record_audit(
        session,
        actor=None,
        action="survey.response_deleted",
        target=f"survey:{response.survey.slug}",
        details={"by": "reader", "finished": response.submitted_at is not None},
        now=now,
    )
    # Its counts come out of the results' tallies first.
    untally(session, [response.id])
    session.delete(response)
    session.flush()


def resume_expires_at(response: Response) -> datetime:
    return response.started_at + timedelta(days=response.version.definition["settings"]["resume_days"])


def find_resumable(
    session: Session,
    slug: str,
    *,
    token: str | None,
    user_id: int | None,
    now: datetime,
    survey_id: int | None = None,
) -> Response | None:
    """The reader's response to the survey at `slug`, by resume token (cookie or link) or, for
    a signed-in reader on another device, by account; None once it can no longer be resumed.
    `survey_id`, when given, is the survey the token was issued for (a signed cookie says it).

    Its survey and version come in the same query: every page reads both, and a reader's page
    then costs one read."""
    statements = _resumable_statements()
    response = None
    if token:
        if survey_id is None:
            response = session.scalar(statements.by_token, {"slug": slug, "token": token})
        else:
            response = session.scalar(
                statements.by_token_and_survey, {"slug": slug, "token": token, "survey_id": survey_id}
            )
    if response is None and user_id is not None:
        response = session.scalar(statements.by_account, {"slug": slug, "user_id": user_id})
    if response is None:
        return None
    if response.submitted_at is None and resume_expires_at(response) <= now:
        return None
    return response


class _ResumableStatements(NamedTuple):
    by_token: Select
    by_token_and_survey: Select
    by_account: Select


@cache
def _resumable_statements() -> _ResumableStatements:
    """Built once, with bound parameters: every page a reader sends runs one of them, and
    building a statement costs more than SQLite takes to run it."""
    with_survey = (
        select(Response)
        .join(Response.survey)
        .options(contains_eager(Response.survey), joinedload(Response.version))
        .where(Survey.slug == bindparam("slug"))
    )
    by_token = with_survey.where(Response.resume_token == bindparam("token"))
    return _ResumableStatements(
        by_token=by_token,
        by_token_and_survey=by_token.where(Response.survey_id == bindparam("survey_id")),
        by_account=with_survey.where(Response.user_id == bindparam("user_id"), Response.submitted_at.is_(None))
        .order_by(Response.started_at.desc())
        .limit(1),
    )


def _merge_page(definition: dict, answers: dict, page_index: int, page_answers: dict) -> dict:
    names = page_answer_keys(definition["pages"][page_index])
    merged = {key: value for key, value in answers.items() if key not in names}
    merged.update(page_answers)
    return merged


def save_page(
    session: Session, response: Response, page_index: int, page_answers: dict, *, forward: bool, now: datetime
) -> int:
    """Keep this page's answers and move to the next (or previous) page shown; returns it.

    Answers to questions that later become hidden are kept until submission, so that a
    reader who changes their mind and back again finds them."""
    if response.submitted_at is not None:
        raise SurveyRefused("already_sent")
    definition = response.version.definition
    answers = _merge_page(definition, response.answers, page_index, page_answers)
    shown = visible_pages(definition, answers)
    if forward:
        following = [i for i in shown if i > page_index]
    else:
        following = [i for i in reversed(shown) if i < page_index]
    target = following[0] if following else page_index
    response.answers = answers
    response.current_page = target
    session.flush()
    return target


def first_incomplete_page(definition: dict, answers: dict) -> int | None:
    """The first page shown whose stored answers no longer pass its questions' rules."""
    for index in visible_pages(definition, answers):
        page = definition["pages"][index]
        check = read_page(page, MultiDict(raw_from_answers(page, answers)), answers)
        if not check.ok:
            return index
    return None


def linked_user_id(definition: dict, response: Response, signed_in_user_id: int | None, wants_link: bool) -> int | None:
    """Whose account a response is kept with: the account that started it when the survey takes
    one response per account; otherwise the signed-in reader's, only if they chose to link it."""
    if definition["settings"]["one_response_per"] == "account":
        return response.user_id
    return signed_in_user_id if wants_link else None


def minimum_fill_seconds(definition: dict, answers: dict) -> int:
    """How long a person needs at least: a few seconds for each question they answered, and
    never more than the survey's `min_seconds` (a robot fills every field at once)."""
    answered = sum(1 for question in iter_questions(definition) if question["id"] in answers)
    return min(definition["settings"]["min_seconds"], SECONDS_PER_ANSWER * answered)


def submit_response(
    session: Session,
    response: Response,
    page_answers: dict,
    *,
    signed_in_user_id: int | None,
    wants_link: bool,
    sight_plus_of: Callable[[int], bool],
    now: datetime,
) -> None:
    """Finish the response in one go, or refuse (SurveyRefused) and change nothing."""
    if response.submitted_at is not None:
        raise SurveyRefused("already_sent")
    state = availability(response.survey, now)
    if state != "open":
        raise SurveyRefused(state)
    definition = response.version.definition
    last = len(definition["pages"]) - 1
    answers = visible_answers(definition, _merge_page(definition, response.answers, last, page_answers))
    incomplete = first_incomplete_page(definition, answers)
    if incomplete is not None:
        raise SurveyRefused("incomplete", page_index=incomplete)
    wait = math.ceil(minimum_fill_seconds(definition, answers) - (now - response.started_at).total_seconds())
    if wait > 0:
        raise SurveyRefused("too_fast", wait_seconds=wait)
    one_per_account = definition["settings"]["one_response_per"] == "account"
    link_user_id = linked_user_id(definition, response, signed_in_user_id, wants_link)
    if link_user_id is not None and account_has_submitted(session, response.survey, link_user_id):
        if one_per_account:
            raise SurveyRefused("already_taken")
        # An account links to one response per survey; a later one is kept anonymous.
        link_user_id = None
    # What is recorded for every linked response, however it came to be linked.
    sight_plus = sight_plus_of(link_user_id) if link_user_id is not None else None

    # One conditional UPDATE rather than the unit of work: a second POST of the same response
    # (a double click, two tabs) that read it before this one finished changes nothing.
    values = {
        "answers": answers,
        "current_page": last,
        "submitted_at": now,
        "user_id": link_user_id,
        "sight_plus": sight_plus,
    }
    parameters = {"response_id": response.id, **{f"new_{key}": value for key, value in values.items()}}
    if link_user_id is None:
        # Nothing unique can clash (the partial index holds linked responses only): no savepoint.
        finished = session.execute(_finish_statement(), parameters).rowcount
    else:
        try:
            with session.begin_nested():
                finished = session.execute(_finish_statement(), parameters).rowcount
        except IntegrityError as exc:
            # Two tabs sending at once: the partial unique index keeps one per account.
            raise SurveyRefused("already_taken") from exc
    if finished != 1:
        raise SurveyRefused("already_sent")
    for key, value in values.items():
        set_committed_value(response, key, value)


@cache
def _finish_statement() -> Update:
    """Built once, like `_resumable_statements`; the values are bound as `new_<column>`."""
    columns = ("answers", "current_page", "submitted_at", "user_id", "sight_plus")
    return (
        update(Response)
        .where(Response.id == bindparam("response_id"), Response.submitted_at.is_(None))
        .values({column: bindparam(f"new_{column}") for column in columns})
        .execution_options(synchronize_session=False)
    )


# --- the Sight+ ask on the thank-you page ---------------------------------------------------


def ask_source(survey: Survey) -> str:
    """The source a gift started from this survey's thank-you page carries."""
    return f"survey:{survey.slug}"


def count_ask(session: Session, survey: Survey, *, clicked: bool) -> None:
    """One more view of the ask (or click on it), counted in the database, never who."""
    column = AskTally.clicks if clicked else AskTally.views
    session.execute(
        update(AskTally).where(AskTally.survey_id == survey.id).values({column: column + 1})
    )
