"""Membership: donations through Stripe, the ledger, Sight+ rules, the member area, benefits.

Other packages use only `sight_plus_at` and `gifts_from_source`.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import User
from accounts.personal_data import register_after_close, register_erasure_step, register_personal_data
from membership import cli
from membership import models  # noqa: F401  (tables known to migrations)
from membership.blueprint import bp
from membership.context import context_for
from membership.models import Donation, DonationStatus
from membership.donors import donor_for_user
from membership.personal_data import close_giving, finish_closing_in_stripe, giving_section
from membership.status import sight_plus_status_of
from sight.extensions import db


def sight_plus_at(user_id: int, t: datetime) -> bool:
    """Whether the user was (or is) Sight+ at time t."""
    return sight_plus_status_of(db.session, user_id, t, settings=context_for(current_app).settings).is_member


def gifts_from_source(source: str) -> int:
    """How many completed gifts were started from `source` (a page that links to /donate?source=…)."""
    return db.session.scalar(
        select(func.count(Donation.id)).where(Donation.source == source, Donation.status == DonationStatus.completed)
    )


def _finish_closing_in_stripe(session: Session, user_id: int, now: datetime) -> None:
    donor = donor_for_user(session, user_id)
    if donor is not None:
        finish_closing_in_stripe(session, context_for(current_app), donor.id, now)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    cli.init_app(app)
    register_personal_data(app, "giving", giving_section)
    register_erasure_step(app, close_giving)
    register_after_close(app, _finish_closing_in_stripe)
