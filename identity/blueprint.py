"""Every URL of the identity package: the OpenID Provider's endpoints, the reader's consent and
sites pages, and the staff pages for registering sites (admins only)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_login import login_required
from werkzeug.exceptions import HTTPException

from accounts.roles import admin_required
from identity import staff_views, views
from sight.errors import render_error
from sight.extensions import csrf, limiter

bp = Blueprint("identity", __name__, cli_group="identity")

# Per address: a site's server makes a token request per sign-in and per refresh.
TOKEN_RATE_LIMIT = "120 per minute"
AUTHORIZE_RATE_LIMIT = "60 per minute"

# Called by sites' servers, not by browsers: errors are JSON, never a page.
MACHINE_ENDPOINTS = {"identity.token", "identity.revoke", "identity.userinfo", "identity.jwks_document",
                     "identity.discovery"}


@bp.errorhandler(HTTPException)
def machine_error(error: HTTPException):
    if request.endpoint in MACHINE_ENDPOINTS:
        code = "slow_down" if error.code == 429 else "invalid_request"
        return jsonify({"error": code, "error_description": error.description}), error.code
    return render_error(error.code)


bp.after_app_request(views.site_form_action)


def _machine(rule: str, view, methods=("GET",)) -> None:
    bp.add_url_rule(rule, view_func=csrf.exempt(view), methods=list(methods))


_machine("/.well-known/openid-configuration", views.discovery)
_machine("/oauth/jwks", views.jwks_document)
_machine("/oauth/token", limiter.limit(TOKEN_RATE_LIMIT)(views.token), ("POST",))
_machine("/oauth/revoke", views.revoke, ("POST",))
_machine("/oauth/userinfo", views.userinfo, ("GET", "POST"))
# Sites may send readers here with a GET or a POST; the confirmation form carries its own CSRF token.
_machine("/oauth/end-session", views.end_session, ("GET", "POST"))

# The authorization endpoint: a page for the reader (sign in, consent with CSRF)
bp.add_url_rule("/oauth/authorize", view_func=limiter.limit(AUTHORIZE_RATE_LIMIT)(views.authorize),
                methods=["GET", "POST"])
bp.add_url_rule("/account/sites/<int:grant_id>/revoke", view_func=login_required(views.revoke_site), methods=["POST"])

# Staff (admins): the sites that may sign readers in
_admin_views: dict = {}


def _admin(rule: str, view, methods=("GET",)) -> None:
    guarded = _admin_views.setdefault(view, admin_required(view))
    bp.add_url_rule(rule, endpoint=view.__name__, view_func=guarded, methods=list(methods))


_admin("/staff/sites", staff_views.clients)
_admin("/staff/sites/new", staff_views.new_client, ("GET", "POST"))
_admin("/staff/sites/<int:client_pk>", staff_views.edit_client, ("GET", "POST"))
_admin("/staff/sites/<int:client_pk>/rotate-secret", staff_views.rotate_client_secret, ("POST",))
_admin("/staff/sites/<int:client_pk>/disable", staff_views.disable_client, ("POST",))
