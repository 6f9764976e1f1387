"""Every members URL × anonymous, reader, Sight+ member, staff and admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from accounts.models import Role
from membership.models import ComplimentaryGrant
from sight.db import utcnow
from sight.extensions import login_manager
from sight.models import AuditEntry
from tests.helpers import create_user, sign_in_as, submit_form

from .conftest import fresh, add_gift, add_grant, days_ago, make_donor

ROLES = ["anonymous", "reader", "sight_plus", "staff", "admin"]


@pytest.fixture
def world(db_session):
    donor = make_donor(db_session, "member@example.com", "Mo Member")
    entry = add_gift(db_session, donor, 2600, days_ago(10))
    grant = add_grant(db_session, donor.user_id, days_ago(1), utcnow() + timedelta(days=30))
    people = {
        "reader": create_user(db_session, "reader@example.com"),
        "sight_plus": donor.user,
        "staff": create_user(db_session, "staff@example.com", role=Role.staff),
        "admin": create_user(db_session, "admin@example.com", role=Role.admin),
    }
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    return {
        "people": people,
        "get": [
            "/staff/members",
            "/staff/members?q=member&status=sight_plus",
            "/staff/members/export.csv",
            f"/staff/members/{donor.user_id}",
            f"/staff/members/reconcile?since={tomorrow}",
        ],
        "post": [
            (f"/staff/members/{donor.user_id}/grant", {"grant-reason": "Columnist", "grant-version": "1",
                                                    "grant-ends_on": (utcnow() + timedelta(days=90)).date().isoformat()}),
            (f"/staff/members/{donor.user_id}/grants/{grant.id}/revoke", {f"revoke-{grant.id}-reason": "Left us"}),
            (f"/staff/members/{donor.user_id}/receipts/{entry.id}/resend", {}),
            ("/staff/members/reconcile", {"repair-since": tomorrow}),
        ],
    }


def _assert_refused(role: str, response) -> None:
    if role == "anonymous":
        if login_manager.login_view:
            assert response.status_code == 302
            assert "sign-in" in response.headers["Location"]
        else:  # until the accounts package names its sign-in page, Flask-Login answers 401
            assert response.status_code == 401
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("role", ROLES)
def test_pages(client, world, role):
    if role != "anonymous":
        sign_in_as(client, world["people"][role])
    for url in world["get"]:
        response = client.get(url)
        response.close()  # ends a streamed export's request context before the next request
        if role in ("staff", "admin"):
            assert response.status_code == 200, url
        else:
            _assert_refused(role, response)
            assert b"Mo Member" not in response.data and b"member@example.com" not in response.data


@pytest.mark.parametrize("role", ROLES)
def test_actions(client, db_session, world, role, mailbox):
    if role != "anonymous":
        sign_in_as(client, world["people"][role])
    for url, data in world["post"]:
        # A real CSRF token from a public form, so that only the role decides.
        response = submit_form(client, url, data, page_url="/donate")
        if role in ("staff", "admin"):
            assert response.status_code == 302, (url, response.get_data(as_text=True))
        else:
            _assert_refused(role, response)
    fresh(db_session)
    grants = db_session.scalar(select(func.count(ComplimentaryGrant.id)))
    audits = db_session.scalars(select(AuditEntry.action)).all()
    if role in ("staff", "admin"):
        assert grants == 2
        assert sorted(audits) == ["membership.grant", "membership.resend_receipt", "membership.revoke", "stripe.reconcile"]
        # The resent receipt, and the confirmation of the grant.
        assert sorted(m["Subject"].split(":")[0] for m in mailbox.to("member@example.com")) == ["You are Sight+", "Your receipt"]
    else:
        assert grants == 1 and audits == [] and mailbox.messages == []
