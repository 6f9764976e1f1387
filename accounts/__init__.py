"""Accounts: users, roles, sign-in, password reset, data export and erasure, and the staff shell."""

from __future__ import annotations

from flask import Flask, abort, current_app, request
from flask_login import current_user

from accounts import cli, passwords, personal_data, staff_views, views  # noqa: F401  (routes and commands on the blueprint)
from accounts.blueprint import bp
from accounts.development import development_account_check, development_account_refused
from accounts.models import User
from sight.cli import register_seeder
from sight.doctor import register_doctor_check
from sight.extensions import db, login_manager
from sight.staff import register_dashboard_panel


@login_manager.user_loader
def load_user(user_id: str):
    id_part, _, version = user_id.partition(":")
    if not id_part.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(id_part))
    # A session from before the last sign-out (or password change) no longer counts.
    if user is None or user.session_version != int(version) or not user.is_active:
        return None
    if development_account_refused(user, current_app.config["PUBLIC_URL"]):
        return None
    return user


def guard_staff_area():
    """Every URL under /staff/, whichever package serves it (or none): sign in, then be staff."""
    if request.path != "/staff" and not request.path.startswith("/staff/"):
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_staff:
        abort(403)
    return None


def init_app(app: Flask) -> None:
    passwords.use_profile(app.config["PASSWORD_HASHING"])
    login_manager.login_view = "accounts.sign_in"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    app.register_blueprint(bp)
    app.before_request(guard_staff_area)
    register_seeder(app, cli.seed_development_staff)
    register_dashboard_panel(app, staff_views.accounts_panel)
    register_doctor_check(app, development_account_check)
    personal_data.init_app(app)
