"""The OpenID Provider's tables: registered sites (clients), what a reader allowed each site
(grants), authorization codes, tokens and signing keys.

Every secret a site or a reader's browser holds (client secret, code, access and refresh token) is
kept only as its SHA-256: a leaked table signs no one in. Clients are built on Authlib's
`ClientMixin` (not its SQLAlchemy mixin, which keeps secrets in plain text)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from authlib.oauth2.rfc6749 import ClientMixin, scope_to_list
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from sight.db import utcnow
from sight.extensions import db

# A public client (a site that cannot keep a secret) has none and must use PKCE.
PUBLIC = "none"
AUTH_METHODS = ("client_secret_basic", "client_secret_post", PUBLIC)
SCOPES = ("openid", "email", "profile", "sight_plus")


def digest(secret: str) -> str:
    """SHA-256, hex: the secrets hashed here are long and random, so no salt or stretching is needed."""
    return hashlib.sha256(secret.encode()).hexdigest()


class Client(ClientMixin, db.Model):
    """A site that signs readers in with Sight+, registered by staff."""

    __tablename__ = "identity_client"
    __table_args__ = (
        CheckConstraint(
            "token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'none')",
            name="known_auth_method",
        ),
        CheckConstraint(
            "(token_endpoint_auth_method = 'none') = (secret_hash IS NULL)", name="secret_unless_public"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(30))
    redirect_uris: Mapped[list] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list] = mapped_column(JSON, default=list)
    # Space-separated, from SCOPES.
    allowed_scopes: Mapped[str] = mapped_column(String(200))
    # The magazine's own site: readers are not asked to consent to it.
    first_party: Mapped[bool] = mapped_column(default=False)
    # Keys this client's pairwise `sub`: random per client, so two sites get unrelated subs.
    subject_salt: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[datetime | None]

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == PUBLIC

    @property
    def client_metadata(self) -> dict:
        # Read by Authlib's RP-initiated logout endpoint.
        return {"post_logout_redirect_uris": list(self.post_logout_redirect_uris)}

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        # OpenID Connect: every authorization request names its redirect_uri, matched exactly.
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        allowed = set(scope_to_list(self.allowed_scopes))
        return " ".join(s for s in scope_to_list(scope) if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.secret_hash is None:
            return False
        return hmac.compare_digest(self.secret_hash, digest(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # The token and revocation endpoints alike: only the way the site was registered with.
        return method == self.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in ("authorization_code", "refresh_token")


class Grant(db.Model):
    """A reader allowed a site to learn these scopes: the "Sites you've signed in to" list.
    Revoking it (or closing the account) revokes every token the site holds for the reader."""

    __tablename__ = "identity_grant"
    __table_args__ = (Index("ix_identity_grant_user_client", "user_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    client_id: Mapped[int] = mapped_column(ForeignKey("identity_client.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

    client: Mapped[Client] = relationship()


class AuthorizationCode(db.Model):
    """A code given to the reader's browser for one site: used once, within 60 seconds."""

    __tablename__ = "identity_authorization_code"
    __table_args__ = (CheckConstraint("expires_at > created_at", name="expires_after_created"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("identity_client.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(200))
    nonce: Mapped[str | None] = mapped_column(String(255))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(10))
    auth_time: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    # Set when redeemed; a second redemption revokes what the first one issued.
    used_at: Mapped[datetime | None]

    client: Mapped[Client] = relationship()

    # What Authlib asks of a code (AuthorizationCodeMixin, OIDC's additions).
    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return int(self.auth_time.timestamp())

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class Token(db.Model):
    """An access token (15 minutes) and its refresh token. Refreshing makes a new row of the same
    family and marks this one's refresh token used; presenting a used one revokes the family."""

    __tablename__ = "identity_token"
    __table_args__ = (Index("ix_identity_token_user_client", "user_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("identity_client.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    # Every token descended from one authorization code shares it.
    family: Mapped[str] = mapped_column(String(32), index=True)
    authorization_code_id: Mapped[int | None] = mapped_column(
        ForeignKey("identity_authorization_code.id", ondelete="SET NULL"), index=True
    )
    scope: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    access_expires_at: Mapped[datetime]
    refresh_expires_at: Mapped[datetime | None]
    refresh_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    client: Mapped[Client] = relationship()

    # What Authlib asks of a token (TokenMixin). `is_expired` and `is_revoked` read the clock and
    # the row as they are when Authlib asks, during the request.
    def check_client(self, client: Client) -> bool:
        return self.client_id == client.id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int((self.access_expires_at - self.issued_at).total_seconds())

    def is_expired(self) -> bool:
        return self.access_expires_at <= utcnow()

    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def get_user(self) -> User | None:
        return db.session.get(User, self.user_id)

    def get_client(self) -> Client:
        return self.client


class SigningKey(db.Model):
    """A key that signs (or signed) ID tokens. Its private half is here unless it lives in
    IDENTITY_SIGNING_KEY_FILE; a retired key stays published in JWKS until its tokens expire."""

    __tablename__ = "identity_signing_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    algorithm: Mapped[str] = mapped_column(String(10))
    public_jwk: Mapped[dict] = mapped_column(JSON)
    private_pem: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retired_at: Mapped[datetime | None]
