"""Password rules and hashing (argon2id)."""

from __future__ import annotations

import gzip
from functools import cache, lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 256
# Django's list of 20,000 common passwords (lower-cased; compiled by Royce Williams), BSD licence.
COMMON_PASSWORDS_FILE = Path(__file__).with_name("data") / "common-passwords.txt.gz"

# `PASSWORD_HASHING` picks one of these. "standard" is argon2-cffi's default: argon2id with the
# RFC 9106 "low memory" parameters; when a later release raises them, `needs_rehash` notices and
# the next sign-in stores a fresh hash. "fast" is for the test suite only (the configuration
# refuses it in production): the same algorithm at the lowest cost, so that thousands of
# sign-ins take seconds instead of minutes.
PROFILES = {
    "standard": PasswordHasher(),
    "fast": PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
}
hasher = PROFILES["standard"]


def use_profile(name: str) -> None:
    """Hash with the named profile from now on, in this process (set once by the app factory)."""
    global hasher
    hasher = PROFILES[name]


@cache
def _dummy_hash(profile: PasswordHasher) -> str:
    """Verified against when the email is unknown, so that a miss takes as long as a hit."""
    return profile.hash("not a real password, only for timing")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def password_problem(password: str) -> str | None:
    """Why this password may not be used, in words for the person choosing it; None if fine."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    if password.strip().lower() in common_passwords():
        return "That password is too common: it is on lists that attackers try first. Choose another."
    if len(set(password)) < 4:
        return "That password is too easy to guess. Choose another."
    return None


def hash_password(password: str) -> str:
    return hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if password_hash is None:
        _spend_the_same_time(password)
        return False
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return hasher.check_needs_rehash(password_hash)


def _spend_the_same_time(password: str) -> None:
    try:
        hasher.verify(_dummy_hash(hasher), password)
    except VerificationError:
        pass
