"""Status history: when a donor was Sight+, why, and what ended it, each instant answered as it stood then."""

from __future__ import annotations

from datetime import timedelta

from membership.rules import WINDOW, AnnualGift, Gift, Grant
from membership.staff_queries import Period, status_history

from .conftest import at

T0 = at(2024, 1, 10, 3)
DAY = timedelta(days=1)


def history(gifts=(), annual=(), grants=(), adjustments=(), now=at(2026, 6, 1)):
    return status_history(list(gifts), list(annual), list(grants), list(adjustments), now, threshold_cents=2600, grace_days=14)


def test_never_a_member():
    assert history([Gift("a", T0, 2500)]) == []


def test_one_gift_of_26_is_a_year():
    assert history([Gift("a", T0, 2600)]) == [Period(T0, T0 + WINDOW, ("gifts",), False, "gifts_aged")]


def test_membership_begins_when_the_gifts_add_up_and_ends_when_the_first_drops_out():
    gifts = [Gift("a", T0, 2000), Gift("b", T0 + 100 * DAY, 600)]
    assert history(gifts) == [Period(T0 + 100 * DAY, T0 + WINDOW, ("gifts",), False, "gifts_aged")]


def test_a_refund_ends_membership_when_it_was_made_not_from_the_day_of_the_gift():
    refunded = T0 + 20 * DAY
    gift = Gift("a", T0, 2600, ((refunded, 100),))
    assert history([gift], adjustments=[(refunded, "refund")]) == [Period(T0, refunded, ("gifts",), False, "refund")]


def test_a_lost_dispute_is_named_as_what_ended_it():
    lost = T0 + 40 * DAY
    gift = Gift("a", T0, 2600, ((lost, 2600),))
    assert history([gift], adjustments=[(lost, "dispute_lost")]) == [Period(T0, lost, ("gifts",), False, "dispute_lost")]


def test_a_gap_makes_two_periods_newest_first():
    gifts = [Gift("a", T0, 2600), Gift("b", T0 + 400 * DAY, 5000)]
    assert history(gifts) == [
        Period(T0 + 400 * DAY, T0 + 400 * DAY + WINDOW, ("gifts",), False, "gifts_aged"),
        Period(T0, T0 + WINDOW, ("gifts",), False, "gifts_aged"),
    ]


def test_a_renewal_on_the_day_it_lapses_is_one_unbroken_period():
    gifts = [Gift("a", T0, 2600), Gift("b", T0 + WINDOW, 2600)]
    assert history(gifts) == [Period(T0, T0 + 2 * WINDOW, ("gifts",), False, "gifts_aged")]


def test_the_current_period_ends_where_it_would_if_nothing_changes():
    now = T0 + 10 * DAY
    assert history([Gift("a", T0, 2600)], now=now) == [Period(T0, T0 + WINDOW, ("gifts",), True, None)]


def test_an_annual_gift_counts_from_its_start_not_before():
    started = T0 + 30 * DAY
    annual = [AnnualGift("sub", "active", 2600, at(2026, 9, 1), started_at=started, first_paid_at=started)]
    assert history(annual=annual) == [
        Period(started, at(2026, 9, 1) + 14 * DAY + timedelta(microseconds=1), ("annual_gift",), True, None)
    ]


def test_a_cancelled_annual_gift_counted_until_it_ended():
    started, ended = T0, T0 + 200 * DAY
    annual = [AnnualGift("sub", "canceled", 2600, T0 + WINDOW, started_at=started, ended_at=ended, first_paid_at=started)]
    assert history(annual=annual) == [Period(started, ended, ("annual_gift",), False, "annual_ended")]


def test_an_annual_gift_that_never_paid_leaves_no_period():
    """The bank refused the first payment and the subscription ended minutes later."""
    annual = [AnnualGift("sub", "canceled", 2600, T0 + WINDOW, started_at=T0, ended_at=T0 + 5 * 60 * timedelta(seconds=1))]
    assert history(annual=annual) == []


def test_a_revoked_grant_ends_when_it_was_revoked():
    grant = Grant(T0, T0 + 90 * DAY, revoked_at=T0 + 20 * DAY)
    assert history(grants=[grant]) == [Period(T0, T0 + 20 * DAY, ("complimentary",), False, "grant_ended")]


def test_a_grant_carries_on_after_the_gifts_and_both_reasons_are_given():
    gifts = [Gift("a", T0, 2600)]
    grant = Grant(T0 + 300 * DAY, T0 + 500 * DAY)
    assert history(gifts, grants=[grant]) == [Period(T0, T0 + 500 * DAY, ("gifts", "complimentary"), False, "grant_ended")]
