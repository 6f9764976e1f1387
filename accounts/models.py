"""People with an account: readers (donors too), staff and admins, and their emailed links."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sight.db import utcnow
from sight.extensions import db


class Role(enum.Enum):
    reader = "reader"
    staff = "staff"
    admin = "admin"


def normalize_email(email: str) -> str:
    """Accounts are matched by email regardless of case; we store the lower-cased form."""
    return email.strip().lower()


class User(UserMixin, db.Model):
    __tablename__ = "user_account"
    __table_args__ = (CheckConstraint("session_version >= 1", name="session_version_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    # None for a donor who has never set a password (they sign in with an emailed link).
    password_hash: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, create_constraint=True, length=20, name="role"),
        default=Role.reader,
    )
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # The last TOTP time step accepted, so that a code seen over someone's shoulder cannot be replayed.
    totp_last_step: Mapped[int | None]
    # Wrong codes in a row. Kept here, not in the session cookie, so that replaying an older
    # cookie cannot reset the count.
    totp_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    # Bumped on sign-out and password change: every session holding an older value ends.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Set when the person closes their account; personal details are removed then.
    closed_at: Mapped[datetime | None]

    tokens: Mapped[list[AccountToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def is_active(self) -> bool:
        return self.closed_at is None

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.staff, Role.admin)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin


class TokenPurpose(enum.Enum):
    sign_in = "sign_in"
    reset = "reset"
    invite = "invite"


class AccountToken(db.Model):
    """A link we emailed. Only a hash of its secret is kept; `used_at` makes it work once."""

    __tablename__ = "account_token"
    __table_args__ = (CheckConstraint("expires_at > created_at", name="expires_after_created"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[TokenPurpose] = mapped_column(
        Enum(TokenPurpose, native_enum=False, create_constraint=True, length=20, name="token_purpose")
    )
    # SHA-256 of the secret in the link, hex: a leaked table cannot be used to sign in.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")
