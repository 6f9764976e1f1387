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
from identity import keys, oauth2
from identity.blueprint import bp
from identity.models import Client, Grant
from identity.operations import forget_reader, sites_section as sites_data
from identity.views import sites_section
from sight.doctor import FAIL, OK, WARN, Finding, register_doctor_check
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


def signing_key_check(session: Session, config: dict, now: datetime) -> list[Finding]:
    """`flask doctor`: the key that signs ID tokens can sign, and how many keys the JWKS publishes."""
    key_file = config.get("IDENTITY_SIGNING_KEY_FILE")
    try:
        key = keys.signing_key(session, key_file, now, may_create=False)
    except keys.KeyProblem as problem:
        level = FAIL if key_file or config["APP_ENV"] == "production" else WARN
        return [Finding(level, f"Sign in with Sight+ cannot sign ID tokens: {problem}.")]
    published = len(keys.published_keys(session, key_file, now)["keys"])
    where = "IDENTITY_SIGNING_KEY_FILE" if key_file else "the database"
    return [Finding(OK, f"ID tokens are signed with {key.algorithm} key {key.kid} from {where}; "
                        f"the JWKS publishes {published} key{'s' if published != 1 else ''}.")]


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    oauth2.init_app(app)
    register_erasure_step(app, _close_account)
    register_personal_data(app, "sign_in_with_sight_plus", lambda session, user: sites_data(session, user.id))
    register_settings_section(app, sites_section)
    register_dashboard_panel(app, _panel)
    register_doctor_check(app, signing_key_check)
