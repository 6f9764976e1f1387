"""The writes of the accounts package. Each takes plain values, an actor where one acts, and `now`;
each may flush, and the caller commits."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.models import AccountToken, Role, TokenPurpose, User, normalize_email
from accounts.passwords import hash_password, needs_rehash, password_problem, verify_password
from sight.audit import record_audit
from sight.mail import queue_templated_mail

SIGN_IN_LINK_TTL = timedelta(minutes=20)
RESET_LINK_TTL = timedelta(hours=1)
INVITE_LINK_TTL = timedelta(days=7)
TOTP_ISSUER = "Sight"

# Turns the secret of a new link into the full address that goes in the email.
LinkBuilder = Callable[[str], str]


class AccountError(Exception):
    """A request the rules refuse; `message` is written for the person who made it."""

    field: str | None = None

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class EmailTaken(AccountError):
    field = "email"


class PasswordRejected(AccountError):
    field = "password"


class WrongPassword(AccountError):
    field = "current_password"


class LastAdmin(AccountError):
    field = "role"


class LinkProblem(AccountError):
    """An emailed link that cannot be used; `reason` is "invalid", "used" or "expired"."""

    def __init__(self, reason: str):
        super().__init__(
            {
                "used": "This link has already been used.",
                "expired": "This link has expired.",
            }.get(reason, "This link is not valid.")
        )
        self.reason = reason


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def _check_password_rules(password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise PasswordRejected(problem)


# --- registration and passwords --------------------------------------------------------


def register(session: Session, *, name: str, email: str, password: str, now: datetime) -> User:
    _check_password_rules(password)
    return create_account(
        session, email=email, name=name, password=password, role=Role.reader, now=now
    )


def create_account(
    session: Session,
    *,
    email: str,
    name: str = "",
    password: str | None,
    role: Role,
    now: datetime,
) -> User:
    """A new account; the unique email constraint, not a look-up, decides whether it is taken."""
    user = User(
        email=normalize_email(email),
        name=name.strip(),
        password_hash=hash_password(password) if password else None,
        role=role,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise EmailTaken(
            "An account already uses this email. Sign in, or ask for a sign-in link."
        ) from None
    return user


def account_for_email(session: Session, *, email: str, name: str, now: datetime) -> User:
    """The account with this email (matched case-insensitively), or a new reader account without a
    password for it (a donor who gives before signing up). The unique email constraint settles two
    requests creating the same account at once: the loser finds the winner's row."""
    existing = find_user(session, email)
    if existing is not None:
        return existing
    try:
        return create_account(session, email=email, name=name, password=None, role=Role.reader, now=now)
    except EmailTaken:
        return find_user(session, email)


def authenticate(session: Session, *, email: str, password: str, now: datetime) -> User | None:
    """The account these credentials open, or None (the same answer for an unknown email)."""
    user = find_user(session, email)
    if user is None or not user.is_active:
        verify_password(None, password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        user.updated_at = now
    return user


def end_sessions(user: User) -> None:
    """Every session cookie issued before this stops working (see `User.get_id`)."""
    user.session_version += 1


def change_password(
    session: Session,
    user: User,
    *,
    current_password: str | None,
    new_password: str,
    now: datetime,
) -> None:
    """Change (or, for someone who has none yet, set) a password and end every other session."""
    if user.password_hash is not None and not verify_password(
        user.password_hash, current_password or ""
    ):
        raise WrongPassword("That is not your current password.")
    _check_password_rules(new_password)
    user.password_hash = hash_password(new_password)
    user.updated_at = now
    end_sessions(user)
    session.flush()


# --- emailed links ---------------------------------------------------------------------


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(
    session: Session, user: User, purpose: TokenPurpose, *, now: datetime, ttl: timedelta
) -> str:
    """A new link secret for `user`; only its hash is stored."""
    raw = secrets.token_urlsafe(32)
    session.add(
        AccountToken(
            user=user,
            purpose=purpose,
            token_hash=_hash_token(raw),
            created_at=now,
            expires_at=now + ttl,
        )
    )
    return raw


def _find_token(
    session: Session, raw: str, purposes: tuple[TokenPurpose, ...], now: datetime
) -> AccountToken:
    token = session.scalar(select(AccountToken).where(AccountToken.token_hash == _hash_token(raw)))
    if token is None or token.purpose not in purposes or not token.user.is_active:
        raise LinkProblem("invalid")
    if token.used_at is not None:
        raise LinkProblem("used")
    if token.expires_at <= now:
        raise LinkProblem("expired")
    return token


def check_link(
    session: Session, raw: str, purposes: tuple[TokenPurpose, ...], *, now: datetime
) -> AccountToken:
    """The link's token if it can still be used, without using it up (raises LinkProblem)."""
    return _find_token(session, raw, purposes, now)


def use_link(
    session: Session, raw: str, purposes: tuple[TokenPurpose, ...], *, now: datetime
) -> AccountToken:
    """Use a link up. Of two requests racing with the same link, only one gets past the UPDATE."""
    token = _find_token(session, raw, purposes, now)
    claimed = session.execute(
        update(AccountToken)
        .where(AccountToken.id == token.id, AccountToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise LinkProblem("used")
    session.refresh(token)
    return token


def request_sign_in_link(session: Session, *, email: str, link: LinkBuilder, now: datetime) -> None:
    """Email a one-time sign-in link if the address has an account; say nothing either way."""
    _email_link(
        session,
        email=email,
        purpose=TokenPurpose.sign_in,
        ttl=SIGN_IN_LINK_TTL,
        template="accounts/email/sign_in_link.html",
        link=link,
        now=now,
    )


def request_password_reset(session: Session, *, email: str, link: LinkBuilder, now: datetime) -> None:
    """Email a one-time reset link if the address has an account; say nothing either way."""
    _email_link(
        session,
        email=email,
        purpose=TokenPurpose.reset,
        ttl=RESET_LINK_TTL,
        template="accounts/email/reset_link.html",
        link=link,
        now=now,
    )


def _email_link(
    session: Session,
    *,
    email: str,
    purpose: TokenPurpose,
    ttl: timedelta,
    template: str,
    link: LinkBuilder,
    now: datetime,
) -> None:
    user = find_user(session, email)
    if user is None or not user.is_active:
        return
    raw = issue_token(session, user, purpose, now=now, ttl=ttl)
    queue_templated_mail(
        session,
        to=user.email,
        template=template,
        values={"name": user.name, "link": link(raw), "minutes": int(ttl.total_seconds() // 60)},
        kind=f"{purpose.value}_link",
        user_id=user.id,
        now=now,
    )


def reset_password(session: Session, *, raw_token: str, new_password: str, now: datetime) -> User:
    """Set a new password from a reset link; the link, and every older reset link, stops working."""
    _check_password_rules(new_password)
    token = use_link(session, raw_token, (TokenPurpose.reset,), now=now)
    user = token.user
    session.execute(
        update(AccountToken)
        .where(
            AccountToken.user_id == user.id,
            AccountToken.purpose == TokenPurpose.reset,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    user.password_hash = hash_password(new_password)
    user.updated_at = now
    end_sessions(user)
    session.flush()
    return user


# --- second factor (TOTP) --------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code this is, allowing one step of clock drift either way."""
    code = "".join(code.split())
    if not (code.isdecimal() and len(code) == 6):
        return None
    # Phones with other scripts may type other digits (e.g. Arabic-Indic); the code is the same.
    code = "".join(str(unicodedata.decimal(ch)) for ch in code)
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def verify_totp(session: Session, user: User, code: str, *, now: datetime) -> bool:
    """Whether `code` is the user's current code and has not been used before."""
    if user.totp_secret is None:
        return False
    step = _matching_step(user.totp_secret, code, now)
    if step is None:
        return False
    # Compare and set in one statement, so two requests racing with the same code cannot both pass.
    accepted = session.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step, totp_failures=0)
        .execution_options(synchronize_session=False)
    )
    if accepted.rowcount != 1:
        return False
    session.refresh(user)
    return True


def count_totp_failure(session: Session, user: User, *, max_failures: int) -> bool:
    """Count a wrong code; at `max_failures` in a row, end the sign-in waiting for a code (and
    every session of the account: someone has its password) and return True.

    The count is kept on the account, so that replaying an older session cookie cannot reset it.
    """
    session.execute(
        update(User)
        .where(User.id == user.id)
        .values(totp_failures=User.totp_failures + 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(user)
    if user.totp_failures < max_failures:
        return False
    user.totp_failures = 0
    end_sessions(user)
    session.flush()
    return True


def enable_totp(session: Session, user: User, *, secret: str, code: str, now: datetime) -> bool:
    """Keep `secret` as the user's second factor once they prove their app shows its codes."""
    step = _matching_step(secret, code, now)
    if step is None:
        return False
    user.totp_secret = secret
    user.totp_last_step = step
    user.updated_at = now
    session.flush()
    return True


# --- staff and roles -------------------------------------------------------------------


def other_active_admins(session: Session, user: User) -> int:
    # Every admin row is locked (PostgreSQL), the user's own included, so that two admins demoting
    # each other at once are serialised and the second sees the first's change; SQLite's writers
    # are already one at a time.
    admin_ids = session.scalars(
        select(User.id).where(User.role == Role.admin, User.closed_at.is_(None)).with_for_update()
    ).all()
    return sum(1 for admin_id in admin_ids if admin_id != user.id)


def change_role(session: Session, target: User, role: Role, *, actor: User, now: datetime) -> bool:
    """Give `target` a new role (audited). False if it already had it. Raises LastAdmin."""
    if target.role is role:
        return False
    if target.role is Role.admin and other_active_admins(session, target) == 0:
        raise LastAdmin(
            "There must always be at least one admin: make someone else an admin first."
        )
    previous = target.role
    target.role = role
    target.updated_at = now
    if target.id != actor.id:
        # Their next request needs a fresh sign-in: gaining staff access means passing the
        # second factor, and losing it must take effect at once.
        end_sessions(target)
    record_audit(
        session,
        actor=actor,
        action="role.change",
        target=f"user:{target.id}",
        details={"email": target.email, "from": previous.value, "to": role.value},
        now=now,
    )
    session.flush()
    return True


def invite_staff(
    session: Session,
    *,
    email: str,
    name: str,
    role: Role,
    actor: User,
    link: LinkBuilder,
    now: datetime,
) -> User:
    """Create or promote the account for `email` and email its owner a link to sign in."""
    if role not in (Role.staff, Role.admin):
        raise AccountError("Invite someone as staff or as an admin.")
    user = find_user(session, email)
    if user is None:
        user = create_account(session, email=email, name=name, password=None, role=Role.reader, now=now)
    elif name and not user.name:
        user.name = name.strip()
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="staff.invite",
        target=f"user:{user.id}",
        details={"email": user.email, "role": role.value},
        now=now,
    )
    if user.role is not Role.admin or role is Role.admin:
        change_role(session, user, role, actor=actor, now=now)
    raw = issue_token(session, user, TokenPurpose.invite, now=now, ttl=INVITE_LINK_TTL)
    queue_templated_mail(
        session,
        to=user.email,
        template="accounts/email/staff_invite.html",
        values={
            "name": user.name,
            "inviter": actor.name or actor.email,
            "role": user.role.value,
            "days": INVITE_LINK_TTL.days,
            "needs_password": user.password_hash is None,
            "link": link(raw),
        },
        kind="staff_invite",
        user_id=user.id,
        now=now,
    )
    return user


@dataclass
class AccountCounts:
    readers: int
    staff: int
    admins: int


def account_counts(session: Session) -> AccountCounts:
    rows = dict(
        session.execute(
            select(User.role, func.count()).where(User.closed_at.is_(None)).group_by(User.role)
        ).all()
    )
    return AccountCounts(
        readers=rows.get(Role.reader, 0), staff=rows.get(Role.staff, 0), admins=rows.get(Role.admin, 0)
    )
