"""Sight+ benefits: what members get, edited by staff."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import User
from membership.models import Benefit
from sight.audit import record_audit

BENEFIT_FIELDS = ("title", "description", "members_content", "members_link", "position", "published")


def published_benefits(session: Session) -> list[Benefit]:
    return list(
        session.scalars(select(Benefit).where(Benefit.published.is_(True)).order_by(Benefit.position, Benefit.id))
    )


def all_benefits(session: Session) -> list[Benefit]:
    return list(session.scalars(select(Benefit).order_by(Benefit.position, Benefit.id)))


def save_benefit(
    session: Session, benefit: Benefit | None, *, values: dict, actor: User, now: datetime
) -> Benefit:
    """Create or update a Sight+ benefit; audited."""
    if benefit is None:
        benefit = Benefit(created_at=now)
        session.add(benefit)
    for name in BENEFIT_FIELDS:
        setattr(benefit, name, values[name])
    benefit.members_link = benefit.members_link or None
    benefit.updated_at = now
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="benefit.save",
        target=f"benefit:{benefit.id}",
        details={"title": benefit.title, "published": benefit.published},
        now=now,
    )
    return benefit
