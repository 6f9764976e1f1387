"""The development staff account: its password and second-factor secret are published (the
README, `flask seed`), so it may sign in only where the site is served from this computer."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from accounts.models import User
from sight.doctor import FAIL, OK, Finding

DEV_STAFF_EMAIL = "staff@sight.example"
# Development only: `flask seed` refuses to create this account when APP_ENV=production.
DEV_STAFF_PASSWORD = "sight-development-staff"
DEV_STAFF_TOTP_SECRET = "SIGHTDEVSTAFFTOTPXQ4MJ7ZK2LWP5VN"


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_development_account(user: User) -> bool:
    return user.email == DEV_STAFF_EMAIL or user.totp_secret == DEV_STAFF_TOTP_SECRET


def development_account_refused(user: User, public_url: str) -> bool:
    """True when `user` is the development account and the site is reachable beyond this computer."""
    return is_development_account(user) and not is_loopback_url(public_url)


def development_account_check(session: Session, config: dict, now) -> list[Finding]:
    """`flask doctor`: the account should not exist where others can reach the site."""
    user = session.scalar(
        select(User).where(or_(User.email == DEV_STAFF_EMAIL, User.totp_secret == DEV_STAFF_TOTP_SECRET))
    )
    if user is None:
        return [Finding(OK, "No development staff account.")]
    if is_loopback_url(config["PUBLIC_URL"]):
        return [Finding(OK, f"The development staff account {user.email} exists; it signs in only on this computer.")]
    return [Finding(FAIL, f"The development staff account {user.email} exists on a site others can reach "
                          "(its password is published; it is refused sign-in). Delete it.")]
