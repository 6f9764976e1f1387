"""Giving statements: one summary per financial year of a donor's gifts, net of refunds, with the
organisation's legal name, ABN and the receipts' tax statement (whether gifts are deductible is
the receipt settings' to say, never assumed here).

The financial year starts on the first of `FINANCIAL_YEAR_START_MONTH` (July) and is named by the
calendar year it ends in: 2026 is 1 July 2025 to 30 June 2026. A gift belongs to the year of its
`paid_at` in the display time zone; a refund, whenever it was made, reduces the year of the gift
it refunds (a July refund of a June gift lowers the year that ended in June).

`send_statements` emails each donor who gave in a year their statement once: a row per person and
year, unique, is claimed before the mail is queued and committed with it, so a run can be
stopped and run again, or run twice at once, and nobody gets two.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.models import User
from membership.context import MembershipContext, Settings
from membership.models import Donor, GiftKind, LedgerEntry, StatementSent
from membership.receipts import mail_donor
from sight.jobs import NO_PROGRESS, Progress


def financial_year_of(moment: datetime, zone: str, start_month: int) -> int:
    """The financial year an instant falls in, named by the calendar year it ends in."""
    local = moment.astimezone(ZoneInfo(zone))
    return local.year + 1 if start_month != 1 and local.month >= start_month else local.year


def financial_year_bounds(year: int, zone: str, start_month: int) -> tuple[datetime, datetime]:
    """[start, end) of a financial year, as instants in the display time zone."""
    first_year = year if start_month == 1 else year - 1
    start = datetime(first_year, start_month, 1, tzinfo=ZoneInfo(zone))
    return start, start.replace(year=first_year + 1)


def financial_year_name(year: int, start_month: int) -> str:
    """2026, or "2025–26" when the year spans two calendar years."""
    return str(year) if start_month == 1 else f"{year - 1}–{year % 100:02d}"


@dataclass(frozen=True)
class StatementLine:
    receipt_number: int
    paid_at: datetime
    annual: bool
    amount_cents: int
    refunded_cents: int

    @property
    def net_cents(self) -> int:
        return self.amount_cents - self.refunded_cents


@dataclass(frozen=True)
class Statement:
    year: int
    name: str
    starts_at: datetime
    ends_at: datetime
    donor_name: str
    email: str
    currency: str
    lines: list[StatementLine]
    org_legal_name: str
    org_abn: str
    tax_statement: str

    @property
    def last_day(self) -> datetime:
        return self.ends_at - timedelta(days=1)

    @property
    def amount_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines)

    @property
    def refunded_cents(self) -> int:
        return sum(line.refunded_cents for line in self.lines)

    @property
    def total_cents(self) -> int:
        return sum(line.net_cents for line in self.lines)


def statement_for(
    session: Session, user_id: int, year: int, settings: Settings, *, start_month: int
) -> Statement | None:
    """A donor's statement for a year; None when they gave nothing that year, or closed their account."""
    user = session.get(User, user_id)
    # A year a calendar can hold (an address may carry any number).
    if user is None or user.closed_at is not None or not MINYEAR < year < MAXYEAR:
        return None
    start, end = financial_year_bounds(year, settings.display_timezone, start_month)
    entries = session.scalars(
        select(LedgerEntry)
        .join(Donor, Donor.id == LedgerEntry.donor_id)
        .where(Donor.user_id == user_id, LedgerEntry.paid_at >= start, LedgerEntry.paid_at < end)
        .order_by(LedgerEntry.paid_at, LedgerEntry.id)
    ).all()
    if not entries:
        return None
    return Statement(
        year=year,
        name=financial_year_name(year, start_month),
        starts_at=start,
        ends_at=end,
        donor_name=user.name or user.email,
        email=user.email,
        currency=settings.currency.upper(),
        lines=[
            StatementLine(e.id, e.paid_at, e.kind is GiftKind.recurring, e.amount_cents, e.refunded_cents)
            for e in entries
        ],
        org_legal_name=settings.org_legal_name,
        org_abn=settings.org_abn,
        tax_statement=settings.tax_statement,
    )


def statement_years(session: Session, user_id: int, zone: str, start_month: int) -> list[tuple[int, str]]:
    """The financial years a donor gave in, newest first, with their names (none once the account is closed)."""
    paid = session.scalars(
        select(LedgerEntry.paid_at)
        .join(Donor, Donor.id == LedgerEntry.donor_id)
        .join(User, User.id == Donor.user_id)
        .where(Donor.user_id == user_id, User.closed_at.is_(None))
    )
    years = sorted({financial_year_of(moment, zone, start_month) for moment in paid}, reverse=True)
    return [(year, financial_year_name(year, start_month)) for year in years]


def pdf_of(html: str, stylesheet: Path) -> bytes:
    """The statement's HTML, printed to PDF by WeasyPrint with the statement's own stylesheet."""
    # Imported here: WeasyPrint loads Pango when imported, which only this needs.
    from weasyprint import CSS, HTML

    return HTML(string=html).write_pdf(stylesheets=[CSS(filename=str(stylesheet))])


# --- the yearly mailing ----------------------------------------------------------------


def _givers(session: Session, year: int, zone: str, start_month: int) -> list[int]:
    """Open accounts with a gift in the year, that have not been sent its statement yet."""
    start, end = financial_year_bounds(year, zone, start_month)
    return list(
        session.scalars(
            select(Donor.user_id)
            .join(LedgerEntry, LedgerEntry.donor_id == Donor.id)
            .join(User, User.id == Donor.user_id)
            .where(
                LedgerEntry.paid_at >= start,
                LedgerEntry.paid_at < end,
                User.closed_at.is_(None),
                ~exists().where(StatementSent.user_id == Donor.user_id, StatementSent.financial_year == year),
            )
            .distinct()
            .order_by(Donor.user_id)
        )
    )


def _claim(session: Session, statement: Statement, user_id: int, now: datetime) -> bool:
    try:
        with session.begin_nested():
            session.add(
                StatementSent(user_id=user_id, financial_year=statement.year, total_cents=statement.total_cents, sent_at=now)
            )
    except IntegrityError:
        return False
    return True


def queue_statement(session: Session, ctx: MembershipContext, user: User, statement: Statement, now: datetime) -> None:
    statements_url = f"{ctx.links.account_url()}/statements/{statement.year}"
    values = {"statement": statement, "html_url": statements_url, "pdf_url": f"{statements_url}.pdf"}
    mail_donor(session, user, template="membership/email/giving_statement.html", values=values, kind="giving_statement",
               formats=ctx.settings.formats, now=now)


def send_statements(
    session: Session,
    ctx: MembershipContext,
    year: int,
    now: Callable[[], datetime],
    *,
    start_month: int,
    per_minute: int,
    progress: Progress = NO_PROGRESS,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Email each donor who gave in `year` their statement, once; at most `per_minute` a minute,
    so that the mail server (and the donors' providers) are not flooded. `now` is asked at each
    send: a long run takes hours. Returns how many were sent by this run."""
    givers = _givers(session, year, ctx.settings.display_timezone, start_month)
    progress.start(len(givers), "Giving statements")
    sent = 0
    for user_id in givers:
        progress.advance()
        statement = statement_for(session, user_id, year, ctx.settings, start_month=start_month)
        if statement is None or not _claim(session, statement, user_id, now()):
            session.rollback()
            continue
        queue_statement(session, ctx, session.get(User, user_id), statement, now())
        session.commit()
        sent += 1
        if per_minute:
            sleep(60 / per_minute)
    return sent


def statements_sent_by_year(session: Session) -> dict[int, int]:
    """For the staff page: how many statements were sent, per financial year."""
    rows = session.execute(
        select(StatementSent.financial_year, func.count()).group_by(StatementSent.financial_year)
    )
    return dict(rows.all())


def givers_by_year(session: Session, years: list[int], zone: str, start_month: int) -> dict[int, int]:
    """For the staff page: how many open accounts gave in each of these years (who a run would mail)."""
    counts = {}
    for year in years:
        start, end = financial_year_bounds(year, zone, start_month)
        counts[year] = session.scalar(
            select(func.count(func.distinct(Donor.user_id)))
            .join(LedgerEntry, LedgerEntry.donor_id == Donor.id)
            .join(User, User.id == Donor.user_id)
            .where(LedgerEntry.paid_at >= start, LedgerEntry.paid_at < end, User.closed_at.is_(None))
        )
    return counts
