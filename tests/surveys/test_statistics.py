"""Shares with their margin of error, rating summaries and the Net Promoter Score, checked
against figures worked out another way in the test."""

from __future__ import annotations

import math
import statistics as stdlib
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from surveys.statistics import (
    Share,
    is_nps_question,
    mean_of_counts,
    median_of_counts,
    net_promoter,
    rating_summary,
    wilson_interval,
)

Z = 1.96


@given(st.integers(min_value=1, max_value=5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_each_end_of_the_wilson_interval_is_where_the_score_test_is_just_significant(case):
    count, base = case
    low, high = wilson_interval(count, base)
    p_hat = count / base
    assert 0 <= low <= p_hat <= high <= 1
    for end in (low, high):
        if 0 < end < 1:
            # The Wilson interval is the set of p for which |p̂ − p| ≤ z·√(p(1−p)/n).
            assert abs(p_hat - end) == pytest.approx(Z * math.sqrt(end * (1 - end) / base), rel=1e-3)


def test_the_textbook_cases():
    # Wilson (1927) as tabulated by Newcombe (1998), table I: 0/10 and 5/10 at 95 %.
    assert wilson_interval(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    assert wilson_interval(5, 10) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))


def test_a_share_says_its_base_and_shrinks_its_margin_as_the_base_grows():
    small, large = Share(3, 10), Share(300, 1000)
    assert small.percent == large.percent == 30
    assert small.margin > large.margin > 0
    assert large.low < 30 < large.high
    assert Share(0, 0).percent == 0


def test_a_count_larger_than_its_base_is_a_bug_not_a_share():
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


@given(st.lists(st.integers(min_value=-5, max_value=15), min_size=1, max_size=200))
def test_the_median_of_counts_is_the_median_of_the_values(values):
    assert median_of_counts(Counter(values)) == stdlib.median(values)


@given(
    st.lists(
        st.one_of(st.integers(min_value=-10**6, max_value=10**6), st.floats(min_value=-1e9, max_value=1e9)),
        min_size=1,
        max_size=200,
    )
)
def test_the_mean_of_counts_is_fmean_of_the_values_to_the_last_bit(values):
    assert mean_of_counts(Counter(values)) == stdlib.fmean(values)


def test_a_rating_summary_counts_every_point_of_the_scale():
    ratings = [1, 2, 2, 5, 5, 5, 4]
    summary = rating_summary(list(range(1, 6)), Counter(ratings))
    assert summary.base == len(ratings)
    assert summary.mean == pytest.approx(sum(ratings) / len(ratings))
    assert summary.median == stdlib.median(ratings)
    assert [(p.value, p.share.count) for p in summary.distribution] == [(v, ratings.count(v)) for v in range(1, 6)]
    assert summary.distribution[2].share.count == 0  # nobody chose 3, and it is still there


def test_net_promoter_score_from_the_ratings():
    ratings = [10, 9, 9, 8, 7, 6, 0, 3, 10, 10, 5, 9]
    promoters = sum(r >= 9 for r in ratings)
    detractors = sum(r <= 6 for r in ratings)
    nps = net_promoter(Counter(ratings))
    assert nps.base == len(ratings)
    assert (nps.promoters.count, nps.passives.count, nps.detractors.count) == (
        promoters, len(ratings) - promoters - detractors, detractors)
    assert nps.score == pytest.approx((promoters - detractors) * 100 / len(ratings))
    assert 0 < nps.margin < 100


def test_only_a_flagged_0_to_10_question_is_an_nps_question():
    scale = {"min": 0, "max": 10}
    assert is_nps_question({"type": "rating", "nps": True, "scale": scale})
    assert not is_nps_question({"type": "rating", "scale": scale})
    assert not is_nps_question({"type": "rating", "nps": True, "scale": {"min": 1, "max": 5}})
