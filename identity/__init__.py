"""Identity: the OpenID Provider that lets the magazine's site (and any site staff register) sign
readers in with Sight+ and learn whether they are members.

Other packages use nothing here; accounts shows `sites_section` on the settings page and runs
`forget_reader` when an account closes, both registered below."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import User
from accounts.personal_data import register_erasure_step, register_personal_data
from accounts.views import register_settings_section
from identity import cli  # noqa: F401  (commands on the blueprint)
from identity import models  # noqa: F401  (tables known to migrations)
from identity import oauth2
from identity.blueprint import bp
from identity.models import Client, Grant
from identity.operations import forget_reader, sites_section as sites_data
from identity.views import sites_section
from sight.staff import DashboardPanel, register_dashboard_panel


def _close_account(session: Session, user: User, now: datetime) -> None:
    forget_reader(session, user.id, now)


def _panel(session: Session, now: datetime) -> DashboardPanel:
    sites = session.scalar(select(func.count(Client.id)).where(Client.disabled_at.is_(None)))
    readers = session.scalar(select(func.count(func.distinct(Grant.user_id))).where(Grant.revoked_at.is_(None)))
    return DashboardPanel(
        "Sign in with Sight+",
        [("Sites", str(sites)), ("Readers signed in to a site", str(readers))],
        link_url="/staff/sites",
        link_text="Sites (admins)",
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    oauth2.init_app(app)
    register_erasure_step(app, _close_account)
    register_personal_data(app, "sign_in_with_sight_plus", lambda session, user: sites_data(session, user.id))
    register_settings_section(app, sites_section)
    register_dashboard_panel(app, _panel)
