"""Read models for the staff pages: the members list and its CSV, one member's story, the dashboard.

Nothing here stores a status: every "Sight+" below comes from `membership.status`, as the member
area's does (the list's filters and the dashboard's count from its SQL form of the rule). Only the
export's audit entry is written here (the caller commits).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from zoneinfo import ZoneInfo

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import Session

from accounts.models import User
from membership.context import Settings
from membership.models import ComplimentaryGrant, Donor, LedgerEntry, Subscription, SubscriptionStatus
from membership.rules import WINDOW, AnnualGift, Gift, Grant, SightPlusStatus, sight_plus_status, was_member_on
from membership.status import as_annual, as_gift, as_grant, covered_by_a_grant_at, giving_of, sight_plus_ids_at
from sight.audit import record_audit
from sight.models import AuditEntry, OutboxMessage
from sight.spreadsheet import neutralise
from sight.staff import DashboardPanel

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


def _covering(grants: Iterable[ComplimentaryGrant], now: datetime) -> datetime | None:
    """The end of the latest complimentary grant that covers now."""
    ends = [g.effective_end for g in map(as_grant, grants) if g.starts_at <= now < g.effective_end]
    return max(ends, default=None)


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


def _listed(search: str, *columns) -> Select:
    """`columns` of everyone who has paid, has an annual gift or was given Sight+, optionally
    matching `search` in email or name (a gift started and never paid does not make a donor)."""
    stmt = select(*columns).where(
        or_(
            exists().where(Donor.user_id == User.id, LedgerEntry.donor_id == Donor.id),
            exists().where(Donor.user_id == User.id, Subscription.donor_id == Donor.id),
            exists().where(ComplimentaryGrant.user_id == User.id),
        )
    )
    return _matching(stmt, search)


def _matching(stmt: Select, search: str) -> Select:
    search = search.strip()
    if not search:
        return stmt
    return stmt.where(
        or_(User.email.icontains(search, autoescape=True), User.name.icontains(search, autoescape=True))
    )


def _listed_with_status(
    search: str, status: StatusFilter, settings: Settings, now: datetime, *columns
) -> Select:
    """The list's people with a status filter, in SQL, for its pages and count; `_matches` says
    the same of each summary (the property tests hold the two equal)."""
    if status is StatusFilter.sight_plus:
        # Each of the rule's three ways needs a gift, an annual gift or a grant, so everyone
        # Sight+ is listed: a join to them alone, which both databases plan better than an IN.
        members = sight_plus_ids_at(now, settings).subquery()
        return _matching(select(*columns).join(members, members.c.user_id == User.id), search)
    stmt = _listed(search, *columns)
    if status is StatusFilter.not_sight_plus:
        return stmt.where(User.id.not_in(sight_plus_ids_at(now, settings)))
    if status is StatusFilter.complimentary:
        return stmt.where(User.id.in_(covered_by_a_grant_at(now)))
    if status is StatusFilter.annual:
        return stmt.where(
            User.id.in_(
                select(Donor.user_id)
                .join(Subscription, Subscription.donor_id == Donor.id)
                .where(Subscription.status.in_(CURRENT_ANNUAL))
            )
        )
    return stmt


def _summaries(
    session: Session, users: list[User], settings: Settings, now: datetime
) -> Iterator[MemberSummary]:
    """Summaries for a batch of users: `membership.status` loads the batch, the rule judges each."""
    giving = giving_of(session, [u.id for u in users])
    for user in users:
        own = giving[user.id]
        donor = own.donor
        # The newest one Stripe still renews or retries, as the member area shows it.
        annual = next((s for s in own.subscriptions if s.status in CURRENT_ANNUAL), None)
        yield MemberSummary(
            user_id=user.id,
            email=user.email,
            name=user.name,
            created_at=user.created_at,
            closed=user.closed_at is not None,
            stripe_customer_id=donor.stripe_customer_id if donor else None,
            status=own.status(now, settings),
            complimentary_until=_covering(own.grants, now),
            annual_status=annual.status.value if annual else None,
            annual_amount_cents=annual.yearly_amount_cents if annual else None,
            annual_renews_at=annual.current_period_end if annual else None,
            annual_cancelling=bool(annual and annual.cancel_at_period_end and not annual.pending_amount_cents),
            gifts=len(own.entries),
            first_gift_at=own.entries[0].paid_at if own.entries else None,
            last_gift_at=own.entries[-1].paid_at if own.entries else None,
            net_cents=sum(e.net_cents for e in own.entries),
            refunded_cents=sum(e.refunded_cents for e in own.entries),
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
    people = _listed(search, User).order_by(User.email)
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
    """One page of the filtered list, and how many match in all: the database filters, counts and
    pages; the rule then judges only the people shown."""
    total = session.scalar(_listed_with_status(search, status, settings, now, func.count(User.id)))
    users = session.scalars(
        _listed_with_status(search, status, settings, now, User)
        .order_by(User.email)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    items = list(_summaries(session, list(users), settings, now))
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
    entry = record_audit(
        session, actor=actor, action="membership.export", target="members",
        details={"filters": filters, "rows": None}, now=now,
    )
    session.flush()
    return entry


def finish_members_export(session: Session, audit_id: int, rows: int) -> None:
    entry = session.get(AuditEntry, audit_id)
    entry.details = {**entry.details, "rows": rows}


# --- one member -----------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A stretch of Sight+: `ends_at` is exclusive, and for the current one where it ends if nothing
    changes; `ended_by` says what ended a past one."""

    starts_at: datetime
    ends_at: datetime
    reasons: tuple[str, ...]
    current: bool
    ended_by: str | None


ENDINGS = {
    "refund": "ended by a refund",
    "dispute_lost": "ended by a lost dispute",
    "gifts_aged": "its gifts passed 12 months",
    "annual_ended": "ended when the annual gift stopped",
    "annual_lapsed": "ended when the annual gift was not renewed",
    "grant_ended": "ended with the complimentary membership",
}


def status_history(
    gifts: list[Gift],
    annual: list[AnnualGift],
    grants: list[Grant],
    adjustments: list[tuple[datetime, str]],
    now: datetime,
    *,
    threshold_cents: int,
    grace_days: int,
) -> list[Period]:
    """When the donor was Sight+ and why, newest first. The rule answers for each past instant
    as it stood then (a gift from its payment, a refund from its time, an annual gift from its
    first paid invoice), so it is applied at every instant where the answer can change.

    `adjustments` names the refunds and lost disputes ("refund", "dispute_lost") by their time.
    """
    grace = timedelta(days=grace_days)
    # What happens at each instant, to say what ended a period there.
    happenings: dict[datetime, str] = {}
    for gift in gifts:
        happenings.setdefault(gift.paid_at + WINDOW, "gifts_aged")
    for gift in annual:
        happenings.setdefault(gift.end(grace), "annual_lapsed")
        if gift.ended_at:
            happenings[gift.ended_at] = "annual_ended"
    for grant in grants:
        happenings.setdefault(grant.effective_end, "grant_ended")
    for at, kind in adjustments:
        happenings[at] = kind
    instants = {g.paid_at for g in gifts} | {g.starts_at for g in grants}
    instants |= {moment for a in annual for moment in (a.started_at, a.first_paid_at) if moment}
    instants |= set(happenings)
    periods: list[Period] = []
    start: datetime | None = None
    reasons: list[str] = []
    def at(t: datetime, gifts_, annual_, grants_) -> SightPlusStatus:
        return sight_plus_status(gifts_, annual_, grants_, t, threshold_cents=threshold_cents, grace_days=grace_days)

    for t in sorted(i for i in instants if i <= now):
        status = at(t, gifts, annual, grants)
        if status.is_member:
            if start is None:
                start, reasons = t, []
            for reason, alone in (("gifts", (gifts, [], [])), ("annual_gift", ([], annual, [])), ("complimentary", ([], [], grants))):
                if reason not in reasons and at(t, *alone).is_member:
                    reasons.append(reason)
        elif start is not None:
            periods.append(Period(start, t, tuple(reasons), False, happenings.get(t)))
            start = None
    if start is not None:
        periods.append(Period(start, at(now, gifts, annual, grants).until, tuple(reasons), True, None))
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
    giving = giving_of(session, [user.id])[user.id]
    entries = sorted(giving.entries, key=lambda e: (e.paid_at, e.id), reverse=True)
    subscriptions = sorted(giving.subscriptions, key=lambda s: (s.created_at, s.id), reverse=True)
    grants = sorted(giving.grants, key=lambda g: (g.granted_at, g.id), reverse=True)
    mail = list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.user_id == user.id)
            .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
            .limit(200)
        )
    )

    gifts = [as_gift(e) for e in entries]
    annual = [as_annual(s) for s in subscriptions]
    rule_grants = [as_grant(g) for g in grants]
    adjustments = [(a.occurred_at, a.kind.value) for e in entries for a in e.adjustments]
    rule = {"threshold_cents": settings.threshold_cents, "grace_days": settings.grace_days}
    return MemberDetail(
        user=user,
        donor=giving.donor,
        status=giving.status(now, settings),
        entries=entries,
        subscriptions=subscriptions,
        grants=grants,
        revocable={
            g.id for g, r in zip(grants, rule_grants) if g.revoked_at is None and r.effective_end > now
        },
        history=status_history(gifts, annual, rule_grants, adjustments, now, **rule),
        mail=mail,
    )


def was_member_on_day(session: Session, user: User, day: date, zone: ZoneInfo, settings: Settings) -> bool:
    """"Was this person Sight+ on `day`?" (a calendar day where staff are), as things stood then."""
    giving = giving_of(session, [user.id])[user.id]
    return was_member_on(
        map(as_gift, giving.entries),
        map(as_annual, giving.subscriptions),
        map(as_grant, giving.grants),
        day,
        zone,
        threshold_cents=settings.threshold_cents,
        grace_days=settings.grace_days,
    )


# --- the dashboard --------------------------------------------------------------------


def dashboard_panel(session: Session, settings: Settings, zone: ZoneInfo, now: datetime) -> DashboardPanel:
    """This month's gifts net of refunds, and how many people are Sight+ now."""
    local = now.astimezone(zone)
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    net, count = session.execute(
        select(
            func.coalesce(func.sum(LedgerEntry.amount_cents - LedgerEntry.refunded_cents), 0),
            func.count(LedgerEntry.id),
        ).where(LedgerEntry.paid_at >= month_start, LedgerEntry.paid_at <= now)
    ).one()
    members = session.scalar(select(func.count()).select_from(sight_plus_ids_at(now, settings).subquery()))
    return DashboardPanel(
        title="Donations and Sight+",
        figures=[
            (f"Donations in {settings.formats.month(now)} (net of refunds)", f"{settings.formats.money(net)} from {count} gift(s)"),
            ("Sight+ members now", str(members)),
        ],
        link_url="/staff/members",
        link_text="Members",
    )
