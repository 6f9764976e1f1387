"""The members list and the dashboard ask the database the same number of questions for three
donors as for thirty: status is loaded for a batch at once, never per donor."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import event

from membership.context import Settings
from membership.staff_queries import StatusFilter, dashboard_panel, members_page
from sight.db import utcnow

from .conftest import add_annual, add_gift, add_grant, days_ago, make_donor

SETTINGS = Settings("aud", 2600, 14, 500, 1_000_000)


@contextmanager
def counted(session):
    statements = []
    engine = session.get_bind()

    def count(*_):
        statements.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def add_donors(session, start: int, how_many: int) -> None:
    for n in range(start, start + how_many):
        donor = make_donor(session, f"donor{n:03}@example.com", f"Donor {n}")
        add_gift(session, donor, 1500, days_ago(10))
        add_gift(session, donor, 1500, days_ago(5))
        add_annual(session, donor, 2600)
        add_grant(session, donor.user_id, days_ago(1), utcnow() + timedelta(days=9))


def queries_for_list_and_dashboard(session) -> tuple[int, int, int, int]:
    session.rollback()
    session.expire_all()
    with counted(session) as listing:
        page = members_page(session, search="", status=StatusFilter.all, settings=SETTINGS, now=utcnow(), page=1)
    session.rollback()
    session.expire_all()
    with counted(session) as dashboard:
        panel = dashboard_panel(session, SETTINGS, ZoneInfo("Australia/Sydney"), utcnow())
    return len(listing), len(dashboard), page.total, int(dict(panel.figures)["Sight+ members now"])


def test_the_members_list_and_dashboard_do_not_grow_with_the_number_of_donors(db_session):
    add_donors(db_session, 0, 3)
    few = queries_for_list_and_dashboard(db_session)
    add_donors(db_session, 3, 27)
    many = queries_for_list_and_dashboard(db_session)
    assert few[2:] == (3, 3) and many[2:] == (30, 30)
    assert many[:2] == few[:2]
