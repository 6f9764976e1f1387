"""Donor retention for staff, per month and per financial year.

A donor *gave* in a period when a gift of theirs, not wholly refunded, was paid in it (months and
financial years in the display time zone). Per period, with the one before it:

- *new*: their first gift ever is in this period;
- *retained*: gave in the previous period and in this one;
- *recovered*: gave in this period, not in the previous one, but in some period before that;
- *lapsed* (LYBUNT, "last year but unfortunately not this"): gave in the previous period, not this;
- *SYBUNT* ("some year but unfortunately not this"): gave in a period before the previous one, in
  neither the previous one nor this;
- *retention rate*: retained / those who gave in the previous period.

New + retained + recovered = those who gave. Beside them: Sight+ members at the period's end (the
one rule in SQL, `membership.status.sight_plus_ids_at`; kept in `sight_plus_count` once the instant
is settled, so each month is asked of the rule once), annual gifts started, cancelled and
failed, gifts started from a survey's Sight+ ask and paid, and the number, average and median of
the gifts.

The donor counts come from one query (each donor's periods as bits, counted per period in the
database), the gifts' from one more (a histogram of net amounts per period); the number of
queries does not grow with the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from membership.context import Settings
from membership.models import (
    Donation,
    DonationStatus,
    LedgerEntry,
    NoticeKind,
    RenewalNotice,
    SightPlusCount,
    Subscription,
)
from membership.statements import financial_year_bounds, financial_year_name, financial_year_of
from membership.rules import RESOLUTION
from membership.status import sight_plus_ids_at


# Webhooks arrive up to three days late and `flask stripe reconcile` (daily) repairs what was
# missed: past this, what the rule reads about an instant no longer changes, so its count is kept.
SETTLED = timedelta(days=40)


@dataclass(frozen=True)
class Period:
    name: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class PeriodFigures:
    period: Period
    donors: int
    new: int
    retained: int
    recovered: int
    lapsed: int
    sybunt: int
    # Retained as a share of the previous period's donors; None when nobody gave then.
    retention_rate: float | None
    members_at_end: int
    annual_started: int
    annual_cancelled: int
    annual_failed: int
    # Gifts started from a survey's Sight+ ask in this period, and paid.
    gifts_from_the_ask: int
    gifts: int
    average_gift_cents: int | None
    median_gift_cents: int | None


def months(now: datetime, zone: str, count: int) -> list[Period]:
    """The last `count` calendar months in the display zone, the current one last."""
    tz = ZoneInfo(zone)
    local = now.astimezone(tz)
    year, month = local.year, local.month
    starts = []
    for _ in range(count + 1):
        starts.append(datetime(year, month, 1, tzinfo=tz))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    starts.reverse()
    # `starts` holds one month more than shown (its start is the first period's "previous").
    following = [*starts[1:], _next_month(starts[-1])]
    return [Period(f"{start:%Y-%m}", start, end) for start, end in zip(starts, following)]


def _next_month(start: datetime) -> datetime:
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


def financial_years(now: datetime, zone: str, start_month: int, count: int) -> list[Period]:
    """The last `count` financial years, the current one last."""
    current = financial_year_of(now, zone, start_month)
    return [
        Period(financial_year_name(year, start_month), *financial_year_bounds(year, zone, start_month))
        for year in range(current - count, current + 1)
    ]


def retention(session: Session, periods: list[Period], settings: Settings, now: datetime) -> list[PeriodFigures]:
    """Figures for each of `periods` but the first, which is only the previous period of the second.
    Members are counted at each period's last instant, or now for the period under way."""
    edges = [p.starts_at for p in periods]
    end = periods[-1].ends_at
    paid = LedgerEntry.paid_at
    counted = LedgerEntry.amount_cents > LedgerEntry.refunded_cents
    # Each gift's period as one bit: bit 0 for any time before the first period, bit i + 1 for
    # period i. A donor's distinct bits, summed, say every period they gave in.
    bit = case(
        (paid < edges[0], 1),
        *((paid < edge, 1 << (index + 1)) for index, edge in enumerate(edges[1:])),
        else_=1 << len(edges),
    )
    periods_given = (
        select(LedgerEntry.donor_id, bit.label("bit")).where(counted, paid < end).group_by(LedgerEntry.donor_id, bit)
    ).subquery()
    donors = select(func.sum(periods_given.c.bit).label("bits")).group_by(periods_given.c.donor_id).subquery()
    bits = donors.c.bits

    def has(mask: int):
        return bits.op("&")(mask) != 0

    def how_many(*conditions):
        return func.coalesce(func.sum(case((and_(*conditions), 1), else_=0)), 0)

    columns = []
    for index in range(1, len(periods)):
        gave, previous = has(1 << (index + 1)), has(1 << index)
        earlier, long_ago = has((1 << (index + 1)) - 1), has((1 << index) - 1)
        columns += [
            how_many(gave),
            how_many(gave, ~earlier),
            how_many(gave, previous),
            how_many(gave, ~previous, long_ago),
            how_many(previous, ~gave),
            how_many(long_ago, ~previous, ~gave),
            how_many(previous),
        ]
    counts = session.execute(select(*columns).select_from(donors)).one()

    # The gifts of each period as (net, how many): few rows, however many gifts.
    index_of = case(*((paid < edge, index) for index, edge in enumerate(edges[1:])), else_=len(edges) - 1)
    net = LedgerEntry.amount_cents - LedgerEntry.refunded_cents
    histograms: dict[int, list[tuple[int, int]]] = {index: [] for index in range(len(periods))}
    for index, cents, number in session.execute(
        select(index_of, net, func.count()).where(counted, paid >= edges[0], paid < end).group_by(index_of, net)
    ):
        histograms[index].append((cents, number))

    started = _counts(session, Subscription.started_at, periods)
    cancelled = _counts(session, Subscription.ended_at, periods)
    failed = _counts(
        session, RenewalNotice.sent_at, periods, RenewalNotice.kind == NoticeKind.payment_failed
    )
    # Gifts started from a survey's thank-you page (`source=survey:<slug>`) that were paid. An unpaid
    # start is forgotten after ABANDONED_DONATION_DAYS (7), so each of these was paid within a week.
    from_the_ask = _counts(
        session, Donation.created_at, periods, Donation.source.like("survey:%"),
        Donation.status == DonationStatus.completed,
    )

    members = members_at(
        session, [min(period.ends_at - RESOLUTION, now) for period in periods[1:]], settings, now
    )
    figures = []
    for index in range(1, len(periods)):
        gave, new, retained, recovered, lapsed, sybunt, previous = counts[7 * (index - 1) : 7 * index]
        gifts, average, median = _gift_figures(histograms[index])
        figures.append(
            PeriodFigures(
                period=periods[index],
                donors=gave,
                new=new,
                retained=retained,
                recovered=recovered,
                lapsed=lapsed,
                sybunt=sybunt,
                retention_rate=retained / previous if previous else None,
                members_at_end=members[index - 1],
                annual_started=started[index],
                annual_cancelled=cancelled[index],
                annual_failed=failed[index],
                gifts_from_the_ask=from_the_ask[index],
                gifts=gifts,
                average_gift_cents=average,
                median_gift_cents=median,
            )
        )
    return figures


def _gift_figures(histogram: list[tuple[int, int]]) -> tuple[int, int | None, int | None]:
    """(number, average, median) of gifts given as (cents, how many)."""
    histogram = sorted(histogram)
    number = sum(count for _, count in histogram)
    if not number:
        return 0, None, None
    average = round(sum(cents * count for cents, count in histogram) / number)
    middle = []
    seen = 0
    for cents, count in histogram:
        for position in ((number - 1) // 2, number // 2):
            if seen <= position < seen + count:
                middle.append(cents)
        seen += count
    return number, average, round(sum(middle) / 2)


def _counts(session: Session, column, periods: list[Period], *conditions) -> dict[int, int]:
    """How many rows have `column` in each period, in one grouped query."""
    edges = [p.starts_at for p in periods]
    bucket = case(*((column < edge, index - 1) for index, edge in enumerate(edges[1:], start=1)),
                  else_=len(edges) - 1)
    rows = session.execute(
        select(bucket, func.count())
        .where(column >= edges[0], column < periods[-1].ends_at, *conditions)
        .group_by(bucket)
    )
    counts = dict.fromkeys(range(len(periods)), 0)
    counts.update(dict(rows.all()))
    return counts


def members_at(session: Session, instants: list[datetime], settings: Settings, now: datetime) -> list[int]:
    """How many were Sight+ at each instant. The rule answers "at t" from what was true at t, so
    the count at a settled instant (older than SETTLED) is kept once asked and read back after:
    one query for all of them, and the rule asked only of instants not yet kept and recent ones."""
    settled = [t for t in instants if t <= now - SETTLED]
    kept = {}
    if settled:
        rows = session.execute(select(SightPlusCount.at, SightPlusCount.members).where(SightPlusCount.at.in_(settled)))
        kept = dict(rows.all())
    counts = []
    for t in instants:
        if t in kept:
            counts.append(kept[t])
            continue
        count = session.scalar(select(func.count()).select_from(sight_plus_ids_at(t, settings).subquery()))
        if t in settled:
            try:
                with session.begin_nested():
                    session.add(SightPlusCount(at=t, members=count, computed_at=now))
            except IntegrityError:
                pass  # another page kept the same count meanwhile
        counts.append(count)
    return counts


CSV_HEADERS = (
    "period", "period_start", "donors", "new", "retained", "recovered", "lapsed_lybunt", "sybunt",
    "retention_rate", "sight_plus_members_at_end", "annual_gifts_started", "annual_gifts_cancelled",
    "annual_gifts_failed", "gifts_from_the_survey_ask", "gifts", "average_gift_cents", "median_gift_cents",
)


def retention_rows(figures: list[PeriodFigures]) -> list[list]:
    """The CSV's rows: numbers as numbers, the rate with four decimals (blank with no previous donors)."""
    return [
        [
            f.period.name, f.period.starts_at.date().isoformat(), f.donors, f.new, f.retained, f.recovered,
            f.lapsed, f.sybunt, "" if f.retention_rate is None else f"{f.retention_rate:.4f}", f.members_at_end,
            f.annual_started, f.annual_cancelled, f.annual_failed, f.gifts_from_the_ask, f.gifts,
            "" if f.average_gift_cents is None else f.average_gift_cents,
            "" if f.median_gift_cents is None else f.median_gift_cents,
        ]
        for f in figures
    ]


# --- the chart: Sight+ members (bars) and retention (a line) over the months shown ----------

CHART_WIDTH, CHART_HEIGHT, CHART_TOP, CHART_BOTTOM, CHART_LEFT = 640, 240, 16, 200, 32


@dataclass(frozen=True)
class ChartBar:
    x: float
    y: float
    w: float
    h: float
    title: str


@dataclass(frozen=True)
class ChartLabel:
    x: float
    text: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    baseline: float
    bars: list[ChartBar]
    # "x,y x,y …" of the retention rate (0 % at the baseline, 100 % at the top).
    rate_points: str
    labels: list[ChartLabel]
    most_members: int


def chart_of(figures: list[PeriodFigures]) -> Chart:
    """Shapes laid out here, so that the template only draws them (as the results page's charts)."""
    span = CHART_BOTTOM - CHART_TOP
    most = max((f.members_at_end for f in figures), default=0) or 1
    step = (CHART_WIDTH - 2 * CHART_LEFT) / max(len(figures), 1)
    bars, points, labels = [], [], []
    for index, f in enumerate(figures):
        x = CHART_LEFT + index * step
        height = span * f.members_at_end / most
        rate = "no donors the month before" if f.retention_rate is None else f"{f.retention_rate:.0%} retained"
        bars.append(ChartBar(x + step * 0.15, CHART_BOTTOM - height, step * 0.7, height,
                             f"{f.period.name}: {f.members_at_end} Sight+ members, {rate}"))
        if f.retention_rate is not None:
            points.append(f"{x + step / 2:.1f},{CHART_BOTTOM - span * f.retention_rate:.1f}")
        if index % 3 == 0:
            labels.append(ChartLabel(x + step / 2, f.period.name))
    return Chart(CHART_WIDTH, CHART_HEIGHT, CHART_BOTTOM, bars, " ".join(points), labels, most)
