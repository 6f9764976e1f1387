"""What a site learns about a reader: a pairwise `sub`, and only the claims of the scopes the
reader allowed. `sight_plus` is asked of the one Sight+ rule at the moment of issue, never stored."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from zoneinfo import ZoneInfo

from authlib.oauth2.rfc6749 import scope_to_list
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from accounts.models import AccountToken, User
from identity.models import Client
from membership.context import Settings
from membership.status import sight_plus_status_of

# Scope → the claims it releases, as the consent page lists them.
SCOPE_DESCRIPTIONS = {
    "openid": "that you have a Sight account (an identifier made for this site alone)",
    "profile": "your name",
    "email": "your email address, and whether you have confirmed it",
    "sight_plus": "whether you are Sight+ now, and until when",
}


def pairwise_subject(client: Client, user_id: int) -> str:
    """OIDC Core §8.1: the same reader gets a different, stable `sub` at each site."""
    mac = hmac.new(client.subject_salt.encode(), f"user:{user_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def email_is_verified(session: Session, user_id: int) -> bool:
    """Only a reader who has used a link we emailed has shown the address is theirs."""
    return bool(
        session.scalar(
            select(exists().where(AccountToken.user_id == user_id, AccountToken.used_at.is_not(None)))
        )
    )


def reader_claims(session: Session, user: User, scope: str, *, now: datetime, settings: Settings) -> dict:
    """The claims of `scope` (without `sub`, which depends on the site)."""
    scopes = set(scope_to_list(scope) or [])
    claims: dict = {}
    if "profile" in scopes:
        claims["name"] = user.name
    if "email" in scopes:
        claims["email"] = user.email
        claims["email_verified"] = email_is_verified(session, user.id)
    if "sight_plus" in scopes:
        status = sight_plus_status_of(session, user.id, now, settings=settings)
        claims["sight_plus"] = status.is_member
        if status.is_member and status.until is not None:
            # The day it ends where the magazine is, as its pages write dates.
            claims["sight_plus_until"] = status.until.astimezone(ZoneInfo(settings.display_timezone)).date().isoformat()
    return claims
