"""The OpenID Provider's endpoints (thin: Authlib answers) and the reader's pages: consent, and the
sites they have signed in to."""

from __future__ import annotations

from urllib.parse import urlsplit

from authlib.oauth2 import OAuth2Error
from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user

from identity import operations as ops
from identity.claims import SCOPE_DESCRIPTIONS, pairwise_subject
from identity.forms import ConsentForm, RevokeSiteForm, SignOutEverywhereForm
from identity.keys import ALGORITHMS
from identity.models import SCOPES
from identity.oauth2 import AUTH_METHODS, claims_for, issuer, jwks, resource_protector, server
from sight.db import utcnow
from sight.extensions import db
from sight.security import content_security_policy


# The site a reader is signing in to, while they are on our pages (sign-in, second factor,
# emailed link, consent): the forms there end in a redirect to it, which the
# Content-Security-Policy's form-action must allow, or the browser stops at our page.
SITE_ORIGIN = "identity_site_origin"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def allow_form_redirects_to(response, origin: str):
    csp = current_app.extensions.get("identity_csp")
    if csp is None:
        csp = current_app.extensions["identity_csp"] = content_security_policy(
            current_app.config["STRIPE_JS_URL"], current_app.config["STRIPE_API_BASE"],
            current_app.config.get("CAPTCHA_ORIGINS", []))
    response.headers["Content-Security-Policy"] = csp.replace("form-action 'self'", f"form-action 'self' {origin}")
    return response


def site_form_action(response):
    """After every page shown to a reader on their way to a site: its origin in form-action."""
    # Pages only: reading the session for every static file would mark each `Vary: Cookie`.
    if response.mimetype == "text/html" and (origin := session.get(SITE_ORIGIN)):
        allow_form_redirects_to(response, origin)
    return response


def _no_store(response):
    response = make_response(response)
    response.headers["Cache-Control"] = "no-store"
    return response


def discovery():
    base = issuer()
    return jsonify(
        {
            "issuer": base,
            "authorization_endpoint": base + url_for("identity.authorize"),
            "token_endpoint": base + url_for("identity.token"),
            "userinfo_endpoint": base + url_for("identity.userinfo"),
            "jwks_uri": base + url_for("identity.jwks_document"),
            "revocation_endpoint": base + url_for("identity.revoke"),
            "end_session_endpoint": base + url_for("identity.end_session"),
            "scopes_supported": list(SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": list(ALGORITHMS),
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "name", "email",
                                 "email_verified", "sight_plus", "sight_plus_until"],
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
        }
    )


def jwks_document():
    document = jwks()
    # The first key is made on first use in development; keep it.
    db.session.commit()
    response = jsonify(document)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def _authorization_error(error: OAuth2Error):
    """Redirect the error to the site only when its redirect_uri was checked; else tell the reader."""
    if error.redirect_uri:
        return server.handle_error_response(None, error)
    return render_template("identity/error.html", error=error), 400


def authorize():
    user = current_user._get_current_object() if current_user.is_authenticated else None
    try:
        grant = server.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        db.session.rollback()
        return _authorization_error(error)
    session[SITE_ORIGIN] = _origin(grant.request.payload.redirect_uri)
    if user is None:
        return redirect(url_for("accounts.sign_in", next=request.full_path))
    client, scope = grant.client, grant.request.scope or ""
    form = ConsentForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        if form.deny.data:
            response = server.create_authorization_response(grant=grant, grant_user=None)
            db.session.rollback()
            return response
    elif ops.needs_consent(db.session, user.id, client, scope):
        scopes = [s for s in SCOPES if s in scope.split()]
        return _no_store(render_template(
            "identity/consent.html", form=form, client=client,
            learns=[SCOPE_DESCRIPTIONS[s] for s in scopes], action=request.full_path,
        ))
    ops.record_grant(db.session, user.id, client, scope, utcnow())
    response = server.create_authorization_response(grant=grant, grant_user=user)
    db.session.commit()
    session.pop(SITE_ORIGIN, None)
    return response


def token():
    response = server.create_token_response()
    # Also on an error: a replayed code or refresh token has revoked what it issued.
    db.session.commit()
    return response


def revoke():
    response = server.create_endpoint_response("revocation")
    db.session.commit()
    return response


def userinfo():
    try:
        token = resource_protector.acquire_token(["openid"])
    except OAuth2Error as error:
        return server.handle_error_response(None, error)
    claims = claims_for(token.get_user(), token.client, token.scope)
    db.session.rollback()
    return _no_store(jsonify(claims))


def end_session():
    try:
        logout = server.validate_endpoint_request("end_session")
    except OAuth2Error as error:
        return _authorization_error(error)
    form = SignOutEverywhereForm()
    # A hint about someone else (another reader's ID token) is no reason to sign this one out unasked.
    someone_else = (
        logout.id_token_claims is not None and current_user.is_authenticated and logout.client is not None
        and logout.id_token_claims.get("sub") != pairwise_subject(logout.client, current_user.id)
    )
    if (logout.needs_confirmation or someone_else) and not form.validate_on_submit():
        # Without a valid id_token_hint anyone could link here: ask the reader first.
        page = make_response(render_template("identity/sign_out.html", form=form, client=logout.client))
        return allow_form_redirects_to(page, _origin(logout.redirect_uri)) if logout.redirect_uri else page
    response = server.create_endpoint_response("end_session", logout)
    db.session.commit()
    if response is not None:
        return response
    return render_template("identity/signed_out.html")


def revoke_site(grant_id: int):
    form = RevokeSiteForm()
    if not form.validate_on_submit():
        abort(400)
    if not ops.revoke_site(db.session, current_user.id, grant_id, utcnow()):
        abort(404)
    db.session.commit()
    flash("That site is signed out, and can no longer learn anything about you.", "success")
    return redirect(url_for("accounts.settings"))


def sites_section(session, user) -> str:
    """The settings page's "Sites you've signed in to" list (accounts shows what packages give it)."""
    return render_template(
        "identity/_sites.html", sites=ops.sites_signed_in_to(session, user.id), revoke_form=RevokeSiteForm()
    )
