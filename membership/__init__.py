"""Membership: donations through Stripe, the ledger, Sight+ rules, the member area, benefits.

Other packages use only `sight_plus_at`.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app

from membership import commands, staff_views, views  # noqa: F401  (staff_views adds routes to views.bp)
from membership import models  # noqa: F401  (tables known to migrations)
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


def init_app(app: Flask) -> None:
    app.register_blueprint(views.bp)
    commands.init_app(app)
