"""Lapse reminders: a member whose Sight+ rests on one-off gifts hears once, `LAPSE_REMINDER_DAYS`
before their gifts of the last twelve months fall below the threshold, what keeps it.

"Until when" is the one Sight+ rule's (`membership.rules`): the reminder is for people whose
membership ends when their gifts run out, not for those an annual gift or a grant carries past
that date. A reminder is claimed before it is sent, by a row whose unique key is (person, lapse
date): two runs at once send it once, and a new gift, which moves the date, allows a later one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.models import User
from membership.context import MembershipContext, Settings
from membership.models import Donor, LapseReminder, LapseReminderOptOut, LedgerEntry, SightPlusEndedNotice
from membership.receipts import mail_donor
from membership.rules import WINDOW, Gift, last_ended, sight_plus_status
from membership.status import BATCH, Giving, as_annual, as_gift, as_grant, giving_of, sight_plus_status_of
from sight.jobs import NO_PROGRESS, Progress

# A gift the donor has not made, added to see how far it would carry them.
_SUGGESTED_GIFT_KEY = "sight.lapse.suggested"


@dataclass(frozen=True)
class Lapse:
    # The first instant the person is no longer Sight+ if they give nothing more.
    lapse_at: datetime
    # What their gifts will be short of the threshold at that instant.
    shortfall_cents: int
    # The gift to ask for: the shortfall, or the smallest gift /donate takes if that is more.
    suggested_cents: int
    # How long that gift, given now, keeps them Sight+.
    kept_until: datetime


def coming_lapse(giving: Giving, now: datetime, settings: Settings) -> Lapse | None:
    """When the Sight+ of someone whose membership rests on their gifts ends, and the gift that
    keeps it; None when they are not Sight+, or an annual gift or a grant keeps them past it."""
    status = giving.status(now, settings)
    if not status.is_member:
        return None
    gifts = [as_gift(entry) for entry in giving.entries]
    rule = {"threshold_cents": settings.threshold_cents, "grace_days": settings.grace_days}
    through_gifts = sight_plus_status(gifts, [], [], now, **rule)
    if not through_gifts.is_member or through_gifts.until != status.until:
        return None
    lapse_at = status.until
    still_counting = sum(g.net_at(now) for g in gifts if lapse_at - WINDOW < g.paid_at <= now)
    shortfall = settings.threshold_cents - still_counting
    suggested = min(max(shortfall, settings.min_cents), settings.max_cents)
    with_gift = sight_plus_status(
        [*gifts, Gift(_SUGGESTED_GIFT_KEY, now, suggested)],
        map(as_annual, giving.subscriptions),
        map(as_grant, giving.grants),
        now,
        **rule,
    )
    return Lapse(lapse_at, shortfall, suggested, with_gift.until)


def lapse_of(session: Session, user_id: int, now: datetime, settings: Settings) -> Lapse | None:
    return coming_lapse(giving_of(session, [user_id])[user_id], now, settings)


# --- the opt-out link ------------------------------------------------------------------


def _opt_out_serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt="sight.membership.lapse-opt-out")


def opt_out_token(secret_key: str, user_id: int) -> str:
    """A link that stops lapse reminders for one person. It does not expire: a reminder may be
    read long after it was sent, and the link can only ever stop mail."""
    return _opt_out_serializer(secret_key).dumps(user_id)


def load_opt_out(secret_key: str, token: str) -> int | None:
    try:
        value = _opt_out_serializer(secret_key).loads(token)
    except BadData:
        return None
    return value if type(value) is int else None


def stop_lapse_reminders(session: Session, user_id: int, now: datetime) -> None:
    """Record that this person wants no lapse reminders (asking twice changes nothing)."""
    if session.get(LapseReminderOptOut, user_id) is not None:
        return
    try:
        with session.begin_nested():
            session.add(LapseReminderOptOut(user_id=user_id, opted_out_at=now))
    except IntegrityError:
        pass  # the same link, pressed twice at once


# --- the job ---------------------------------------------------------------------------


def _claim(session: Session, user_id: int, lapse: Lapse, now: datetime) -> bool:
    """True for the one caller that may send this reminder; everyone else finds it taken."""
    try:
        with session.begin_nested():
            session.add(
                LapseReminder(
                    user_id=user_id, lapse_at=lapse.lapse_at, shortfall_cents=lapse.shortfall_cents, sent_at=now
                )
            )
    except IntegrityError:
        return False
    return True


def donate_url(public_url: str, cents: int) -> str:
    return f"{public_url.rstrip('/')}/donate?" + urlencode({"amount": cents, "frequency": "once"})


def queue_lapse_reminder(session: Session, ctx: MembershipContext, user: User, lapse: Lapse, now: datetime) -> None:
    public_url = ctx.links.public_url.rstrip("/")
    values = {
        "lapse": lapse,
        "threshold_cents": ctx.settings.threshold_cents,
        "donate_url": donate_url(public_url, lapse.suggested_cents),
        "account_url": ctx.links.account_url(),
        "opt_out_url": f"{public_url}/sight-plus/reminders/stop/{opt_out_token(ctx.links.secret_key, user.id)}",
    }
    mail_donor(session, user, template="membership/email/lapse_reminder.html", values=values, kind="lapse_reminder",
               formats=ctx.settings.formats, now=now)


def _candidates(session: Session, now: datetime, lead: timedelta, *, after: timedelta = timedelta(0)) -> list[int]:
    """People with a gift that leaves their twelve-month window within `lead` (or, with `after`,
    left it that long ago at most): only they can lapse then through gifts. Closed accounts and
    those who opted out are left out here."""
    return list(
        session.scalars(
            select(Donor.user_id)
            .join(LedgerEntry, LedgerEntry.donor_id == Donor.id)
            .join(User, User.id == Donor.user_id)
            .where(
                LedgerEntry.paid_at > now - WINDOW - after,
                LedgerEntry.paid_at <= now - WINDOW + lead,
                User.closed_at.is_(None),
                ~exists().where(LapseReminderOptOut.user_id == Donor.user_id),
            )
            .distinct()
            .order_by(Donor.user_id)
        )
    )


def send_lapse_reminders(
    session: Session, ctx: MembershipContext, now: datetime, *, reminder_days: int, progress: Progress = NO_PROGRESS
) -> int:
    """Remind everyone whose Sight+ ends through gifts within `reminder_days`, once per lapse date;
    safe to run as often as you like, and from two places at once. Each reminder is committed on
    its own, so a failure part-way keeps those already queued."""
    lead = timedelta(days=reminder_days)
    candidates = _candidates(session, now, lead)
    progress.start(len(candidates), "Lapse reminders")
    sent = 0
    for start in range(0, len(candidates), BATCH):
        batch = candidates[start : start + BATCH]
        # Worked out for the whole batch before the first commit, which expires what was loaded.
        due = []
        for user_id, giving in giving_of(session, batch).items():
            lapse = coming_lapse(giving, now, ctx.settings)
            if lapse is not None and lapse.lapse_at - lead <= now:
                due.append((user_id, lapse))
        progress.advance(len(batch) - len(due))
        for user_id, lapse in due:
            progress.advance()
            if not _claim(session, user_id, lapse, now):
                session.rollback()
                continue
            queue_lapse_reminder(session, ctx, session.get(User, user_id), lapse, now)
            session.commit()
            sent += 1
    return sent


# --- the day it ends -------------------------------------------------------------------

# How far back the daily job looks for a Sight+ that ended: a day it did not run is caught up.
ENDED_LOOKBACK = timedelta(days=3)


def _claim_ended(session: Session, user_id: int, ended_at: datetime, now: datetime) -> bool:
    """True for the one caller that may send this "ended" mail; everyone else finds it taken."""
    try:
        with session.begin_nested():
            session.add(SightPlusEndedNotice(user_id=user_id, ended_at=ended_at, sent_at=now))
    except IntegrityError:
        return False
    return True


def gifts_ended_at(giving: Giving, now: datetime, settings: Settings) -> datetime | None:
    """When this person's Sight+ ended because a gift left the twelve months (within the look-back),
    else None (still Sight+, ended otherwise, or long ago)."""
    ended = last_ended(
        map(as_gift, giving.entries),
        map(as_annual, giving.subscriptions),
        map(as_grant, giving.grants),
        now,
        threshold_cents=settings.threshold_cents,
        grace_days=settings.grace_days,
    )
    if ended is None or ended <= now - ENDED_LOOKBACK:
        return None
    return ended if ended in {entry.paid_at + WINDOW for entry in giving.entries} else None


def send_sight_plus_ended_notices(
    session: Session, ctx: MembershipContext, now: datetime, *, progress: Progress = NO_PROGRESS
) -> int:
    """Tell everyone whose Sight+ ran out because their gifts left the twelve months that it has
    ended, on the day it does: once per end, safe to run as often as you like and from two places
    at once. Each mail is committed on its own."""
    candidates = _candidates(session, now, timedelta(0), after=ENDED_LOOKBACK)
    progress.start(len(candidates), "Sight+ ended")
    sent = 0
    for start in range(0, len(candidates), BATCH):
        batch = candidates[start : start + BATCH]
        due = [(user_id, gifts_ended_at(giving, now, ctx.settings)) for user_id, giving in giving_of(session, batch).items()]
        progress.advance(len(batch))
        for user_id, ended_at in due:
            if ended_at is None:
                continue
            if not _claim_ended(session, user_id, ended_at, now):
                session.rollback()
                continue
            queue_gifts_ended(session, ctx, session.get(User, user_id), ended_at, now)
            session.commit()
            sent += 1
    return sent


def queue_gifts_ended(session: Session, ctx: MembershipContext, user: User, ended_at: datetime, now: datetime) -> None:
    """The "your Sight+ has ended" mail for gifts that left the twelve months (none to a closed account)."""
    settings = ctx.settings
    values = {
        "ended_at": ended_at,
        "why": f"your gifts of the last twelve months now come to less than {settings.formats.money(settings.threshold_cents)}",
        "status": sight_plus_status_of(session, user.id, now, settings=settings),
        "donate_url": ctx.links.donate_url(),
    }
    mail_donor(session, user, template="membership/email/sight_plus_ended.html", values=values,
               kind="sight_plus_ended", formats=settings.formats, now=now)
