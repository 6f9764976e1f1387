"""The development staff account: its password and second-factor secret are published (the
README, `flask seed`), so it may sign in only where the site is served from this computer."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from accounts.models import User

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
