"""Membership: donations through Stripe, the ledger, Sight+ rules, the member area, benefits.

Other packages use only `sight_plus_at`.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app
from sqlalchemy.orm import Session

from accounts.models import User
from accounts.personal_data import register_erasure_step, register_personal_data
from membership import commands, staff_views, views  # noqa: F401  (staff_views adds routes to views.bp)
from membership import models  # noqa: F401  (tables known to migrations)
from membership.personal_data import close_giving, giving_section
from membership.status import status_for_user
from sight.extensions import db


def sight_plus_at(user_id: int, t: datetime) -> bool:
    """Whether the user was (or is) Sight+ at time t."""
    return status_for_user(
        db.session,
        user_id,
        t,
        threshold_cents=current_app.config["SIGHT_PLUS_THRESHOLD_CENTS"],
        grace_days=current_app.config["SIGHT_PLUS_GRACE_DAYS"],
    ).is_member


def _close_giving(session: Session, user: User, now: datetime) -> None:
    close_giving(session, views.gateway(), user, now)


def init_app(app: Flask) -> None:
    app.register_blueprint(views.bp)
    commands.init_app(app)
    register_personal_data(app, "giving", giving_section)
    register_erasure_step(app, _close_giving)
