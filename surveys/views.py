"""Reader pages: taking a survey at /surveys/<slug>."""

from __future__ import annotations

import secrets
from datetime import datetime
from urllib.parse import urlencode

from flask import abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import parse as parse_limit

from membership import sight_plus_at
from sight.db import utcnow
from sight.extensions import csrf, db, limiter
from sight.captcha import verify_captcha
from sight.security import reads_nul_itself
from surveys.answers import raw_from_answers, read_page
from surveys.definition.walk import labelled_answers, page_answer_keys, page_field_names, shown_questions, visible_pages
from surveys.forms import HONEYPOT_FIELD, HONEYPOT_LABEL, DeleteAnswersForm, PageForm, StartForm
from surveys.models import Response, Survey
from surveys.question_view import question_views
from surveys.operations import (
    SurveyRefused,
    account_has_submitted,
    ask_source,
    availability,
    count_ask,
    delete_own_response,
    find_resumable,
    TRACKING_LENGTH,
    UTM_KEYS,
    referring_article,
    response_by_token,
    resume_expires_at,
    save_page,
    start_refusal,
    start_response,
    submit_response,
    survey_by_slug,
)

# "Already taken in this browser" is remembered for this long.
DONE_COOKIE_SECONDS = 5 * 365 * 24 * 3600
# A random id for the browser, so that rate limits tell apart readers who share an address.
BROWSER_COOKIE = "survey_browser"
# How long a resume cookie is read at most; the response's own resume_days decides the rest.
RESUME_COOKIE_SECONDS = 366 * 24 * 3600

REFUSALS = {
    "closed": ("This survey is closed", "Thank you for your interest. This survey isn't taking answers at the moment."),
    "not_yet_open": ("This survey hasn't opened yet", "Please come back when it opens."),
    "ended": ("This survey has closed", "Thank you for your interest. The survey has finished."),
    "already_taken": (
        "You've already taken this survey",
        "Thank you: we already have your answers. We ask each reader to answer once.",
    ),
    "sign_in_required": (
        "Please sign in to take this survey",
        "This survey takes one response per account, so we ask you to sign in first.",
    ),
    "already_sent": ("These answers have already been sent", "Thank you: there is nothing more to do."),
    "link_expired": (
        "This link no longer works",
        "Unfinished answers are kept for a limited time, and this link has expired or isn't complete. "
        "You're welcome to start the survey again.",
    ),
}

PAGE_MESSAGES = {
    "csrf": "This page was open for a long time, so for your security we couldn't accept it. "
    "Your answers are still here: please check them and send the page again.",
    "honeypot": "We couldn't accept this page because the field marked “Leave this field empty” "
    "was filled in. Please empty it and send the page again.",
    "unknown_fields": "This page was sent with answers to questions that aren't on it, so nothing "
    "was saved. Please check your answers and send the page again.",
    "too_fast": "That was quicker than we expected, so we couldn't accept it yet. Please check your "
    "answers, then send them again in {wait} seconds.",
    "captcha": "Please complete the check that you're a person, then send your answers again.",
    "out_of_order": "Please answer the pages in order: here is where you were.",
    "incomplete": "Some answers on this page are missing or need checking before you can send the survey.",
}


def paragraphs_filter(text: str | None) -> list[str]:
    """Blank lines split a definition's intro and closing text into paragraphs."""
    return [block.strip() for block in (text or "").split("\n\n") if block.strip()]


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=f"survey-{purpose}")


def _cookie_name(purpose: str, slug: str) -> str:
    return f"survey_{purpose}_{slug}"


def _set_cookie(response, purpose: str, survey: Survey, value, max_age: int) -> None:
    response.set_cookie(
        _cookie_name(purpose, survey.slug),
        _serializer(purpose).dumps([survey.id, value]),
        max_age=max_age,
        path=f"/surveys/{survey.slug}",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )


def _read_signed_cookie(purpose: str, slug: str, max_age: int) -> tuple[int, object] | None:
    """The (survey id, value) a survey's cookie was signed with, or None."""
    raw = request.cookies.get(_cookie_name(purpose, slug))
    if not raw:
        return None
    try:
        survey_id, value = _serializer(purpose).loads(raw, max_age=max_age)
    except (BadSignature, ValueError, TypeError):
        return None
    return survey_id, value


def _read_cookie(purpose: str, survey: Survey, max_age: int):
    signed = _read_signed_cookie(purpose, survey.slug, max_age)
    return signed[1] if signed and signed[0] == survey.id else None


def _taken_in_browser(survey: Survey) -> bool:
    return bool(_read_cookie("done", survey, DONE_COOKIE_SECONDS))


def _user_id() -> int | None:
    return current_user.id if current_user.is_authenticated else None


def _survey_or_404(slug: str) -> Survey:
    survey = survey_by_slug(db.session, slug)
    if survey is None:
        abort(404)
    return survey


def _survey_and_response(slug: str, now: datetime) -> tuple[Survey, Response | None]:
    """The survey and the reader's response to it (by resume cookie or account), in one read
    when there is a response; 404 when there is no such survey."""
    signed = _read_signed_cookie("resume", slug, RESUME_COOKIE_SECONDS)
    survey_id, token = signed if signed and isinstance(signed[1], str) else (None, None)
    response = find_resumable(db.session, slug, token=token, survey_id=survey_id, user_id=_user_id(), now=now)
    if response is not None:
        return response.survey, response
    return _survey_or_404(slug), None


def _refusal_page(survey: Survey, reason: str, status: int = 200):
    title, message = REFUSALS[reason]
    return (
        render_template(
            "surveys/message.html",
            survey=survey,
            reason=reason,
            title=title,
            message=message,
            sign_in_url="/sign-in?" + _next_query(survey),
        ),
        status,
    )


def _next_query(survey: Survey) -> str:
    return urlencode({"next": url_for("surveys.take_intro", slug=survey.slug)})


def _page_url(survey: Survey, index: int) -> str:
    return url_for("surveys.take_page", slug=survey.slug, number=index + 1)


# --- pages ---------------------------------------------------------------------------------


def take_intro(slug: str):
    now = utcnow()
    survey, response = _survey_and_response(slug, now)
    if response is not None and response.submitted_at is None:
        return redirect(_page_url(survey, response.current_page))
    reason = start_refusal(db.session, survey, user_id=_user_id(), taken_in_browser=_taken_in_browser(survey), now=now)
    if reason:
        return _refusal_page(survey, reason)
    form = StartForm(
        formdata=None,
        referrer=referring_article(
            request.args.get("from", ""), request.headers.get("Referer", ""), current_app.config["SITE_URL"], request.host
        ),
        **{key: request.args.get(key, "")[:TRACKING_LENGTH] for key in UTM_KEYS},
    )
    reply = make_response(_render_intro(survey, form))
    if not request.cookies.get(BROWSER_COOKIE):
        reply.set_cookie(
            BROWSER_COOKIE,
            secrets.token_urlsafe(16),
            max_age=RESUME_COOKIE_SECONDS,
            path="/surveys/",
            secure=current_app.config["SESSION_COOKIE_SECURE"],
            httponly=True,
            samesite="Lax",
        )
    return reply


def _render_intro(survey: Survey, form: StartForm, refused: str | None = None, status: int = 200):
    return (
        render_template(
            "surveys/intro.html",
            survey=survey,
            definition=survey.current_version.definition,
            form=form,
            refused=refused,
            captcha=_start_captcha_due(),
        ),
        status,
    )


def _address_and_browser() -> str:
    """Rate limits count a reader by address *and* browser: many readers share an office's or a
    mobile carrier's address."""
    return f"{get_remote_address()} {request.cookies.get(BROWSER_COOKIE, '')[:64]}"


def _start_captcha_due() -> bool:
    """Whether this address has started more surveys than one reader would, and a CAPTCHA is
    configured to tell readers from robots (without one, the address's ceiling applies)."""
    if not current_app.config.get("CAPTCHA_PROVIDER"):
        return False
    limit = parse_limit(current_app.config["SURVEY_START_CAPTCHA_AFTER"])
    return not limiter.limiter.test(limit, "survey-start-from", get_remote_address())


def _count_start_from_address() -> None:
    limit = parse_limit(current_app.config["SURVEY_START_CAPTCHA_AFTER"])
    limiter.limiter.hit(limit, "survey-start-from", get_remote_address())


def _captcha_passed() -> bool:
    return verify_captcha(
        current_app.config["CAPTCHA_VERIFY_URL"],
        current_app.config["CAPTCHA_SECRET_KEY"],
        request.form.get(current_app.config["CAPTCHA_FIELD"], "")[:4096],
        request.remote_addr,
    )


@csrf.exempt
@limiter.limit(lambda: current_app.config["SURVEY_START_ADDRESS_RATE_LIMIT"])
@limiter.limit(lambda: current_app.config["SURVEY_START_RATE_LIMIT"], key_func=_address_and_browser)
def take_start(slug: str):
    survey = _survey_or_404(slug)
    now = utcnow()
    form = StartForm()
    if not form.validate():
        flash("The start page had expired. Please press Start again.", "error")
        return redirect(url_for("surveys.take_intro", slug=slug))
    if form.honeypot_filled(request.form):
        return _render_intro(survey, form, PAGE_MESSAGES["honeypot"], 400)
    if _start_captcha_due() and not _captcha_passed():
        return _render_intro(survey, form, PAGE_MESSAGES["captcha"], 400)
    _count_start_from_address()
    token = _read_cookie("resume", survey, RESUME_COOKIE_SECONDS)
    existing = find_resumable(
        db.session, slug, token=token if isinstance(token, str) else None, survey_id=survey.id, user_id=_user_id(), now=now
    )
    if existing is not None and existing.submitted_at is None:
        return redirect(_page_url(survey, existing.current_page))
    try:
        response = start_response(
            db.session,
            survey,
            user_id=_user_id(),
            taken_in_browser=_taken_in_browser(survey),
            tracking={**{key: form[key].data for key in UTM_KEYS}, "from": form.referrer.data},
            site_url=current_app.config["SITE_URL"],
            now=now,
        )
    except SurveyRefused as refused:
        db.session.rollback()
        return _refusal_page(survey, refused.reason)
    db.session.commit()
    reply = redirect(_page_url(survey, response.current_page))
    _set_cookie(reply, "resume", survey, response.resume_token, response.version.definition["settings"]["resume_days"] * 86400)
    return reply


def take_resume(slug: str, token: str):
    response = find_resumable(db.session, slug, token=token[:100], user_id=None, now=utcnow())
    if response is None:
        return _refusal_page(_survey_or_404(slug), "link_expired", 404)
    survey = response.survey
    if response.submitted_at is not None:
        # A sent response's link shows the reader their answers, which they may delete.
        reply = redirect(url_for("surveys.own_answers", slug=survey.slug))
        _set_cookie(reply, "done", survey, response.resume_token, DONE_COOKIE_SECONDS)
        return reply
    reply = redirect(_page_url(survey, response.current_page))
    _set_cookie(reply, "resume", survey, response.resume_token, response.version.definition["settings"]["resume_days"] * 86400)
    return reply


@reads_nul_itself
@csrf.exempt
@limiter.limit(lambda: current_app.config["SURVEY_PAGE_RATE_LIMIT"], methods=["POST"], key_func=_address_and_browser)
def take_page(slug: str, number: int):
    now = utcnow()
    survey, response = _survey_and_response(slug, now)
    if response is None:
        flash("Please start the survey here.", "info")
        return redirect(url_for("surveys.take_intro", slug=slug))
    if response.submitted_at is not None:
        return redirect(url_for("surveys.take_thanks", slug=slug))
    state = availability(survey, now)
    if state != "open":  # closed while the reader was answering
        return _refusal_page(survey, state)
    definition = response.version.definition
    index = number - 1
    if index not in visible_pages(definition, response.answers) or index > response.current_page:
        flash(PAGE_MESSAGES["out_of_order"], "error")
        return redirect(_page_url(survey, response.current_page))
    page = definition["pages"][index]
    form = PageForm()
    if request.method == "GET":
        return _render_page(survey, response, index, form, raw_from_answers(page, response.answers))
    return _post_page(survey, response, index, form, now)


def _post_page(survey: Survey, response: Response, index: int, form: PageForm, now: datetime):
    definition = response.version.definition
    page = definition["pages"][index]
    last = index == len(definition["pages"]) - 1
    earlier = {k: v for k, v in response.answers.items() if k not in page_answer_keys(page)}
    result = read_page(page, request.form, earlier)

    def again(message_key: str | None = None, status: int = 422, errors=None, **details):
        db.session.rollback()
        message = PAGE_MESSAGES[message_key].format(**details) if message_key else None
        return _render_page(survey, response, index, form, result.raw, errors=errors or {}, message=message, status=status)

    form.validate()
    if form.csrf_failed():
        return again("csrf", 400)
    if form.honeypot_filled(request.form):
        return again("honeypot", 400)
    allowed = page_field_names(page) | PageForm.OWN_FIELDS | {current_app.config.get("CAPTCHA_FIELD")}
    if set(request.form) - allowed:
        return again("unknown_fields", 400)
    action = form.chosen_action(request.form)
    if action == "back":
        target = save_page(db.session, response, index, result.valid, forward=False, now=now)
        db.session.commit()
        return redirect(_page_url(survey, target))
    if not result.ok:
        return again(errors=result.errors)
    if not last:
        target = save_page(db.session, response, index, result.answers, forward=True, now=now)
        db.session.commit()
        return redirect(_page_url(survey, target))
    if _captcha_required(definition) and not _captcha_passed():
        return again("captcha", 400)
    # The reply is made before the write: on SQLite the write lock is held from the UPDATE to
    # the commit, so nothing else runs in between (and after the commit, `survey` would be read
    # again).
    reply = redirect(url_for("surveys.take_thanks", slug=survey.slug))
    # The browser that answered keeps the response's token, so the reader can see and delete it.
    _set_cookie(reply, "done", survey, response.resume_token, DONE_COOKIE_SECONDS)
    reply.delete_cookie(_cookie_name("resume", survey.slug), path=f"/surveys/{survey.slug}")
    try:
        submit_response(
            db.session,
            response,
            result.answers,
            signed_in_user_id=_user_id(),
            wants_link=bool(form.link_account.data),
            # Surveys asks membership through its one public function.
            sight_plus_of=lambda user_id: sight_plus_at(user_id, now),
            now=now,
        )
    except SurveyRefused as refused:
        db.session.rollback()
        if refused.reason == "incomplete":
            flash(PAGE_MESSAGES["incomplete"], "error")
            return redirect(_page_url(survey, refused.page_index))
        if refused.reason == "too_fast":
            return again("too_fast", 400, wait=refused.wait_seconds)
        return _refusal_page(survey, refused.reason)
    db.session.commit()
    return reply


def _captcha_required(definition: dict) -> bool:
    return bool(current_app.config.get("CAPTCHA_PROVIDER") and definition["settings"]["captcha"])


def _render_page(survey, response, index, form, raw, *, errors=None, message=None, status=200):
    definition = response.version.definition
    page = definition["pages"][index]
    earlier = {k: v for k, v in response.answers.items() if k not in page_answer_keys(page)}
    shown = visible_pages(definition, response.answers)
    last = index == len(definition["pages"]) - 1
    user_id = _user_id()
    account_rule = definition["settings"]["one_response_per"] == "account"
    can_link = bool(
        last and user_id and not account_rule and not account_has_submitted(db.session, survey, user_id)
    )
    return (
        render_template(
            "surveys/page.html",
            survey=survey,
            definition=definition,
            page=page,
            questions=question_views(
                shown_questions(page, earlier), raw, errors, page_question_ids={q["id"] for q in page["questions"]}
            ),
            errors=errors or {},
            message=message,
            form=form,
            number=index + 1,
            position=shown.index(index) + 1 if index in shown else 1,
            total=len(shown),
            first=index == shown[0],
            last=last,
            can_link=can_link,
            linked_by_rule=bool(last and account_rule),
            honeypot_field=HONEYPOT_FIELD,
            honeypot_label=HONEYPOT_LABEL,
            captcha=_captcha_required(definition) and last,
            resume_url=url_for("surveys.take_resume", slug=survey.slug, token=response.resume_token, _external=True),
            resume_until=resume_expires_at(response),
        ),
        status,
    )


def take_thanks(slug: str):
    survey = _survey_or_404(slug)
    # A member is thanked; everyone else sees the Sight+ ask (here, never among the questions).
    member = current_user.is_authenticated and sight_plus_at(current_user.id, utcnow())
    if not member:
        count_ask(db.session, survey, clicked=False)
        db.session.commit()
    return render_template(
        "surveys/thanks.html",
        survey=survey,
        definition=survey.current_version.definition,
        member=member,
        threshold_cents=current_app.config["SIGHT_PLUS_THRESHOLD_CENTS"],
    )


def take_ask(slug: str):
    """The Sight+ card's link: counted (not who clicked), then on to giving, with the source."""
    survey = _survey_or_404(slug)
    count_ask(db.session, survey, clicked=True)
    db.session.commit()
    return redirect("/donate?" + urlencode({"source": ask_source(survey)}))


def _own_response(survey: Survey) -> Response | None:
    """The response this browser sent (or is answering), found by the token its cookie holds."""
    token = _read_cookie("done", survey, DONE_COOKIE_SECONDS)
    if not isinstance(token, str):
        token = _read_cookie("resume", survey, RESUME_COOKIE_SECONDS)
    return response_by_token(db.session, survey, token) if isinstance(token, str) else None


def own_answers(slug: str):
    survey = _survey_or_404(slug)
    response = _own_response(survey)
    answers = labelled_answers(response.version.definition, response.answers) if response else []
    return render_template(
        "surveys/own_answers.html", survey=survey, response=response, answers=answers, form=DeleteAnswersForm()
    )


@csrf.exempt  # the form checks its token, with the survey pages' longer lifetime
def delete_own_answers(slug: str):
    survey = _survey_or_404(slug)
    form = DeleteAnswersForm()
    response = _own_response(survey)
    if not form.validate() or response is None:
        flash("Nothing was deleted: please try again from this page.", "error")
        return redirect(url_for("surveys.own_answers", slug=slug))
    delete_own_response(db.session, response, utcnow())
    db.session.commit()
    reply = make_response(render_template("surveys/answers_deleted.html", survey=survey))
    reply.delete_cookie(_cookie_name("done", survey.slug), path=f"/surveys/{survey.slug}")
    reply.delete_cookie(_cookie_name("resume", survey.slug), path=f"/surveys/{survey.slug}")
    return reply
