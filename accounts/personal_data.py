"""What we hold about a person, to download, and how to remove it when they close their account.

Each package registers its part: `register_personal_data(app, "donations", fn)` where
`fn(session, user) -> dict` (JSON-ready), and `register_erasure_step(app, fn)` where
`fn(session, user, now)` removes or anonymises that package's personal details. Erasure steps run
inside the same transaction as the closing of the account, before the email is replaced; they
never call another service, because that transaction must not wait on the network. What other
services must forget is done by `register_after_close(app, fn)`, `fn(session, user_id, now)`, run
once the closing has committed; such a step leaves its own mark to retry from when it fails.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from flask import Flask
from sqlalchemy import Text, cast, delete, or_, select, update
from sqlalchemy.orm import Session

from accounts.models import AccountToken, Role, User
from accounts.operations import AccountError, LastAdmin, end_sessions, other_active_admins
from sight.models import AuditEntry, OutboxMessage

PersonalDataProvider = Callable[[Session, User], dict]
ErasureStep = Callable[[Session, User, datetime], None]
AfterClose = Callable[[Session, int, datetime], None]

REMOVED = "(removed when the account was closed)"

log = logging.getLogger("accounts.personal_data")


def register_personal_data(app: Flask, name: str, provider: PersonalDataProvider) -> None:
    providers = app.extensions.setdefault("accounts_personal_data", {})
    if name in providers:
        raise ValueError(f"personal data section {name!r} is registered twice")
    providers[name] = provider


def register_erasure_step(app: Flask, step: ErasureStep) -> None:
    app.extensions.setdefault("accounts_erasure_steps", []).append(step)


def register_after_close(app: Flask, step: AfterClose) -> None:
    app.extensions.setdefault("accounts_after_close", []).append(step)


def after_close_steps(app: Flask) -> list[AfterClose]:
    return list(app.extensions.get("accounts_after_close", []))


def personal_data_providers(app: Flask) -> dict[str, PersonalDataProvider]:
    return dict(app.extensions.get("accounts_personal_data", {}))


def erasure_steps(app: Flask) -> list[ErasureStep]:
    return list(app.extensions.get("accounts_erasure_steps", []))


def export_personal_data(
    session: Session, user: User, providers: dict[str, PersonalDataProvider], *, now: datetime
) -> dict:
    """Everything we hold about `user`, one section per registered package."""
    data = {"exported_at": now.isoformat()}
    for name, provider in sorted(providers.items()):
        data[name] = provider(session, user)
    return data


def closed_email(user: User) -> str:
    """Unique, so the address is free for a new account, and undeliverable (RFC 6761 `.invalid`)."""
    return f"closed-{user.id}@invalid"


def close_account(
    session: Session, user: User, steps: Iterable[ErasureStep], *, now: datetime
) -> None:
    """Remove the person's details, keep the row (donations still point at it), sign them out."""
    if user.closed_at is not None:
        raise AccountError("This account is already closed.")
    if user.role is Role.admin and other_active_admins(session, user) == 0:
        raise LastAdmin("You are the only admin: make someone else an admin before closing your account.")
    for step in steps:
        step(session, user, now)
    user.name = ""
    user.email = closed_email(user)
    user.password_hash = None
    user.totp_secret = None
    user.totp_last_step = None
    user.role = Role.reader
    user.closed_at = now
    user.updated_at = now
    end_sessions(user)
    session.flush()


def finish_closing(session: Session, user_id: int, steps: Iterable[AfterClose], *, now: datetime) -> None:
    """Run the after-close steps, each committed on its own. The account is closed already, whatever
    happens here: a step that fails is logged and rolled back, and its package retries it later."""
    for step in steps:
        try:
            step(session, user_id, now)
            session.commit()
        except Exception:  # any failure: the person must still see their account closed
            session.rollback()
            log.exception("After closing account %s, %s failed; it is retried later", user_id, step.__qualname__)


def account_section(session: Session, user: User) -> dict:
    return {
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "created_at": user.created_at.isoformat(),
        "has_password": user.password_hash is not None,
        "has_second_factor": user.totp_secret is not None,
    }


def mail_section(session: Session, user: User) -> dict:
    # Bodies are left out: they hold one-time links, which are not the person's data.
    messages = session.scalars(
        select(OutboxMessage).where(_mail_to(user)).order_by(OutboxMessage.created_at)
    )
    return {
        "messages": [
            {
                "to": m.to_address,
                "subject": m.subject,
                "kind": m.kind,
                "queued_at": m.created_at.isoformat(),
                "sent_at": m.sent_at.isoformat() if m.sent_at else None,
            }
            for m in messages
        ]
    }


def erase_account_details(session: Session, user: User, now: datetime) -> None:
    """The accounts package's own erasure: its links, and the mail we sent or meant to send."""
    session.execute(delete(AccountToken).where(AccountToken.user_id == user.id))
    session.execute(
        delete(OutboxMessage)
        .where(_mail_to(user), OutboxMessage.sent_at.is_(None))
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(OutboxMessage)
        .where(_mail_to(user))
        .values(to_address=closed_email(user), body_text=REMOVED, body_html=None, user_id=user.id)
        .execution_options(synchronize_session=False)
    )


def erase_from_audit_details(session: Session, user: User, now: datetime) -> None:
    """Audit entries about the person (e.g. "receipt resent to …") keep the account number and say
    the closed address instead of theirs. Who *acted* keeps their email: staff stay accountable."""
    mentioning = session.scalars(select(AuditEntry).where(cast(AuditEntry.details, Text).contains(user.email)))
    for entry in mentioning:
        entry.details = _replaced(entry.details, user.email, closed_email(user))


def _replaced(value, email: str, replacement: str):
    if isinstance(value, dict):
        return {key: _replaced(item, email, replacement) for key, item in value.items()}
    if isinstance(value, list):
        return [_replaced(item, email, replacement) for item in value]
    if isinstance(value, str):
        return value.replace(email, replacement)
    return value


def _mail_to(user: User):
    return or_(OutboxMessage.user_id == user.id, OutboxMessage.to_address == user.email)


def init_app(app: Flask) -> None:
    register_personal_data(app, "account", account_section)
    register_personal_data(app, "mail", mail_section)
    register_erasure_step(app, erase_account_details)
    register_erasure_step(app, erase_from_audit_details)
