"""Sight+ pages, benefits for members and others, staff editing, the seeder, the dashboard panel."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sqlalchemy import func, select

from accounts.models import Role, User
from membership import sight_plus_at
from membership.cli import membership_panel, seed_membership
from membership.models import Benefit, ComplimentaryGrant, Donor, GiftKind, LedgerEntry
from sight.db import utcnow
from sight.extensions import db
from sight.models import AuditEntry
from tests.helpers import create_user, sign_in_as, sign_in_url, submit_form


def make_benefit(session, **values):
    benefit = Benefit(**{"title": "Members' briefings", "description": "Quarterly, online.",
                         "members_content": "Join at briefings.example/secret", "published": True, **values})
    session.add(benefit)
    session.commit()
    return benefit


def give_directly(session, user, cents, paid_at, key):
    donor = session.scalar(select(Donor).where(Donor.user_id == user.id)) or Donor(user_id=user.id)
    session.add(donor)
    session.flush()
    session.add(LedgerEntry(donor_id=donor.id, stripe_object_id=key, kind=GiftKind.one_off,
                            amount_cents=cents, currency="aud", paid_at=paid_at))
    session.commit()


def test_sight_plus_explains_the_program_and_how_to_join(client, session):
    make_benefit(session)
    html = client.get("/sight-plus").get_data(as_text=True)
    assert "annual donations of $26 or more" in html
    assert "Members&#39; briefings" in html
    assert 'href="/donate?amount=2600&amp;frequency=yearly"' in html


def test_benefits_show_members_content_only_to_members(app, client):
    # No `session` fixture here: its app context would be shared with the requests, and
    # Flask-Login caches the anonymous user of the first request in it.
    with app.app_context():
        make_benefit(db.session)
        make_benefit(db.session, title="Draft perk", published=False)
        reader = create_user(db.session, "reader@example.com")
        give_directly(db.session, reader, 1000, utcnow() - timedelta(days=3), "pi_small")
        reader_id = reader.id
    anonymous = client.get("/sight-plus/benefits").get_data(as_text=True)
    assert "Members&#39; briefings" in anonymous and "briefings.example/secret" not in anonymous
    assert "Join Sight+" in anonymous and "Draft perk" not in anonymous

    with app.app_context():
        sign_in_as(client, db.session.get(User, reader_id))
    html = client.get("/sight-plus/benefits").get_data(as_text=True)
    assert "briefings.example/secret" not in html and "you need $16 more" in html

    with app.app_context():
        give_directly(db.session, db.session.get(User, reader_id), 1600, utcnow() - timedelta(days=1), "pi_more")
    html = client.get("/sight-plus/benefits").get_data(as_text=True)
    assert "briefings.example/secret" in html and "You are Sight+ until" in html


def test_sight_plus_at_answers_for_other_packages(app, session):
    user = create_user(session, "member@example.com")
    paid = utcnow() - timedelta(days=10)
    give_directly(session, user, 2600, paid, "pi_26")
    assert sight_plus_at(user.id, utcnow())
    assert not sight_plus_at(user.id, paid - timedelta(seconds=1))
    assert not sight_plus_at(user.id, paid + timedelta(days=365))
    assert not sight_plus_at(create_user(session, "nobody@example.com").id, utcnow())


def test_a_complimentary_grant_counts(session):
    user = create_user(session, "comp@example.com")
    session.add(ComplimentaryGrant(user_id=user.id, reason="Contributor", starts_at=utcnow() - timedelta(days=1),
                                   ends_at=utcnow() + timedelta(days=30)))
    session.commit()
    assert sight_plus_at(user.id, utcnow())


def test_staff_benefit_pages_are_for_staff_only(app, client):
    response = client.get("/staff/benefits")
    assert response.status_code == 302
    assert response.headers["Location"] == sign_in_url("/staff/benefits")
    with app.app_context():
        sign_in_as(client, create_user(db.session, "reader@example.com"))
    assert client.get("/staff/benefits").status_code == 403
    assert client.post("/staff/benefits/new", data={}).status_code in (400, 403)


def test_staff_add_and_edit_benefits_with_an_audit_trail(app, client, session):
    staff = create_user(session, "staff@example.com", role=Role.staff)
    sign_in_as(client, staff)
    bad = submit_form(client, "/staff/benefits/new", {"title": "", "position": "x", "members_link": "nope"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 200 and "Enter a title." in html and "Enter a full web address" in html
    assert session.scalar(select(func.count(Benefit.id))) == 0

    response = submit_form(client, "/staff/benefits/new", {
        "title": "Behind the story", "description": "Notes from the newsroom.", "members_content": "Episode one",
        "members_link": "https://sight.example/behind", "position": "2", "published": "y"})
    assert response.status_code == 302
    benefit = session.scalar(select(Benefit))
    assert (benefit.title, benefit.position, benefit.published) == ("Behind the story", 2, True)
    submit_form(client, f"/staff/benefits/{benefit.id}", {"title": "Behind the stories", "position": "1"})
    session.expire_all()
    assert session.get(Benefit, benefit.id).title == "Behind the stories"
    assert session.get(Benefit, benefit.id).published is False
    assert "Behind the stories" in client.get("/staff/benefits").get_data(as_text=True)
    assert session.scalar(select(func.count(AuditEntry.id)).where(AuditEntry.action == "benefit.save")) == 2


def test_the_seeder_is_idempotent_and_prints_the_test_cards(app, session):
    first = seed_membership(session, app)
    second = seed_membership(session, app)
    session.commit()
    assert session.scalar(select(func.count(Benefit.id))) == 3
    assert "Sight+ benefits: 0 added, 3 already there." in second
    assert any("4242 4242 4242 4242" in line for line in first)
    assert any("4000 0000 0000 0341" in line for line in first)
    assert any("4000 0000 0000 0002" in line for line in first)


def test_the_dashboard_panel_counts_this_months_gifts_net_of_refunds_and_members(app, session):
    member = create_user(session, "member@example.com")
    give_directly(session, member, 2600, utcnow() - timedelta(minutes=5), "pi_a")
    other = create_user(session, "other@example.com")
    give_directly(session, other, 1000, utcnow() - timedelta(minutes=5), "pi_b")
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.stripe_object_id == "pi_b"))
    entry.refunded_cents = 400
    session.commit()
    panel = membership_panel(app.config)(session, utcnow())
    figures = dict(panel.figures)
    assert any(value == "$32 from 2 gift(s)" for value in figures.values())
    assert figures["Sight+ members now"] == "1"
    assert panel.link_url == "/staff/members"


def test_granting_and_revoking_a_complimentary_membership_is_audited(session):
    from membership.grants import GrantRefused, grant_complimentary, revoke_complimentary

    staff = create_user(session, "staff@example.com", role=Role.staff)
    reader = create_user(session, "writer@example.com")
    now = utcnow()
    with pytest.raises(GrantRefused):
        grant_complimentary(session, user=reader, reason=" ", ends_at=now + timedelta(days=1), actor=staff, now=now, version=1)
    grant = grant_complimentary(session, user=reader, reason="Guest columnist",
                                ends_at=now + timedelta(days=90), actor=staff, now=now, version=1)
    session.commit()
    assert sight_plus_at(reader.id, now + timedelta(days=1))
    later = now + timedelta(days=10)
    revoke_complimentary(session, grant=grant, reason="Column ended", actor=staff, now=later)
    with pytest.raises(GrantRefused):
        revoke_complimentary(session, grant=grant, reason="again", actor=staff, now=later)
    session.commit()
    assert sight_plus_at(reader.id, now + timedelta(days=1))  # was a member then
    assert not sight_plus_at(reader.id, later)
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["membership.grant", "membership.revoke"]
