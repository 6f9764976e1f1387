"""The writes of the OpenID Provider: registering sites, what readers allow them, codes and tokens,
and their revocation. Each takes the session and `now`, flushes, and leaves the commit to its caller."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import scope_to_list
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from identity.models import AUTH_METHODS, PUBLIC, SCOPES, AuthorizationCode, Client, Grant, Token, digest
from sight.audit import Actor, record_audit

CODE_LIFETIME = timedelta(seconds=60)
ACCESS_TOKEN_LIFETIME = timedelta(minutes=15)
REFRESH_TOKEN_LIFETIME = timedelta(days=30)


class ClientProblem(Exception):
    """A client's details were refused; `field` names the form field it belongs beside."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ClientValues:
    name: str
    redirect_uris: list[str]
    scopes: list[str]
    auth_method: str = "client_secret_basic"
    post_logout_redirect_uris: list[str] | None = None
    first_party: bool = False


# --- clients ---------------------------------------------------------------------------


def _check_uris(field: str, uris: list[str], *, required: bool) -> list[str]:
    uris = [u.strip() for u in uris if u.strip()]
    if required and not uris:
        raise ClientProblem(field, "Give at least one address, starting with https://.")
    for uri in uris:
        parts = urlsplit(uri)
        local = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.fragment or not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and local)):
            raise ClientProblem(
                field, f"{uri} is not an https:// address without a #fragment (http:// only for this machine)."
            )
    return list(dict.fromkeys(uris))


def _check_values(values: ClientValues) -> tuple[list[str], list[str], str]:
    if not values.name.strip():
        raise ClientProblem("name", "Give the site a name readers will recognise.")
    if values.auth_method not in AUTH_METHODS:
        raise ClientProblem("auth_method", f"Choose one of {', '.join(AUTH_METHODS)}.")
    unknown = [s for s in values.scopes if s not in SCOPES]
    if unknown or "openid" not in values.scopes:
        raise ClientProblem("scopes", f"Scopes are openid plus any of email, profile, sight_plus; not {' '.join(unknown)}.")
    redirect_uris = _check_uris("redirect_uris", values.redirect_uris, required=True)
    logout_uris = _check_uris("post_logout_redirect_uris", values.post_logout_redirect_uris or [], required=False)
    scope = " ".join(s for s in SCOPES if s in values.scopes)
    return redirect_uris, logout_uris, scope


def register_client(session: Session, values: ClientValues, actor: Actor | None, now: datetime) -> tuple[Client, str | None]:
    """A new site; returns it and its secret (None for a public client), which is shown once."""
    redirect_uris, logout_uris, scope = _check_values(values)
    secret = None if values.auth_method == PUBLIC else secrets.token_urlsafe(32)
    client = Client(
        client_id=secrets.token_urlsafe(18),
        name=values.name.strip(),
        secret_hash=digest(secret) if secret else None,
        token_endpoint_auth_method=values.auth_method,
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=logout_uris,
        allowed_scopes=scope,
        first_party=values.first_party,
        subject_salt=secrets.token_hex(32),
        created_at=now,
    )
    session.add(client)
    session.flush()
    record_audit(
        session, actor=actor, action="identity.client_added", target=f"identity_client:{client.client_id}",
        details={"name": client.name, "redirect_uris": redirect_uris, "scopes": scope,
                 "auth_method": values.auth_method, "first_party": values.first_party},
        now=now,
    )
    return client, secret


def update_client(session: Session, client: Client, values: ClientValues, actor: Actor | None, now: datetime) -> None:
    """Change what a site may ask; how it authenticates stays as registered (a new secret is `rotate_secret`)."""
    redirect_uris, logout_uris, scope = _check_values(
        ClientValues(values.name, values.redirect_uris, values.scopes, client.token_endpoint_auth_method,
                     values.post_logout_redirect_uris, values.first_party)
    )
    client.name = values.name.strip()
    client.redirect_uris = redirect_uris
    client.post_logout_redirect_uris = logout_uris
    client.allowed_scopes = scope
    client.first_party = values.first_party
    session.flush()
    record_audit(
        session, actor=actor, action="identity.client_changed", target=f"identity_client:{client.client_id}",
        details={"name": client.name, "redirect_uris": redirect_uris, "scopes": scope, "first_party": values.first_party},
        now=now,
    )


def rotate_secret(session: Session, client: Client, actor: Actor | None, now: datetime) -> str:
    """A new secret for a confidential client; the old one stops working at once."""
    if client.is_public:
        raise ClientProblem("auth_method", "A public client has no secret to rotate.")
    secret = secrets.token_urlsafe(32)
    client.secret_hash = digest(secret)
    session.flush()
    record_audit(session, actor=actor, action="identity.client_secret_rotated",
                 target=f"identity_client:{client.client_id}", now=now)
    return secret


def disable_client(session: Session, client: Client, actor: Actor | None, now: datetime) -> None:
    """The site can no longer sign anyone in, and every token it holds stops working."""
    if client.disabled_at is not None:
        return
    client.disabled_at = now
    _revoke_tokens(session, Token.client_id == client.id, now)
    record_audit(session, actor=actor, action="identity.client_disabled",
                 target=f"identity_client:{client.client_id}", now=now)


def client_by_client_id(session: Session, client_id: str) -> Client | None:
    return session.scalar(select(Client).where(Client.client_id == client_id))


def active_client(session: Session, client_id: str | None) -> Client | None:
    """The client a request names, unless it is unknown or disabled (both answer invalid_client)."""
    if not client_id or len(client_id) > 64:
        return None
    return session.scalar(select(Client).where(Client.client_id == client_id, Client.disabled_at.is_(None)))


# --- what readers allow ----------------------------------------------------------------


def grant_for(session: Session, user_id: int, client: Client) -> Grant | None:
    return session.scalar(
        select(Grant).where(Grant.user_id == user_id, Grant.client_id == client.id, Grant.revoked_at.is_(None))
    )


def needs_consent(session: Session, user_id: int, client: Client, scope: str) -> bool:
    """First use by a site asks; so does a site asking more than the reader allowed before."""
    if client.first_party:
        return False
    grant = grant_for(session, user_id, client)
    return grant is None or not set(scope_to_list(scope) or []) <= set(scope_to_list(grant.scope) or [])


def record_grant(session: Session, user_id: int, client: Client, scope: str, now: datetime) -> Grant:
    grant = grant_for(session, user_id, client)
    if grant is None:
        grant = Grant(user_id=user_id, client_id=client.id, scope=scope, created_at=now, last_used_at=now)
        session.add(grant)
    else:
        wanted = set(scope_to_list(grant.scope) or []) | set(scope_to_list(scope) or [])
        grant.scope = " ".join(s for s in SCOPES if s in wanted)
        grant.last_used_at = now
    session.flush()
    return grant


def sites_signed_in_to(session: Session, user_id: int) -> list[Grant]:
    return list(
        session.scalars(
            select(Grant)
            .join(Client, Client.id == Grant.client_id)
            .where(Grant.user_id == user_id, Grant.revoked_at.is_(None))
            .order_by(Grant.last_used_at.desc(), Grant.id.desc())
        )
    )


def sites_section(session: Session, user_id: int) -> dict:
    """The reader's data download: which sites they allowed, what, and when (never a token)."""
    grants = session.scalars(select(Grant).where(Grant.user_id == user_id).order_by(Grant.created_at))
    return {
        "sites": [
            {"site": g.client.name, "scopes": g.scope, "first_signed_in_at": g.created_at.isoformat(),
             "last_signed_in_at": g.last_used_at.isoformat(),
             "signed_out_at": g.revoked_at.isoformat() if g.revoked_at else None}
            for g in grants
        ]
    }


def revoke_site(session: Session, user_id: int, grant_id: int, now: datetime) -> bool:
    """The reader takes back a site's access: the grant and every token it holds for them.
    False when there is no such grant of theirs."""
    grant = session.scalar(
        select(Grant).where(Grant.id == grant_id, Grant.user_id == user_id, Grant.revoked_at.is_(None))
    )
    if grant is None:
        return False
    grant.revoked_at = now
    _revoke_tokens(session, (Token.user_id == user_id) & (Token.client_id == grant.client_id), now)
    return True


def forget_reader(session: Session, user_id: int, now: datetime) -> None:
    """Closing an account: every grant and token ends, and unused codes go."""
    session.execute(
        update(Grant).where(Grant.user_id == user_id, Grant.revoked_at.is_(None)).values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    _revoke_tokens(session, Token.user_id == user_id, now)
    session.execute(
        update(AuthorizationCode).where(AuthorizationCode.user_id == user_id, AuthorizationCode.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False)
    )


# --- codes and tokens ------------------------------------------------------------------


def save_code(
    session: Session, *, code: str, client: Client, user_id: int, redirect_uri: str, scope: str,
    nonce: str | None, code_challenge: str | None, code_challenge_method: str | None,
    auth_time: datetime, now: datetime,
) -> AuthorizationCode:
    row = AuthorizationCode(
        code_hash=digest(code), client_id=client.id, user_id=user_id, redirect_uri=redirect_uri, scope=scope,
        nonce=nonce, code_challenge=code_challenge, code_challenge_method=code_challenge_method,
        auth_time=auth_time, created_at=now, expires_at=now + CODE_LIFETIME,
    )
    session.add(row)
    session.flush()
    return row


def redeem_code(session: Session, code: str, client: Client, now: datetime) -> AuthorizationCode | None:
    """The code, marked used, if it is this client's, unexpired and not used before. A code
    presented a second time revokes every token the first redemption issued (RFC 6749 §4.1.2)."""
    row = session.scalar(
        select(AuthorizationCode).where(AuthorizationCode.code_hash == digest(code), AuthorizationCode.client_id == client.id)
    )
    if row is None:
        return None
    # Conditional, so two redemptions at the same moment cannot both succeed.
    claimed = session.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.id == row.id, AuthorizationCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        _revoke_tokens(session, Token.authorization_code_id == row.id, now)
        return None
    session.refresh(row)
    if row.expires_at <= now:
        return None
    return row


def code_nonce_seen(session: Session, client: Client, nonce: str) -> bool:
    return session.scalar(
        select(AuthorizationCode.id).where(AuthorizationCode.client_id == client.id, AuthorizationCode.nonce == nonce).limit(1)
    ) is not None


def save_token(
    session: Session, token: dict, *, client: Client, user_id: int,
    code: AuthorizationCode | None, previous: Token | None, now: datetime,
) -> Token:
    """Keep the hashes of what Authlib generated; a refresh continues its predecessor's family."""
    refresh = token.get("refresh_token")
    row = Token(
        access_token_hash=digest(token["access_token"]),
        refresh_token_hash=digest(refresh) if refresh else None,
        client_id=client.id,
        user_id=user_id,
        family=previous.family if previous else uuid.uuid4().hex,
        authorization_code_id=code.id if code else (previous.authorization_code_id if previous else None),
        scope=token.get("scope") or "",
        issued_at=now,
        access_expires_at=now + timedelta(seconds=int(token["expires_in"])),
        refresh_expires_at=now + REFRESH_TOKEN_LIFETIME if refresh else None,
    )
    session.add(row)
    session.flush()
    grant = grant_for(session, user_id, client)
    if grant is not None:
        grant.last_used_at = now
    return row


def use_refresh_token(session: Session, refresh_token: str, client: Client, now: datetime) -> Token | None:
    """The token row a refresh token belongs to, its refresh token now used up; None if unknown,
    another client's, expired or revoked. A refresh token used before revokes its whole family:
    someone holds a copy."""
    row = session.scalar(select(Token).where(Token.refresh_token_hash == digest(refresh_token)))
    if row is None or row.client_id != client.id or row.revoked_at is not None:
        return None
    claimed = session.execute(
        update(Token)
        .where(Token.id == row.id, Token.refresh_used_at.is_(None))
        .values(refresh_used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        _revoke_tokens(session, Token.family == row.family, now)
        return None
    session.refresh(row)
    if row.refresh_expires_at is None or row.refresh_expires_at <= now:
        return None
    return row


def token_by_value(session: Session, value: str, hint: str | None) -> Token | None:
    hashed = digest(value)
    columns = [Token.refresh_token_hash, Token.access_token_hash]
    if hint == "access_token":
        columns.reverse()
    for column in columns:
        row = session.scalar(select(Token).where(column == hashed))
        if row is not None:
            return row
    return None


def access_token(session: Session, value: str) -> Token | None:
    return session.scalar(select(Token).where(Token.access_token_hash == digest(value)))


def revoke_token(session: Session, row: Token, *, whole_family: bool, now: datetime) -> None:
    """RFC 7009: a revoked refresh token takes its family's access tokens with it."""
    condition = (Token.family == row.family) if whole_family else (Token.id == row.id)
    _revoke_tokens(session, condition, now)


def _revoke_tokens(session: Session, condition, now: datetime) -> None:
    session.execute(
        update(Token).where(condition, Token.revoked_at.is_(None)).values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
