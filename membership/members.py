"""Staff's view of members: search and filter, one member's story, complimentary grants, the CSV.

Nothing here stores a status: every "Sight+" below is `membership.rules` applied to the ledger,
the annual gifts and the grants, as the member area does. Functions take a session and plain
values, may flush, and leave the commit to the caller.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from accounts.models import User
from membership.links import Links
from membership.models import ComplimentaryGrant, Donor, LedgerEntry, Subscription, SubscriptionStatus
from membership.operations import Settings, queue_receipt
from membership.rules import AnnualGift, Gift, Grant, SightPlusStatus, sight_plus_status
from sight.audit import record_audit
from sight.spreadsheet import neutralise
from sight.models import AuditEntry, OutboxMessage

CURRENT_ANNUAL = (SubscriptionStatus.active, SubscriptionStatus.past_due)
REASONS = {
    "gifts": "gifts in the last 12 months",
    "annual_gift": "an annual gift",
    "complimentary": "complimentary membership",
    "none": "",
}


class StatusFilter(enum.Enum):
    all = "all"
    sight_plus = "sight_plus"
    not_sight_plus = "not_sight_plus"
    complimentary = "complimentary"
    annual = "annual"


STATUS_LABELS = {
    StatusFilter.all: "Everyone",
    StatusFilter.sight_plus: "Sight+ now",
    StatusFilter.not_sight_plus: "Not Sight+ now",
    StatusFilter.complimentary: "Complimentary Sight+ now",
    StatusFilter.annual: "Annual gift active",
}


class GrantRefused(Exception):
    """A grant or revocation that cannot be made; the message is for staff."""


# --- the rule's inputs, from rows -----------------------------------------------------


def _gift(entry: LedgerEntry) -> Gift:
    return Gift(entry.stripe_object_id, entry.paid_at, entry.amount_cents, entry.refunded_cents)


def _annual(subscription: Subscription) -> AnnualGift:
    return AnnualGift(
        subscription.stripe_subscription_id,
        subscription.status.value,
        subscription.yearly_amount_cents,
        subscription.current_period_end,
    )


def _grant(grant: ComplimentaryGrant) -> Grant:
    return Grant(grant.starts_at, grant.ends_at, grant.revoked_at)


def _covering(grants: Iterable[ComplimentaryGrant], now: datetime) -> datetime | None:
    """The end of the latest complimentary grant that covers now."""
    ends = [g.effective_end for g in map(_grant, grants) if g.starts_at <= now < g.effective_end]
    return max(ends, default=None)


def _audit(session: Session, actor: User, action: str, target: str, details: dict, now: datetime) -> AuditEntry:
    return record_audit(
        session, actor=actor, action=action, target=target, details=details, now=now
    )


# --- the list and the CSV -------------------------------------------------------------


@dataclass(frozen=True)
class MemberSummary:
    user_id: int
    email: str
    name: str
    created_at: datetime
    closed: bool
    stripe_customer_id: str | None
    status: SightPlusStatus
    complimentary_until: datetime | None
    annual_status: str | None
    annual_amount_cents: int | None
    annual_renews_at: datetime | None
    annual_cancelling: bool
    gifts: int
    first_gift_at: datetime | None
    last_gift_at: datetime | None
    net_cents: int
    refunded_cents: int

    @property
    def reason(self) -> str:
        return REASONS[self.status.reason]


def _people(search: str):
    """Everyone who has given or been given Sight+, optionally matching `search` in email or name."""
    stmt = select(User).where(
        or_(
            exists().where(Donor.user_id == User.id),
            exists().where(ComplimentaryGrant.user_id == User.id),
        )
    )
    search = search.strip()
    if search:
        stmt = stmt.where(
            or_(User.email.icontains(search, autoescape=True), User.name.icontains(search, autoescape=True))
        )
    return stmt.order_by(User.email)


def _summaries(
    session: Session, users: list[User], settings: Settings, now: datetime
) -> Iterator[MemberSummary]:
    """Summaries for a batch of users: four queries for the batch, then the rule for each."""
    user_ids = [u.id for u in users]
    donors = {d.user_id: d for d in session.scalars(select(Donor).where(Donor.user_id.in_(user_ids)))}
    donor_ids = [d.id for d in donors.values()]
    entries: dict[int, list[LedgerEntry]] = {}
    for entry in session.scalars(
        select(LedgerEntry).where(LedgerEntry.donor_id.in_(donor_ids)).order_by(LedgerEntry.paid_at)
    ):
        entries.setdefault(entry.donor_id, []).append(entry)
    subscriptions: dict[int, list[Subscription]] = {}
    for subscription in session.scalars(
        select(Subscription)
        .where(Subscription.donor_id.in_(donor_ids))
        .order_by(Subscription.current_period_end.desc(), Subscription.id.desc())
    ):
        subscriptions.setdefault(subscription.donor_id, []).append(subscription)
    grants: dict[int, list[ComplimentaryGrant]] = {}
    for grant in session.scalars(select(ComplimentaryGrant).where(ComplimentaryGrant.user_id.in_(user_ids))):
        grants.setdefault(grant.user_id, []).append(grant)

    for user in users:
        donor = donors.get(user.id)
        own_entries = entries.get(donor.id, []) if donor else []
        own_subscriptions = subscriptions.get(donor.id, []) if donor else []
        own_grants = grants.get(user.id, [])
        status = sight_plus_status(
            map(_gift, own_entries),
            map(_annual, own_subscriptions),
            map(_grant, own_grants),
            now,
            threshold_cents=settings.threshold_cents,
            grace_days=settings.grace_days,
        )
        # The newest one Stripe still renews or retries, as the member area shows it.
        annual = next((s for s in own_subscriptions if s.status in CURRENT_ANNUAL), None)
        yield MemberSummary(
            user_id=user.id,
            email=user.email,
            name=user.name,
            created_at=user.created_at,
            closed=user.closed_at is not None,
            stripe_customer_id=donor.stripe_customer_id if donor else None,
            status=status,
            complimentary_until=_covering(own_grants, now),
            annual_status=annual.status.value if annual else None,
            annual_amount_cents=annual.yearly_amount_cents if annual else None,
            annual_renews_at=annual.current_period_end if annual else None,
            annual_cancelling=bool(annual and annual.cancel_at_period_end and not annual.pending_amount_cents),
            gifts=len(own_entries),
            first_gift_at=own_entries[0].paid_at if own_entries else None,
            last_gift_at=own_entries[-1].paid_at if own_entries else None,
            net_cents=sum(e.net_cents for e in own_entries),
            refunded_cents=sum(e.refunded_cents for e in own_entries),
        )


def _matches(summary: MemberSummary, status: StatusFilter) -> bool:
    if status is StatusFilter.sight_plus:
        return summary.status.is_member
    if status is StatusFilter.not_sight_plus:
        return not summary.status.is_member
    if status is StatusFilter.complimentary:
        return summary.complimentary_until is not None
    if status is StatusFilter.annual:
        return summary.annual_status is not None
    return True


def iter_members(
    session: Session,
    *,
    search: str,
    status: StatusFilter,
    settings: Settings,
    now: datetime,
    batch_size: int = 500,
) -> Iterator[MemberSummary]:
    """Members by email, a batch at a time, so that memory stays flat however many there are."""
    people = _people(search)
    last_email: str | None = None
    while True:
        stmt = people if last_email is None else people.where(User.email > last_email)
        users = session.scalars(stmt.limit(batch_size)).all()
        if not users:
            return
        for summary in _summaries(session, list(users), settings, now):
            if _matches(summary, status):
                yield summary
        # The identity map holds rows weakly: a finished batch is let go.
        last_email = users[-1].email


@dataclass(frozen=True)
class MemberPage:
    items: list[MemberSummary]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def members_page(
    session: Session,
    *,
    search: str,
    status: StatusFilter,
    settings: Settings,
    now: datetime,
    page: int,
    per_page: int = 50,
) -> MemberPage:
    """One page of the filtered list, and how many match in all (status is the rule's, so counted here)."""
    first = (page - 1) * per_page
    items: list[MemberSummary] = []
    total = 0
    for summary in iter_members(session, search=search, status=status, settings=settings, now=now):
        if first <= total < first + per_page:
            items.append(summary)
        total += 1
    return MemberPage(items, page, per_page, total)


def account_with_email(session: Session, text: str) -> User | None:
    """An account whose email is exactly `text`, for granting Sight+ to someone who never gave."""
    return session.scalar(select(User).where(User.email == text.strip().lower())) if "@" in text else None


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _amount(cents: int | None) -> str:
    return "" if cents is None else f"{cents // 100}.{cents % 100:02d}"


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def member_csv(summaries: Iterable[MemberSummary], currency: str) -> tuple[list[str], Iterator[list[str]]]:
    """Headers and rows for the members CSV: text cells neutralised, numbers left as numbers."""
    columns = [
        # (header, value, is text)
        ("user_id", lambda s: str(s.user_id), False),
        ("email", lambda s: s.email, True),
        ("name", lambda s: s.name, True),
        ("account_created_at", lambda s: _iso(s.created_at), False),
        ("account_closed", lambda s: _yes(s.closed), True),
        ("sight_plus", lambda s: _yes(s.status.is_member), True),
        ("sight_plus_reason", lambda s: s.status.reason if s.status.is_member else "", True),
        ("sight_plus_until", lambda s: _iso(s.status.until), False),
        ("complimentary_until", lambda s: _iso(s.complimentary_until), False),
        ("annual_gift_status", lambda s: s.annual_status or "", True),
        (f"annual_gift_{currency}", lambda s: _amount(s.annual_amount_cents), False),
        ("annual_gift_renews_at", lambda s: "" if s.annual_cancelling else _iso(s.annual_renews_at), False),
        ("annual_gift_ends_at", lambda s: _iso(s.annual_renews_at) if s.annual_cancelling else "", False),
        ("gifts", lambda s: str(s.gifts), False),
        ("first_gift_at", lambda s: _iso(s.first_gift_at), False),
        ("last_gift_at", lambda s: _iso(s.last_gift_at), False),
        (f"net_last_12_months_{currency}", lambda s: _amount(s.status.cents_in_window), False),
        (f"net_total_{currency}", lambda s: _amount(s.net_cents), False),
        (f"refunded_total_{currency}", lambda s: _amount(s.refunded_cents), False),
        ("stripe_customer_id", lambda s: s.stripe_customer_id or "", True),
    ]
    headers = [neutralise(name) for name, _, _ in columns]

    def rows() -> Iterator[list[str]]:
        for summary in summaries:
            yield [
                neutralise(value(summary)) if text else value(summary)
                for _, value, text in columns
            ]

    return headers, rows()


def record_members_export(
    session: Session, *, filters: dict, actor: User, now: datetime
) -> AuditEntry:
    """Audit the export before its first byte leaves; `rows` is filled in once it has all gone."""
    entry = _audit(session, actor, "membership.export", "members", {"filters": filters, "rows": None}, now)
    session.flush()
    return entry


def finish_members_export(session: Session, audit_id: int, rows: int) -> None:
    entry = session.get(AuditEntry, audit_id)
    entry.details = {**entry.details, "rows": rows}


# --- one member -----------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A stretch of Sight+: `ends_at` is exclusive, and for the current one where it ends if nothing changes."""

    starts_at: datetime
    ends_at: datetime
    reasons: tuple[str, ...]
    current: bool


def status_history(
    gifts: list[Gift],
    annual: list[tuple[datetime, AnnualGift]],
    grants: list[Grant],
    now: datetime,
    *,
    threshold_cents: int,
    grace_days: int,
) -> list[Period]:
    """When the donor was Sight+ and why, newest first, by applying the rule at every instant
    where membership can begin: a gift paid, an annual gift first known (`annual` pairs each
    with that instant, since Stripe only tells us its present state), a grant starting.

    The ledger is read as it stands today: a refund counts from the day of the gift.
    """

    def at(t: datetime, gifts_, annual_, grants_) -> SightPlusStatus:
        known = [a for since, a in annual_ if since <= t]
        return sight_plus_status(
            gifts_, known, grants_, t, threshold_cents=threshold_cents, grace_days=grace_days
        )

    instants = sorted(
        {g.paid_at for g in gifts} | {since for since, _ in annual} | {g.starts_at for g in grants}
    )
    periods: list[Period] = []
    start: datetime | None = None
    end: datetime | None = None
    reasons: list[str] = []

    def close() -> None:
        periods.append(Period(start, end, tuple(reasons), start <= now < end))

    for t in (t for t in instants if t <= now):
        if start is not None and t > end:
            close()
            start = None
        status = at(t, gifts, annual, grants)
        if not status.is_member:
            continue
        if start is None:
            start, end, reasons = t, status.until, []
        end = max(end, status.until)
        for reason, only in (
            ("gifts", (gifts, [], [])),
            ("annual_gift", ([], annual, [])),
            ("complimentary", ([], [], grants)),
        ):
            if reason not in reasons and at(t, *only).is_member:
                reasons.append(reason)
    if start is not None:
        close()
    return periods[::-1]


@dataclass(frozen=True)
class MemberDetail:
    user: User
    donor: Donor | None
    status: SightPlusStatus
    entries: list[LedgerEntry]
    subscriptions: list[Subscription]
    grants: list[ComplimentaryGrant]
    # The grants that still cover now or later: the ones staff can revoke.
    revocable: set[int]
    history: list[Period]
    mail: list[OutboxMessage]


def member_detail(session: Session, user: User, settings: Settings, now: datetime) -> MemberDetail:
    donor = session.scalar(select(Donor).where(Donor.user_id == user.id))
    entries: list[LedgerEntry] = []
    subscriptions: list[Subscription] = []
    if donor is not None:
        entries = list(
            session.scalars(
                select(LedgerEntry).where(LedgerEntry.donor_id == donor.id).order_by(LedgerEntry.paid_at.desc())
            )
        )
        subscriptions = list(
            session.scalars(
                select(Subscription)
                .where(Subscription.donor_id == donor.id)
                .order_by(Subscription.created_at.desc(), Subscription.id.desc())
            )
        )
    grants = list(
        session.scalars(
            select(ComplimentaryGrant)
            .where(ComplimentaryGrant.user_id == user.id)
            .order_by(ComplimentaryGrant.granted_at.desc(), ComplimentaryGrant.id.desc())
        )
    )
    mail = list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.user_id == user.id)
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(200)
        )
    )

    gifts = [_gift(e) for e in entries]
    # An annual gift counts from its first paid renewal or from when we first heard of it.
    first_paid: dict[str, datetime] = {}
    for entry in reversed(entries):
        if entry.subscription_id:
            first_paid.setdefault(entry.subscription_id, entry.paid_at)
    annual = [
        (min(s.created_at, first_paid.get(s.stripe_subscription_id, s.created_at)), _annual(s))
        for s in subscriptions
    ]
    rule_grants = [_grant(g) for g in grants]
    rule = {"threshold_cents": settings.threshold_cents, "grace_days": settings.grace_days}
    return MemberDetail(
        user=user,
        donor=donor,
        status=sight_plus_status(gifts, [a for _, a in annual], rule_grants, now, **rule),
        entries=entries,
        subscriptions=subscriptions,
        grants=grants,
        revocable={
            g.id for g, r in zip(grants, rule_grants) if g.revoked_at is None and r.effective_end > now
        },
        history=status_history(gifts, annual, rule_grants, now, **rule),
        mail=mail,
    )


# --- grants and receipts --------------------------------------------------------------


def grant_complimentary(
    session: Session, *, user: User, reason: str, ends_at: datetime, actor: User, now: datetime
) -> ComplimentaryGrant:
    """Sight+ from now until `ends_at` (exclusive), whatever the donor gives; audited with the reason."""
    reason = reason.strip()
    if not reason:
        raise GrantRefused("Say why this membership is given.")
    if ends_at <= now:
        raise GrantRefused("The end date must be in the future.")
    if user.closed_at is not None:
        raise GrantRefused("This account is closed.")
    grant = ComplimentaryGrant(
        user_id=user.id,
        reason=reason,
        starts_at=now,
        ends_at=ends_at,
        granted_by_id=actor.id,
        granted_at=now,
    )
    session.add(grant)
    session.flush()
    details = {"grant_id": grant.id, "reason": reason, "starts_at": _iso(now), "ends_at": _iso(ends_at)}
    _audit(session, actor, "membership.grant", f"user:{user.id}", details, now)
    return grant


def revoke_complimentary(
    session: Session, *, grant: ComplimentaryGrant, reason: str, actor: User, now: datetime
) -> None:
    """End a complimentary membership now; the row stays, with who ended it and why."""
    reason = reason.strip()
    if not reason:
        raise GrantRefused("Say why this membership ends.")
    if grant.revoked_at is not None or _grant(grant).effective_end <= now:
        raise GrantRefused("This complimentary membership has already ended.")
    grant.revoked_at = now
    grant.revoked_by_id = actor.id
    grant.revoke_reason = reason
    details = {"grant_id": grant.id, "reason": reason, "was_ending_at": _iso(grant.ends_at)}
    _audit(session, actor, "membership.revoke", f"user:{grant.user_id}", details, now)


def resend_receipt(
    session: Session, *, entry: LedgerEntry, settings: Settings, links: Links, actor: User, now: datetime
) -> str:
    """Queue the receipt for a ledger entry again; returns the address it goes to."""
    queue_receipt(session, entry, settings, links, now)
    to = entry.donor.user.email
    _audit(session, actor, "membership.resend_receipt", f"ledger_entry:{entry.id}", {"to": to}, now)
    return to


def record_reconcile(
    session: Session, *, drift: list[str], since: datetime | None, actor: User, now: datetime
) -> None:
    details = {"since": _iso(since) or None, "differences": len(drift), "lines": drift[:200]}
    _audit(session, actor, "stripe.reconcile", "ledger", details, now)
