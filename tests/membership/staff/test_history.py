"""Status history: when a donor was Sight+ and why, from the rule applied where membership can begin."""

from __future__ import annotations

from datetime import timedelta

from membership.staff_queries import Period, status_history
from membership.rules import WINDOW, AnnualGift, Gift, Grant

from .conftest import at

T0 = at(2024, 1, 10, 3)
DAY = timedelta(days=1)


def history(gifts=(), annual=(), grants=(), now=at(2026, 6, 1)):
    return status_history(list(gifts), list(annual), list(grants), now, threshold_cents=2600, grace_days=14)


def test_never_a_member():
    assert history([Gift("a", T0, 2500)]) == []


def test_one_gift_of_26_is_a_year():
    assert history([Gift("a", T0, 2600)]) == [Period(T0, T0 + WINDOW, ("gifts",), False)]


def test_membership_begins_when_the_gifts_add_up_and_ends_when_the_first_drops_out():
    gifts = [Gift("a", T0, 2000), Gift("b", T0 + 100 * DAY, 600)]
    assert history(gifts) == [Period(T0 + 100 * DAY, T0 + WINDOW, ("gifts",), False)]


def test_a_refund_counts_from_the_day_of_the_gift():
    assert history([Gift("a", T0, 2600, refunded_cents=100)]) == []


def test_a_gap_makes_two_periods_newest_first():
    gifts = [Gift("a", T0, 2600), Gift("b", T0 + 400 * DAY, 5000)]
    assert history(gifts) == [
        Period(T0 + 400 * DAY, T0 + 400 * DAY + WINDOW, ("gifts",), False),
        Period(T0, T0 + WINDOW, ("gifts",), False),
    ]


def test_a_renewal_on_the_day_it_lapses_is_one_unbroken_period():
    gifts = [Gift("a", T0, 2600), Gift("b", T0 + WINDOW, 2600)]
    assert history(gifts) == [Period(T0, T0 + 2 * WINDOW, ("gifts",), False)]


def test_the_current_period_ends_where_it_would_if_nothing_changes():
    now = T0 + 10 * DAY
    assert history([Gift("a", T0, 2600)], now=now) == [Period(T0, T0 + WINDOW, ("gifts",), True)]


def test_an_annual_gift_counts_from_when_it_began_not_before():
    started = T0 + 30 * DAY
    annual = [(started, AnnualGift("sub", "active", 2600, at(2026, 9, 1)))]
    now = at(2026, 6, 1)
    assert history(annual=annual, now=now) == [
        Period(started, at(2026, 9, 1) + 14 * DAY + timedelta(microseconds=1), ("annual_gift",), True)
    ]


def test_a_revoked_grant_ends_when_it_was_revoked():
    grant = Grant(T0, T0 + 90 * DAY, revoked_at=T0 + 20 * DAY)
    assert history(grants=[grant]) == [Period(T0, T0 + 20 * DAY, ("complimentary",), False)]


def test_a_grant_carries_on_after_the_gifts_and_both_reasons_are_given():
    gifts = [Gift("a", T0, 2600)]
    grant = Grant(T0 + 300 * DAY, T0 + 500 * DAY)
    assert history(gifts, grants=[grant]) == [Period(T0, T0 + 500 * DAY, ("gifts", "complimentary"), False)]
