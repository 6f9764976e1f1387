"""The members list filters, counts and pages in the database; what it shows must be what judging
everyone with the rule (`iter_members`, which the CSV export streams) shows: the same people on
the first, a middle and the last page, the same count, for every filter, with and without a search."""

from __future__ import annotations

import random
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from membership.context import Settings
from membership.models import SubscriptionStatus
from membership.staff_queries import StatusFilter, dashboard_panel, iter_members, members_page
from sight.db import utcnow

from .conftest import add_annual, add_gift, add_grant, days_ago, make_donor

SETTINGS = Settings("aud", 2600, 14, 500, 1_000_000)
PER_PAGE = 4


@pytest.fixture
def crowd(db_session):
    """Forty people with every kind of giving, some refunded, some lapsed, some revoked."""
    rng = random.Random(12)
    now = utcnow()
    for n in range(40):
        donor = make_donor(db_session, f"{rng.choice(['ann', 'bo', 'cy'])}{n:02d}@example.com", f"Person {n}")
        for _ in range(rng.randint(1, 3)):
            cents = rng.choice([500, 1000, 1300, 2600, 5000])
            paid = days_ago(rng.uniform(0, 500))
            refunded = rng.choice([0, 0, cents // 2, cents])
            add_gift(db_session, donor, cents, paid, refunded=refunded,
                     refunded_at=paid + timedelta(days=rng.uniform(0, 60)) if refunded else None)
        if rng.random() < 0.3:
            add_annual(db_session, donor, rng.choice([1000, 2600, 5000]),
                       status=rng.choice(list(SubscriptionStatus)),
                       period_end=now + timedelta(days=rng.uniform(-30, 200)),
                       created_at=days_ago(rng.uniform(1, 300)))
        if rng.random() < 0.25:
            starts = days_ago(rng.uniform(-5, 30))
            add_grant(db_session, donor.user_id, starts, starts + timedelta(days=rng.uniform(1, 60)),
                      revoked_at=rng.choice([None, days_ago(rng.uniform(-5, 5))]))
    return now


@pytest.mark.parametrize("status", list(StatusFilter))
@pytest.mark.parametrize("search", ["", "bo", "1", "nobody"])
def test_each_page_and_the_count_are_those_of_judging_everyone(db_session, crowd, status, search):
    everyone = list(iter_members(db_session, search=search, status=status, settings=SETTINGS, now=crowd))
    pages = max(1, -(-len(everyone) // PER_PAGE))
    for page in sorted({1, (pages + 1) // 2, pages}):
        shown = members_page(
            db_session, search=search, status=status, settings=SETTINGS, now=crowd, page=page, per_page=PER_PAGE
        )
        assert shown.total == len(everyone)
        assert shown.items == everyone[(page - 1) * PER_PAGE : page * PER_PAGE]


def test_the_crowd_has_some_of_everything(db_session, crowd):
    counts = {
        status: members_page(db_session, search="", status=status, settings=SETTINGS, now=crowd, page=1).total
        for status in StatusFilter
    }
    assert counts[StatusFilter.all] == 40
    assert counts[StatusFilter.sight_plus] + counts[StatusFilter.not_sight_plus] == 40
    assert all(counts[status] > 0 for status in StatusFilter), counts


def test_the_dashboard_counts_whom_the_list_calls_sight_plus(db_session, crowd):
    members = list(iter_members(db_session, search="", status=StatusFilter.sight_plus, settings=SETTINGS, now=crowd))
    panel = dashboard_panel(db_session, SETTINGS, ZoneInfo("Australia/Sydney"), crowd)
    assert dict(panel.figures)["Sight+ members now"] == str(len(members))
