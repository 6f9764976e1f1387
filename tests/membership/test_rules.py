"""The Sight+ rule on its own: plain values in, a status out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from membership.rules import AnnualGift, Gift, Grant, sight_plus_status, was_member_on

T = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
YEAR = timedelta(days=365)
SECOND = timedelta(seconds=1)
RULES = {"threshold_cents": 2600, "grace_days": 14}


def status(gifts=(), annual=(), grants=(), t=T, **rules):
    return sight_plus_status(gifts, annual, grants, t, **{**RULES, **rules})


instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@st.composite
def gifts(draw):
    """A gift with refunds and lost disputes at random times after it was paid."""
    amount = draw(st.integers(min_value=1, max_value=10_000))
    paid_at = draw(instants)
    taken_back = []
    left = amount
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        if left == 0:
            break
        cents = draw(st.integers(min_value=1, max_value=left))
        after = draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=500)))
        taken_back.append((paid_at + after, cents))
        left -= cents
    return Gift(
        key=draw(st.text(alphabet="abcdef0123456789", min_size=4, max_size=8)),
        paid_at=paid_at,
        amount_cents=amount,
        taken_back=tuple(taken_back),
    )


@st.composite
def annual_gifts(draw):
    started_at = draw(instants)
    ended_at = draw(st.none() | st.timedeltas(min_value=SECOND, max_value=timedelta(days=900)).map(lambda d: started_at + d))
    status = "canceled" if ended_at else draw(st.sampled_from(["active", "past_due", "incomplete", "unpaid"]))
    return AnnualGift(
        key=draw(st.text(alphabet="xyz", min_size=3, max_size=5)),
        status=status,
        yearly_amount_cents=draw(st.integers(min_value=500, max_value=10_000)),
        current_period_end=started_at + draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=800))),
        started_at=started_at,
        ended_at=ended_at,
        # Never paid, or first paid some time after it started (perhaps after it ended: never counted).
        first_paid_at=draw(st.none() | st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60)).map(
            lambda d: started_at + d)),
    )


@st.composite
def grants(draw):
    starts = draw(instants)
    ends = starts + draw(st.timedeltas(min_value=SECOND, max_value=timedelta(days=800)))
    revoked = draw(st.none() | instants)
    return Grant(starts, ends, revoked)


def unique_by_key(items):
    return list({g.key: g for g in items}.values())


@given(st.lists(gifts(), max_size=8).map(unique_by_key), st.lists(annual_gifts(), max_size=3),
       st.lists(grants(), max_size=3), instants, st.randoms())
def test_the_result_does_not_depend_on_order_or_repetition(gift_list, annual, grant_list, t, rnd):
    expected = status(gift_list, annual, grant_list, t)
    shuffled = gift_list * 3
    rnd.shuffle(shuffled)
    annual_twice = annual + annual
    rnd.shuffle(annual_twice)
    grants_twice = grant_list + grant_list
    rnd.shuffle(grants_twice)
    assert status(shuffled, annual_twice, grants_twice, t) == expected


@given(st.lists(gifts(), min_size=1, max_size=8).map(unique_by_key), instants,
       st.data())
def test_refunds_can_only_lower_the_result(gift_list, t, data):
    before = status(gift_list, t=t)
    index = data.draw(st.integers(min_value=0, max_value=len(gift_list) - 1))
    gift = gift_list[index]
    more = data.draw(st.integers(min_value=1, max_value=gift.amount_cents))
    at = data.draw(st.datetimes(min_value=gift.paid_at.replace(tzinfo=None), max_value=max(t, gift.paid_at).replace(tzinfo=None), timezones=st.just(UTC)))
    refunded = [*gift_list[:index], Gift(gift.key, gift.paid_at, gift.amount_cents, (*gift.taken_back, (at, more))),
                *gift_list[index + 1:]]
    after = status(refunded, t=t)
    assert after.cents_in_window <= before.cents_in_window
    assert after.is_member <= before.is_member
    if after.is_member:
        assert after.until <= before.until
    assert after.cents_needed >= before.cents_needed


@given(st.integers(min_value=2600, max_value=100_000))
def test_a_gift_paid_exactly_365_days_before_does_not_count(amount):
    assert not status([Gift("pi_1", T - YEAR, amount)]).is_member
    just_inside = status([Gift("pi_1", T - YEAR + SECOND, amount)])
    assert just_inside.is_member
    assert just_inside.until == T + SECOND
    assert just_inside.reason == "gifts"


@given(st.integers(min_value=0, max_value=14 * 86400))
def test_an_annual_gift_counts_to_the_last_second_of_the_grace_period(seconds_late):
    period_end = T - timedelta(seconds=seconds_late)
    annual = [AnnualGift("sub_1", "past_due", 2600, period_end, first_paid_at=period_end - YEAR)]
    assert status(annual=annual).is_member
    assert not status(annual=annual, t=period_end + timedelta(days=14) + SECOND).is_member
    assert status(annual=annual, t=period_end + timedelta(days=14)).is_member


def test_the_grace_edge_is_exact_to_the_microsecond():
    annual = [AnnualGift("sub_1", "active", 2600, T, first_paid_at=T - YEAR)]
    edge = T + timedelta(days=14)
    assert status(annual=annual, t=edge).is_member
    assert not status(annual=annual, t=edge + timedelta(microseconds=1)).is_member


def test_annual_gifts_below_the_threshold_or_cancelled_do_not_count():
    paid = T - SECOND
    assert not status(annual=[AnnualGift("sub_1", "active", 2599, T + YEAR, first_paid_at=paid)]).is_member
    assert not status(annual=[AnnualGift("sub_1", "canceled", 2600, T + YEAR, first_paid_at=paid)]).is_member
    assert not status(annual=[AnnualGift("sub_1", "incomplete", 5000, T + YEAR, first_paid_at=paid)]).is_member


@given(instants)
def test_an_annual_gift_that_never_paid_grants_nothing_at_any_instant(t):
    """A 3-D Secure check that failed: Stripe started the subscription, ended it, nothing was paid."""
    start = T - timedelta(days=1)
    never_paid = [
        AnnualGift("sub_1", "canceled", 2600, start + YEAR, started_at=start, ended_at=start + timedelta(minutes=5)),
        AnnualGift("sub_2", "active", 5000, start + YEAR, started_at=start),
        AnnualGift("sub_3", "past_due", 5000, start + YEAR, started_at=start),
    ]
    assert not status(annual=never_paid, t=t).is_member
    assert not was_member_on([], never_paid, [], start.date(), ZoneInfo("UTC"), **RULES)


def test_an_annual_gift_counts_from_its_first_paid_invoice_not_its_start():
    start = T - timedelta(days=1)
    paid = start + timedelta(minutes=3)
    annual = [AnnualGift("sub_1", "active", 2600, start + YEAR, started_at=start, first_paid_at=paid)]
    assert not status(annual=annual, t=paid - timedelta(microseconds=1)).is_member
    assert status(annual=annual, t=paid).is_member


def test_progress_toward_the_threshold_is_net_of_refunds():
    result = status([Gift("pi_1", T - timedelta(days=30), 2000), Gift("pi_2", T, 1000, ((T, 1000),))])
    assert (result.is_member, result.cents_in_window, result.cents_needed) == (False, 2000, 600)
    assert result.reason == "none" and result.until is None


def test_until_is_when_the_oldest_gifts_drop_out_below_the_threshold():
    gifts_ = [
        Gift("pi_1", T - timedelta(days=300), 1000),
        Gift("pi_2", T - timedelta(days=200), 2000),
        Gift("pi_3", T - timedelta(days=10), 1000),
    ]
    result = status(gifts_)
    # 4000 now; without pi_1 3000 (still in); without pi_2 only 1000.
    assert result.until == T - timedelta(days=200) + YEAR


def test_gifts_paid_after_t_are_not_counted():
    assert not status([Gift("pi_1", T + SECOND, 5000)]).is_member


def test_a_grant_covers_its_period_until_it_is_revoked():
    grant = Grant(T - timedelta(days=1), T + timedelta(days=30))
    assert status(grants=[grant]).is_member
    assert status(grants=[grant]).until == T + timedelta(days=30)
    assert status(grants=[grant]).reason == "complimentary"
    revoked = Grant(grant.starts_at, grant.ends_at, revoked_at=T)
    assert not status(grants=[revoked]).is_member
    assert status(grants=[revoked], t=T - SECOND).is_member


def test_a_grant_that_starts_before_gifts_lapse_extends_until():
    gift = Gift("pi_1", T - timedelta(days=360), 2600)
    grant = Grant(T + timedelta(days=2), T + timedelta(days=100))
    result = status([gift], grants=[grant])
    assert result.until == T + timedelta(days=100)
    assert result.reason == "gifts"


def test_was_member_on_a_day_in_sydney():
    sydney = ZoneInfo("Australia/Sydney")
    # Paid at 23:00 Sydney time on 1 June: a member on 1 June (Sydney), not on 31 May.
    paid = datetime(2026, 6, 1, 23, 0, tzinfo=sydney).astimezone(UTC)
    gifts_ = [Gift("pi_1", paid, 2600)]
    assert was_member_on(gifts_, [], [], date(2026, 6, 1), sydney, **RULES)
    assert not was_member_on(gifts_, [], [], date(2026, 5, 31), sydney, **RULES)
    assert was_member_on(gifts_, [], [], date(2027, 6, 1), sydney, **RULES)
    assert not was_member_on(gifts_, [], [], date(2027, 6, 2), sydney, **RULES)


def as_known_at(t, gift_list, annual, grant_list):
    """What had been recorded by t: later gifts, refunds, starts, ends and revocations not yet."""
    gifts_then = [
        Gift(g.key, g.paid_at, g.amount_cents, tuple((at, c) for at, c in g.taken_back if at <= t))
        for g in gift_list
        if g.paid_at <= t
    ]
    annual_then = [
        AnnualGift(a.key, "active" if a.ended_at and a.ended_at > t else a.status, a.yearly_amount_cents,
                   a.current_period_end, a.started_at, a.ended_at if a.ended_at and a.ended_at <= t else None,
                   a.first_paid_at if a.first_paid_at and a.first_paid_at <= t else None)
        for a in annual
        if a.started_at is None or a.started_at <= t
    ]
    grants_then = [Grant(g.starts_at, g.ends_at, g.revoked_at if g.revoked_at and g.revoked_at <= t else None) for g in grant_list]
    return gifts_then, annual_then, grants_then


@given(st.lists(gifts(), max_size=8).map(unique_by_key), st.lists(annual_gifts(), max_size=3),
       st.lists(grants(), max_size=3), instants)
def test_the_answer_at_t_never_depends_on_anything_recorded_after_t(gift_list, annual, grant_list, t):
    """History stays true: asking about t today gives what asking at t would have given."""
    today = status(gift_list, annual, grant_list, t)
    then = status(*as_known_at(t, gift_list, annual, grant_list), t=t)
    assert (today.is_member, today.cents_in_window, today.cents_needed) == (then.is_member, then.cents_in_window, then.cents_needed)


def test_an_annual_gift_counts_from_its_start_and_a_refund_from_its_time():
    start = T - timedelta(days=30)
    annual = [AnnualGift("sub_1", "active", 2600, start + YEAR, started_at=start, first_paid_at=start)]
    assert not status(annual=annual, t=start - SECOND).is_member
    assert status(annual=annual, t=start).is_member
    refunded_later = [Gift("pi_1", T - timedelta(days=10), 2600, ((T - timedelta(days=2), 2600),))]
    assert status(refunded_later, t=T - timedelta(days=3)).is_member
    assert not status(refunded_later, t=T - timedelta(days=2)).is_member
