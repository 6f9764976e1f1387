"""The members list: search by email or name, filter by status, pages, and bad filters."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from membership.context import Settings
from membership.models import SubscriptionStatus
from membership.staff_queries import StatusFilter, iter_members
from sight.db import utcnow

from .conftest import add_annual, add_gift, add_grant, days_ago, make_donor


def listed(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return re.findall(r'<a href="/staff/members/\d+">([^<]+)</a>', response.get_data(as_text=True))


@pytest.fixture
def people(db_session, staff_user):
    """One of each: the filters must pick exactly the right ones."""
    gifts = make_donor(db_session, "gifts@example.com", "Greta Giver")
    add_gift(db_session, gifts, 2000, days_ago(100))
    add_gift(db_session, gifts, 600, days_ago(5))

    lapsed = make_donor(db_session, "lapsed@example.com", "Lars O'Lapsed")
    add_gift(db_session, lapsed, 5000, days_ago(400))

    refunded = make_donor(db_session, "refunded@example.com", "Rita Refund")
    add_gift(db_session, refunded, 2600, days_ago(3), refunded=2600)

    annual = make_donor(db_session, "annual@example.com", "Anna Annual")
    add_annual(db_session, annual, 2600)

    small_annual = make_donor(db_session, "small.annual@example.com", "Sam Smallannual")
    add_annual(db_session, small_annual, 1000)

    cancelled = make_donor(db_session, "cancelled@example.com", "Carl Cancelled")
    add_annual(db_session, cancelled, 5000, status=SubscriptionStatus.canceled, period_end=days_ago(30))

    comp = make_donor(db_session, "comp@example.com", "Cora Comp")
    add_grant(db_session, comp.user_id, days_ago(2), utcnow() + timedelta(days=60))

    revoked = make_donor(db_session, "revoked@example.com", "Rob Revoked")
    add_grant(db_session, revoked.user_id, days_ago(20), utcnow() + timedelta(days=60), revoked_at=days_ago(1))

    percent = make_donor(db_session, "100%_sure@example.com", "Percy Percent")
    add_gift(db_session, percent, 1000, days_ago(1))


def test_everyone_who_gave_or_was_given_sight_plus_is_listed_by_email(staff_client, people):
    assert listed(staff_client.get("/staff/members")) == [
        "100%_sure@example.com",
        "annual@example.com",
        "cancelled@example.com",
        "comp@example.com",
        "gifts@example.com",
        "lapsed@example.com",
        "refunded@example.com",
        "revoked@example.com",
        "small.annual@example.com",
    ]  # the staff member, who never gave, is not


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("sight_plus", ["annual@example.com", "comp@example.com", "gifts@example.com"]),
        (
            "not_sight_plus",
            [
                "100%_sure@example.com",
                "cancelled@example.com",
                "lapsed@example.com",
                "refunded@example.com",
                "revoked@example.com",
                "small.annual@example.com",
            ],
        ),
        ("complimentary", ["comp@example.com"]),
        ("annual", ["annual@example.com", "small.annual@example.com"]),
    ],
)
def test_status_filters_select_exactly_the_right_members(staff_client, people, status, expected):
    assert listed(staff_client.get(f"/staff/members?status={status}")) == expected


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("GIFTS@", ["gifts@example.com"]),
        ("greta", ["gifts@example.com"]),
        ("o'lapsed", ["lapsed@example.com"]),
        ("annual", ["annual@example.com", "small.annual@example.com"]),
        # LIKE wildcards are searched for, not obeyed
        ("%", ["100%_sure@example.com"]),
        ("_", ["100%_sure@example.com"]),
        ("nobody", []),
    ],
)
def test_search_by_email_or_name(staff_client, people, q, expected):
    assert listed(staff_client.get("/staff/members", query_string={"q": q})) == expected


def test_search_and_status_combine(staff_client, people):
    response = staff_client.get("/staff/members", query_string={"q": "annual", "status": "sight_plus"})
    assert listed(response) == ["annual@example.com"]
    assert "1 member match" in response.get_data(as_text=True)


def test_the_list_shows_status_and_giving(staff_client, people):
    html = staff_client.get("/staff/members?q=gifts").get_data(as_text=True)
    assert "Greta Giver" in html
    assert "Yes, until" in html and "gifts in the last 12 months" in html
    assert "$26" in html


def test_an_account_that_never_gave_is_offered_when_searched_by_exact_email(staff_client, db_session, people):
    from tests.helpers import create_user

    reader = create_user(db_session, "quiet.reader@example.com")
    html = staff_client.get("/staff/members?q=Quiet.Reader@example.com").get_data(as_text=True)
    assert "0 members match" in html
    assert f'href="/staff/members/{reader.id}"' in html


def test_pages_of_fifty(staff_client, db_session, staff_user):
    for n in range(120):
        add_gift(db_session, make_donor(db_session, f"donor{n:03d}@example.com"), 500, days_ago(1))
    first = staff_client.get("/staff/members")
    assert listed(first) == [f"donor{n:03d}@example.com" for n in range(50)]
    html = first.get_data(as_text=True)
    assert "120 members match; page 1 of 3" in html and 'rel="next"' in html and 'rel="prev"' not in html
    last = staff_client.get("/staff/members?page=3")
    assert listed(last) == [f"donor{n:03d}@example.com" for n in range(100, 120)]
    assert 'rel="prev"' in last.get_data(as_text=True)
    assert staff_client.get("/staff/members?page=4").status_code == 404


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"status": "everyone"}, "Not a valid choice"),
        ({"page": "two"}, "Not a valid integer value"),
        ({"page": "0"}, "Pages are numbered from 1."),
        ({"q": "x" * 201}, "Search for at most 200 characters."),
    ],
)
def test_bad_filters_are_a_400_with_the_message_beside_the_field(staff_client, people, query, message):
    response = staff_client.get("/staff/members", query_string=query)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html and 'class="field-errors"' in html
    assert "gifts@example.com" not in html


def test_iter_members_reads_in_batches(db_session, people):
    settings = Settings("aud", 2600, 14, 500, 1_000_000)
    everyone = list(iter_members(db_session, search="", status=StatusFilter.all, settings=settings, now=utcnow()))
    batched = list(
        iter_members(db_session, search="", status=StatusFilter.all, settings=settings, now=utcnow(), batch_size=2)
    )
    assert [m.email for m in batched] == [m.email for m in everyone] and len(everyone) == 9
    assert [m.email for m in batched if m.status.is_member] == ["annual@example.com", "comp@example.com", "gifts@example.com"]
