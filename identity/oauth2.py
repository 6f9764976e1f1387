"""Authlib does the protocol; this module only answers its questions: find this client, save this
code or token, who is the user, which claims, which key. One `AuthorizationServer` for the process,
bound to each app by `init_app`; the routes in views.py only call its `create_*_response`."""

from __future__ import annotations

import time

from authlib.common.security import generate_token
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import InvalidRequestError, grants
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import grants as oidc_grants
from authlib.oidc.rpinitiated import EndSessionEndpoint
from flask import Flask, current_app, g
from flask_login import current_user, logout_user

from accounts.models import User
from accounts.operations import end_sessions
from identity import keys
from identity import operations as ops
from identity.claims import pairwise_subject, reader_claims
from identity.models import PUBLIC, digest
from membership.context import Settings
from sight.db import utcnow
from sight.extensions import db

AUTH_METHODS = ["client_secret_basic", "client_secret_post", PUBLIC]


def issuer() -> str:
    return current_app.config["PUBLIC_URL"].rstrip("/")


def key_file() -> str | None:
    return current_app.config.get("IDENTITY_SIGNING_KEY_FILE")


def active_key() -> keys.ActiveKey:
    """The signing key, read once per request (Authlib asks for the key, its algorithm and its id).
    Development and tests make their first key on demand; production has the file."""
    if "identity_signing_key" not in g:
        g.identity_signing_key = keys.signing_key(
            db.session, key_file(), utcnow(), may_create=current_app.config["APP_ENV"] != "production")
    return g.identity_signing_key


def jwks() -> dict:
    return keys.published_keys(db.session, key_file(), utcnow())


def claims_for(user: User, client, scope: str) -> dict:
    claims = reader_claims(db.session, user, scope, now=utcnow(), settings=Settings.from_config(current_app.config))
    return {"sub": pairwise_subject(client, user.id), **claims}


def active_user(user_id: int) -> User | None:
    user = db.session.get(User, user_id)
    return user if user is not None and user.is_active else None


class StrictCodeChallenge(CodeChallenge):
    """PKCE with S256 only; a public client must send it (RFC 9700 §2.1.1). A confidential
    client may."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if grant.request.client.is_public and not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': this client must use PKCE (S256).")
        if data.get("code_challenge") and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Unsupported 'code_challenge_method': only S256 is accepted.")
        return super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    AUTHORIZATION_CODE_LENGTH = 48

    def save_authorization_code(self, code, request):
        payload = request.payload.data
        ops.save_code(
            db.session, code=code, client=request.client, user_id=request.user.id,
            redirect_uri=request.payload.redirect_uri, scope=request.scope or "",
            nonce=payload.get("nonce"), code_challenge=payload.get("code_challenge"),
            code_challenge_method=payload.get("code_challenge_method"),
            auth_time=utcnow(), now=utcnow(),
        )

    def query_authorization_code(self, code, client):
        return ops.redeem_code(db.session, code, client, utcnow())

    def delete_authorization_code(self, authorization_code):
        # Marked used when it was redeemed; kept, so a replay can find what it issued.
        pass

    def authenticate_user(self, authorization_code):
        return active_user(authorization_code.user_id)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        return ops.use_refresh_token(db.session, refresh_token, self.request.client, utcnow())

    def authenticate_user(self, refresh_token):
        return active_user(refresh_token.user_id)

    def revoke_old_credential(self, refresh_token):
        # Its refresh token was used up when it was presented; its access token runs out by itself.
        pass


class OpenIDCode(oidc_grants.OpenIDCode):
    """ID tokens: signed by the active key, `sub` pairwise, claims fresh from the Sight+ rule."""

    def exists_nonce(self, nonce, request):
        return ops.code_nonce_seen(db.session, request.client, nonce)

    def resolve_client_private_key(self, client):
        return active_key().private

    def get_client_algorithm(self, client):
        return active_key().algorithm

    def get_encode_header(self, client):
        key = active_key()
        return {"alg": key.algorithm, "kid": key.kid, "typ": "JWT"}

    def get_client_claims(self, client):
        now = int(time.time())
        return {
            "iss": issuer(),
            "aud": client.client_id,
            "iat": now,
            "exp": now + int(keys.ID_TOKEN_LIFETIME.total_seconds()),
        }

    def get_compatible_claims(self, request):
        # The one place that sees both the site and the reader: the pairwise subject.
        claims = super().get_compatible_claims(request)
        claims["sub"] = pairwise_subject(request.client, request.user.id)
        return claims

    def generate_user_info(self, user, scope):
        return reader_claims(db.session, user, scope, now=utcnow(), settings=Settings.from_config(current_app.config))


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def query_token(self, token_string, token_type_hint):
        return ops.token_by_value(db.session, token_string, token_type_hint)

    def revoke_token(self, token, request):
        is_refresh = token.refresh_token_hash == digest(request.form["token"])
        ops.revoke_token(db.session, token, whole_family=is_refresh, now=utcnow())


class EndSession(EndSessionEndpoint):
    """RP-initiated logout: the site sends the reader here to sign out of Sight too."""

    def get_server_jwks(self):
        return jwks()

    def end_session(self, end_session_request):
        if current_user.is_authenticated:
            end_sessions(current_user)
            logout_user()


class AccessTokens(BearerTokenValidator):
    def authenticate_token(self, token_string):
        # Closing an account or disabling a site revokes its tokens; checked here as well, so that
        # a token can never outlive either.
        token = ops.access_token(db.session, token_string)
        if token is None or token.client.disabled_at is not None or active_user(token.user_id) is None:
            return None
        return token


def _query_client(client_id):
    return ops.active_client(db.session, client_id)


def _save_token(token, request):
    ops.save_token(
        db.session, token, client=request.client, user_id=request.user.id,
        code=request.authorization_code, previous=request.refresh_token, now=utcnow(),
    )


def _expires_in(client, grant_type) -> int:
    return int(ops.ACCESS_TOKEN_LIFETIME.total_seconds())


server = AuthorizationServer(query_client=_query_client, save_token=_save_token)
server.register_grant(AuthorizationCodeGrant, [StrictCodeChallenge(required=True), OpenIDCode(require_nonce=False)])
server.register_grant(RefreshTokenGrant)
server.register_endpoint(Revocation)
server.register_endpoint(EndSession)

resource_protector = ResourceProtector()
resource_protector.register_token_validator(AccessTokens())


def init_app(app: Flask) -> None:
    server.init_app(app)
    # Set here rather than through Authlib's OAUTH2_* settings: these are rules, not settings.
    server.register_token_generator(
        "default",
        BearerTokenGenerator(
            access_token_generator=lambda **kwargs: generate_token(42),
            refresh_token_generator=lambda **kwargs: generate_token(48),
            expires_generator=_expires_in,
        ),
    )
