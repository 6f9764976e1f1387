"""Sign-in, registration, emailed links, the second factor and account settings."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import segno
from markupsafe import Markup
from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from accounts import operations as ops
from accounts.blueprint import ACCOUNT_HOME, bp
from accounts.development import development_account_refused
from accounts.forms import (
    ChangePasswordForm,
    CloseAccountForm,
    ConfirmLinkForm,
    EmailLinkForm,
    NewPasswordForm,
    RegisterForm,
    SignInForm,
    SignOutForm,
    TotpForm,
)
from accounts.models import TokenPurpose, User, normalize_email
from accounts.passwords import verify_password
from accounts.personal_data import (
    after_close_steps,
    close_account,
    erasure_steps,
    export_personal_data,
    finish_closing,
    personal_data_providers,
)
from sight.db import utcnow
from sight.extensions import db, limiter

PENDING = "accounts_pending_second_factor"
LINK_NEXT = "accounts_sign_in_link_next"
SETUP_SECRET = "accounts_totp_setup_secret"
PENDING_SECONDS = 600
MAX_CODE_FAILURES = 5

SIGN_IN_LINK_PURPOSES = (TokenPurpose.sign_in, TokenPurpose.invite)


# --- helpers ---------------------------------------------------------------------------


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site; anything that could leave the site is dropped."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _email_key() -> str:
    return "email:" + normalize_email(request.form.get("email", ""))


def _pending_key() -> str:
    pending = session.get(PENDING) or {}
    return f"pending-user:{pending.get('user_id', 'none')}"


def _failed(response) -> bool:
    """Count only attempts that did not sign anyone in (a success redirects)."""
    return response.status_code != 302


def link_builder(endpoint: str):
    """Emailed links point at PUBLIC_URL: mail is also sent outside requests, and behind proxies."""
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    return lambda raw: base + url_for(endpoint, token=raw)


def _needs_second_factor(user: User) -> bool:
    return user.is_staff or user.totp_secret is not None


def _finish_sign_in(user: User, next_url: str | None, *, choose_password: bool = False):
    """Sign `user` in, or, when they need a second factor, remember them until they give it."""
    if development_account_refused(user, current_app.config["PUBLIC_URL"]):
        flash(
            "The development staff account cannot sign in on a site that others can reach: "
            "its password is published. Create a real account with `flask users create`.",
            "error",
        )
        return redirect(url_for("accounts.sign_in"))
    if _needs_second_factor(user):
        session[PENDING] = {
            "user_id": user.id,
            "version": user.session_version,
            "next": next_url,
            "since": utcnow().timestamp(),
            "choose_password": choose_password,
        }
        if user.totp_secret is None:
            return redirect(url_for("accounts.totp_setup"))
        return redirect(url_for("accounts.totp"))
    return _signed_in(user, next_url, choose_password)


def _home_of(user: User) -> str:
    """Where someone lands after signing in when no `next` was asked for: staff on their dashboard."""
    return url_for("accounts.staff_dashboard") if user.is_staff else ACCOUNT_HOME


def _signed_in(user: User, next_url: str | None, choose_password: bool):
    session.pop(PENDING, None)
    session.pop(SETUP_SECRET, None)
    login_user(user)
    if choose_password:
        flash("You're signed in. Choose a password for next time.", "success")
        return redirect(url_for("accounts.password"))
    return redirect(safe_next(next_url) or _home_of(user))


def _pending_user() -> User | None:
    pending = session.get(PENDING)
    if not pending:
        return None
    if utcnow().timestamp() - pending.get("since", 0) > PENDING_SECONDS:
        session.pop(PENDING, None)
        return None
    user = db.session.get(User, pending["user_id"])
    if user is None or not user.is_active or user.session_version != pending["version"]:
        session.pop(PENDING, None)
        return None
    return user


def _start_again():
    flash("Please sign in again.", "info")
    return redirect(url_for("accounts.sign_in"))


# --- registration and password sign-in -------------------------------------------------


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def register():
    if current_user.is_authenticated:
        return redirect(ACCOUNT_HOME)
    form = RegisterForm()
    next_url = safe_next(request.args.get("next"))
    if form.validate_on_submit():
        try:
            user = ops.register(
                db.session,
                name=form.name.data,
                email=form.email.data,
                password=form.password.data,
                now=utcnow(),
            )
        except ops.AccountError as error:
            form[error.field].errors.append(error.message)
        else:
            db.session.commit()
            login_user(user)
            flash("Welcome to Sight. Your account is ready.", "success")
            return redirect(next_url or ACCOUNT_HOME)
    return render_template("accounts/register.html", form=form, next_url=next_url)


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
@limiter.limit("10 per 15 minutes", methods=["POST"], key_func=_email_key, deduct_when=_failed)
def sign_in():
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or _home_of(current_user))
    form = SignInForm()
    if form.validate_on_submit():
        user = ops.authenticate(
            db.session, email=form.email.data, password=form.password.data, now=utcnow()
        )
        if user is None:
            db.session.rollback()
            form.password.errors.append(
                "That email and password don't match an account. Check both, or use an emailed link."
            )
        else:
            db.session.commit()
            return _finish_sign_in(user, next_url)
    return render_template("accounts/sign_in.html", form=form, next_url=next_url)


@bp.route("/sign-out", methods=["GET", "POST"])
def sign_out():
    form = SignOutForm()
    if not current_user.is_authenticated:
        return redirect(url_for("sight.home"))
    if form.validate_on_submit():
        ops.end_sessions(current_user)
        db.session.commit()
        logout_user()
        session.clear()
        flash("You've signed out.", "info")
        return redirect(url_for("sight.home"))
    return render_template("accounts/sign_out.html", form=form)


# --- emailed links ---------------------------------------------------------------------


@bp.route("/sign-in/link", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
@limiter.limit("3 per 15 minutes", methods=["POST"], key_func=_email_key)
def sign_in_link():
    form = EmailLinkForm()
    next_url = safe_next(request.args.get("next"))
    if form.validate_on_submit():
        ops.request_sign_in_link(
            db.session,
            email=form.email.data,
            link=link_builder("accounts.use_sign_in_link"),
            now=utcnow(),
        )
        db.session.commit()
        # Opened in this same browser, the link goes back where the person was heading.
        session[LINK_NEXT] = next_url
        return render_template("accounts/link_sent.html", email=form.email.data, what="sign-in link")
    return render_template("accounts/link_request.html", form=form, next_url=next_url)


@bp.route("/sign-in/link/<token>", methods=["GET", "POST"])
@limiter.limit("30 per hour", methods=["POST"])
def use_sign_in_link(token: str):
    # The GET only asks for a click: mail scanners that open links must not use them up.
    form = ConfirmLinkForm()
    try:
        if form.validate_on_submit():
            used = ops.use_link(db.session, token, SIGN_IN_LINK_PURPOSES, now=utcnow())
            user = used.user
            choose_password = used.purpose is TokenPurpose.invite and user.password_hash is None
            db.session.commit()
            return _finish_sign_in(user, session.pop(LINK_NEXT, None), choose_password=choose_password)
        ops.check_link(db.session, token, SIGN_IN_LINK_PURPOSES, now=utcnow())
    except ops.LinkProblem as problem:
        db.session.rollback()
        return _link_problem(problem, "accounts.sign_in_link", "Email me a new sign-in link")
    return render_template("accounts/link_confirm.html", form=form)


@bp.route("/password/reset", methods=["GET", "POST"])
@limiter.limit("20 per hour", methods=["POST"])
@limiter.limit("3 per 15 minutes", methods=["POST"], key_func=_email_key)
def reset_request():
    form = EmailLinkForm()
    if form.validate_on_submit():
        ops.request_password_reset(
            db.session,
            email=form.email.data,
            link=link_builder("accounts.reset_password"),
            now=utcnow(),
        )
        db.session.commit()
        return render_template("accounts/link_sent.html", email=form.email.data, what="password reset link")
    return render_template("accounts/reset_request.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit("30 per hour", methods=["POST"])
def reset_password(token: str):
    form = NewPasswordForm()
    try:
        if form.validate_on_submit():
            ops.reset_password(
                db.session, raw_token=token, new_password=form.password.data, now=utcnow()
            )
            db.session.commit()
            if current_user.is_authenticated:
                logout_user()
            flash("Your password has been changed. Sign in with it now.", "success")
            return redirect(url_for("accounts.sign_in"))
        ops.check_link(db.session, token, (TokenPurpose.reset,), now=utcnow())
    except ops.LinkProblem as problem:
        db.session.rollback()
        return _link_problem(problem, "accounts.reset_request", "Email me a new reset link")
    except ops.PasswordRejected as error:
        db.session.rollback()
        form.password.errors.append(error.message)
    return render_template("accounts/reset_password.html", form=form)


def _link_problem(problem: ops.LinkProblem, request_endpoint: str, button: str):
    form = EmailLinkForm()
    form.submit.label.text = button
    status = 404 if problem.reason == "invalid" else 410
    return (
        render_template(
            "accounts/link_problem.html",
            problem=problem,
            form=form,
            action=url_for(request_endpoint),
        ),
        status,
    )


# --- second factor ---------------------------------------------------------------------


@bp.route("/sign-in/totp", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
@limiter.limit("5 per minute;20 per hour", methods=["POST"], key_func=_pending_key, deduct_when=_failed)
def totp():
    user = _pending_user()
    if user is None:
        return _start_again()
    if user.totp_secret is None:
        return redirect(url_for("accounts.totp_setup"))
    form = TotpForm()
    if form.validate_on_submit():
        if ops.verify_totp(db.session, user, form.code.data, now=utcnow()):
            db.session.commit()
            pending = session[PENDING]
            return _signed_in(user, pending.get("next"), pending.get("choose_password", False))
        db.session.rollback()
        locked_out = ops.count_totp_failure(db.session, user, max_failures=MAX_CODE_FAILURES)
        db.session.commit()
        if locked_out:
            session.pop(PENDING, None)
            flash("That code was wrong too many times.", "error")
            return redirect(url_for("accounts.sign_in"))
        form.code.errors.append("That code isn't right, or has already been used. Try the newest one.")
    return render_template("accounts/totp.html", form=form)


@bp.route("/sign-in/totp/setup", methods=["GET", "POST"])
@limiter.limit("30 per minute", methods=["POST"])
@limiter.limit("10 per minute;30 per hour", methods=["POST"], key_func=_pending_key, deduct_when=_failed)
def totp_setup():
    user = _pending_user()
    if user is None:
        return _start_again()
    if user.totp_secret is not None:
        return redirect(url_for("accounts.totp"))
    return _totp_setup_page(user, on_success=lambda: _signed_in(
        user, session[PENDING].get("next"), session[PENDING].get("choose_password", False)
    ))


@bp.route("/account/settings/second-factor", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per minute", methods=["POST"])
def settings_totp():
    def done():
        flash("Your authenticator app is set up. You'll be asked for a code when you sign in.", "success")
        return redirect(url_for("accounts.settings"))

    return _totp_setup_page(current_user._get_current_object(), on_success=done)


def _totp_setup_page(user: User, on_success):
    # The secret waits in the (signed) session until a code proves the app has it.
    secret = session.get(SETUP_SECRET) or ops.new_totp_secret()
    session[SETUP_SECRET] = secret
    form = TotpForm()
    if form.validate_on_submit():
        if ops.enable_totp(db.session, user, secret=secret, code=form.code.data, now=utcnow()):
            db.session.commit()
            session.pop(SETUP_SECRET, None)
            return on_success()
        form.code.errors.append("That code doesn't match. Check the key was typed exactly, then try the newest code.")
    uri = ops.totp_uri(secret, user.email)
    return render_template(
        "accounts/totp_setup.html",
        form=form,
        secret_groups=[secret[i : i + 4] for i in range(0, len(secret), 4)],
        uri=uri,
        # An image in a data: URI, drawn here: nothing is fetched from anyone else.
        qr_image=segno.make(uri, error="m").svg_data_uri(scale=5, border=4, dark="#1b1b1f"),
        replacing=user.totp_secret is not None,
    )


# --- account settings ------------------------------------------------------------------


def register_settings_section(app, section) -> None:
    """A package adds a part to the settings page: `section(session, user) -> html` (its own template)."""
    app.extensions.setdefault("accounts_settings_sections", []).append(section)


@bp.get("/account/settings")
@login_required
def settings():
    user = current_user._get_current_object()
    sections = [Markup(section(db.session, user)) for section in current_app.extensions.get("accounts_settings_sections", [])]
    return render_template("accounts/settings.html", sign_out_form=SignOutForm(), sections=sections)


@bp.route("/account/settings/password", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per 15 minutes", methods=["POST"], deduct_when=_failed)
def password():
    form = ChangePasswordForm()
    has_password = current_user.password_hash is not None
    if form.validate_on_submit():
        try:
            ops.change_password(
                db.session,
                current_user,
                current_password=form.current_password.data,
                new_password=form.password.data,
                now=utcnow(),
            )
        except ops.AccountError as error:
            db.session.rollback()
            form[error.field].errors.append(error.message)
        else:
            db.session.commit()
            # Every other session has ended; this one carries on with the new version.
            login_user(current_user._get_current_object())
            flash("Your password has been saved. Other devices have been signed out.", "success")
            return redirect(url_for("accounts.settings"))
    return render_template("accounts/password.html", form=form, has_password=has_password)


@bp.get("/account/settings/my-data.json")
@login_required
def download_data():
    data = export_personal_data(
        db.session,
        current_user,
        personal_data_providers(current_app),
        now=utcnow(),
    )
    db.session.rollback()
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False, default=str),
        mimetype="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="sight-my-data.json"',
            "Cache-Control": "no-store",
        },
    )


@bp.route("/account/settings/close", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per 15 minutes", methods=["POST"], deduct_when=_failed)
def close():
    form = CloseAccountForm()
    has_password = current_user.password_hash is not None
    if form.validate_on_submit():
        user = current_user._get_current_object()
        if has_password and not verify_password(user.password_hash, form.password.data or ""):
            form.password.errors.append("That is not your password.")
        elif not has_password and (form.confirmation.data or "").strip().lower() != form.CONFIRMATION:
            form.confirmation.errors.append(f'Type "{form.CONFIRMATION}" to confirm.')
        else:
            try:
                now = utcnow()
                close_account(db.session, user, erasure_steps(current_app), now=now)
            except ops.AccountError as error:
                db.session.rollback()
                flash(error.message, "error")
                return redirect(url_for("accounts.settings"))
            db.session.commit()
            finish_closing(db.session, user.id, after_close_steps(current_app), now=now)
            logout_user()
            session.clear()
            flash("Your account is closed and your personal details have been removed.", "info")
            return redirect(url_for("sight.home"))
    return render_template("accounts/close.html", form=form, has_password=has_password)
