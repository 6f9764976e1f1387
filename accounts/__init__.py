"""Accounts: users, roles, sign-in, password reset, data export and erasure."""

from __future__ import annotations

from flask import Flask

from accounts.models import User
from sight.extensions import db, login_manager


@login_manager.user_loader
def load_user(user_id: str):
    id_part, _, version = user_id.partition(":")
    if not id_part.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(id_part))
    # A session from before the last sign-out (or password change) no longer counts.
    if user is None or user.session_version != int(version) or not user.is_active:
        return None
    return user


def init_app(app: Flask) -> None:
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
