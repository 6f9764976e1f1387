from datetime import timedelta

import pytest
from sqlalchemy import select

from accounts.models import Role, User
from sight.audit import record_audit
from sight.db import utcnow
from sight.models import AuditEntry
from sight.staff import DashboardPanel, register_dashboard_panel
from tests.accounts.conftest import give_code, last_link, page_text, sign_in
from tests.helpers import sign_in_as, sign_in_url, submit_form

STAFF_URLS = ["/staff/", "/staff/audit", "/staff/people", "/staff/no-such-page"]
ADMIN_ONLY = {"/staff/audit", "/staff/people"}


@pytest.fixture
def people(make_user):
    return {
        "reader": make_user("reader@example.com"),
        "staff": make_user("staff@example.com", role=Role.staff, totp=True, name="Sam Staff"),
        "admin": make_user("admin@example.com", role=Role.admin, totp=True, name="Ada Admin"),
    }


@pytest.mark.parametrize("url", STAFF_URLS)
def test_anonymous_visitors_are_sent_to_sign_in_and_back(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"] == sign_in_url(url)


@pytest.mark.parametrize("url", STAFF_URLS)
def test_readers_get_a_friendly_403(client, people, url):
    sign_in_as(client, people["reader"])
    response = client.get(url)
    assert response.status_code == 403
    assert "You can't open this page" in page_text(response)


@pytest.mark.parametrize("url", STAFF_URLS)
def test_staff_see_staff_pages_but_not_admin_ones(client, people, url):
    sign_in_as(client, people["staff"])
    expected = 403 if url in ADMIN_ONLY else 404 if "no-such" in url else 200
    assert client.get(url).status_code == expected


@pytest.mark.parametrize("url", STAFF_URLS)
def test_admins_see_every_staff_page(client, people, url):
    sign_in_as(client, people["admin"])
    assert client.get(url).status_code == (404 if "no-such" in url else 200)


def test_signing_in_from_the_staff_redirect_comes_back_to_it(client, people):
    login = client.get("/staff/audit").headers["Location"]
    response = submit_form(client, login, {"email": "admin@example.com", "password": "correct horse battery staple"})
    assert response.headers["Location"] == "/sign-in/totp"
    response = give_code(client, people["admin"].totp_secret)
    assert response.headers["Location"] == "/staff/audit"


def test_the_dashboard_shows_the_accounts_panel_and_links_for_admins(client, people):
    sign_in_as(client, people["admin"])
    text = page_text(client.get("/staff/"))
    assert "Accounts" in text
    assert "<dt>Readers</dt><dd>1</dd>" in text
    assert "<dt>Staff</dt><dd>1</dd>" in text
    assert "Audit log" in text and "People with staff access" in text


def test_the_dashboard_shows_every_registered_panel(make_app, people):
    app = make_app()
    register_dashboard_panel(
        app, lambda session, now: DashboardPanel("Surveys", [("Responses this week", "12")], "/staff/surveys/", "Results")
    )
    client = app.test_client()
    sign_in_as(client, people["staff"])
    text = page_text(client.get("/staff/"))
    assert "<h2>Surveys</h2>" in text
    assert "<dt>Responses this week</dt><dd>12</dd>" in text
    assert '<a href="/staff/surveys/">Results</a>' in text
    assert "Audit log" not in text  # staff, not admin


def test_the_dashboard_without_panels_says_so(make_app, people):
    app = make_app()
    app.extensions["sight_dashboard_panels"] = []
    client = app.test_client()
    sign_in_as(client, people["staff"])
    assert "There's nothing on the dashboard yet." in page_text(client.get("/staff/"))


# --- audit log -------------------------------------------------------------------------


def test_the_audit_log_is_newest_first_paginated_and_filtered(client, people, read):
    start = utcnow() - timedelta(days=1)

    admin_id = people["admin"].id

    def write(session):
        admin = session.get(User, admin_id)
        for i in range(55):
            record_audit(session, actor=admin, action="survey.export",
                         target=f"export-{i:02d}", details={"rows": i}, now=start + timedelta(minutes=i))
        record_audit(session, actor=admin, action="membership.grant",
                     target="user:9", details={"reason": "prize"}, now=start - timedelta(minutes=1))
        session.commit()

    read(write)
    sign_in_as(client, people["admin"])
    first = page_text(client.get("/staff/audit"))
    assert first.index("export-54") < first.index("export-53")
    assert "export-05" in first and "export-04" not in first and "Page 1 of 2" in first
    second = page_text(client.get("/staff/audit?page=2"))
    assert "export-04" in second and "export-05" not in second and "membership.grant" in second

    only = page_text(client.get("/staff/audit?action=membership.grant"))
    assert "reason: prize" in only and "export-" not in only
    assert '<option value="membership.grant" selected>' in only

    for odd in ["/staff/audit?page=-3", "/staff/audit?page=abc", "/staff/audit?page=99", "/staff/audit?action=%25"]:
        assert client.get(odd).status_code == 200, odd
    assert "No entries" in page_text(client.get("/staff/audit?action=nothing.like.this"))


# --- people ----------------------------------------------------------------------------


def audit_actions(read):
    return read(lambda s: [(e.action, e.details) for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id))])


def test_admins_list_staff_and_admins_only(client, people):
    sign_in_as(client, people["admin"])
    text = page_text(client.get("/staff/people"))
    assert "staff@example.com" in text and "admin@example.com" in text
    assert "reader@example.com" not in text


def test_inviting_a_new_person_creates_the_account_and_emails_a_link(app, people, mailbox, user_by_email, read):
    client = app.test_client()
    sign_in_as(client, people["admin"])
    response = submit_form(client, "/staff/people/invite", {"email": "New.Person@example.com", "name": "Nia New", "role": "staff"}, page_url="/staff/people")
    assert response.headers["Location"] == "/staff/people"
    invited = user_by_email("new.person@example.com")
    assert invited.role is Role.staff and invited.password_hash is None
    [message] = mailbox.to("new.person@example.com")
    assert "Ada Admin has given you staff access" in message.get_body(("plain",)).get_content()
    assert ("role.change", {"email": "new.person@example.com", "from": "reader", "to": "staff"}) in audit_actions(read)

    # The invited person follows the link, sets up their app, then chooses a password.
    newcomer = app.test_client()
    response = submit_form(newcomer, last_link(mailbox, "new.person@example.com"), {})
    assert response.headers["Location"] == "/sign-in/totp/setup"
    html = page_text(newcomer.get("/sign-in/totp/setup"))
    start = html.index('<p class="secret"><code>') + len('<p class="secret"><code>')
    secret = html[start : html.index("</code>", start)].replace(" ", "")
    response = give_code(newcomer, secret, "/sign-in/totp/setup")
    assert response.headers["Location"] == "/account/settings/password"
    response = submit_form(newcomer, "/account/settings/password", {"password": "my first staff passphrase", "confirm": "my first staff passphrase"})
    assert response.headers["Location"] == "/account/settings"
    assert newcomer.get("/staff/").status_code == 200


def test_inviting_a_reader_promotes_them_and_ends_their_reader_session(app, people, mailbox, user_by_email):
    reader_client = app.test_client()
    sign_in(reader_client, "reader@example.com")
    client = app.test_client()
    sign_in_as(client, people["admin"])
    submit_form(client, "/staff/people/invite", {"email": "reader@example.com", "role": "admin"}, page_url="/staff/people")
    assert user_by_email("reader@example.com").role is Role.admin
    # They must come back through the second factor before using staff pages.
    assert reader_client.get("/staff/").status_code == 302
    assert "you'll sign in, then set up an authenticator app" in mailbox.to("reader@example.com")[0].get_body(("plain",)).get_content()


def test_an_invitation_with_a_bad_email_is_explained(client, people, mailbox):
    sign_in_as(client, people["admin"])
    response = submit_form(client, "/staff/people/invite", {"email": "nope", "role": "staff"}, page_url="/staff/people")
    assert response.status_code == 400
    assert "Enter an email address like name@example.com." in page_text(response)
    assert 'value="nope"' in page_text(response)
    response = submit_form(client, "/staff/people/invite", {"email": "x@example.com", "role": "owner"}, page_url="/staff/people")
    assert response.status_code == 400
    assert mailbox.messages == []


def test_admins_change_roles_and_every_change_is_audited(app, people, user_by_email, read):
    staff_client = app.test_client()
    sign_in_as(staff_client, people["staff"])
    client = app.test_client()
    sign_in_as(client, people["admin"])
    staff_id = people["staff"].id

    response = submit_form(client, f"/staff/people/{staff_id}/role", {f"user-{staff_id}-role": "admin"}, page_url="/staff/people")
    assert response.headers["Location"] == "/staff/people"
    assert user_by_email("staff@example.com").role is Role.admin
    assert "staff@example.com is now an admin." in page_text(client.get("/staff/people"))
    assert staff_client.get("/staff/").status_code == 302  # their session ended

    submit_form(client, f"/staff/people/{staff_id}/remove", {}, page_url="/staff/people")
    assert user_by_email("staff@example.com").role is Role.reader
    assert audit_actions(read) == [
        ("role.change", {"email": "staff@example.com", "from": "staff", "to": "admin"}),
        ("role.change", {"email": "staff@example.com", "from": "admin", "to": "reader"}),
    ]
    entry = read(lambda s: s.scalars(select(AuditEntry)).first())
    assert entry.actor_email == "admin@example.com" and entry.target == f"user:{staff_id}"
    text = page_text(client.get("/staff/people"))
    assert "staff@example.com is now a reader, without staff access." in text
    assert "<td>Sam Staff" not in text


def test_the_last_admin_cannot_demote_themselves(client, people, user_by_email, read):
    sign_in_as(client, people["admin"])
    admin_id = people["admin"].id
    submit_form(client, f"/staff/people/{admin_id}/remove", {}, page_url="/staff/people")
    submit_form(client, f"/staff/people/{admin_id}/role", {f"user-{admin_id}-role": "staff"}, page_url="/staff/people")
    assert user_by_email("admin@example.com").role is Role.admin
    assert "There must always be at least one admin" in page_text(client.get("/staff/people"))
    assert audit_actions(read) == []


def test_an_admin_may_step_down_when_another_admin_remains(client, people, user_by_email):
    sign_in_as(client, people["admin"])
    staff_id, admin_id = people["staff"].id, people["admin"].id
    submit_form(client, f"/staff/people/{staff_id}/role", {f"user-{staff_id}-role": "admin"}, page_url="/staff/people")
    submit_form(client, f"/staff/people/{admin_id}/role", {f"user-{admin_id}-role": "staff"}, page_url="/staff/people")
    assert user_by_email("admin@example.com").role is Role.staff
    # Still signed in, now as staff.
    assert client.get("/staff/").status_code == 200
    assert client.get("/staff/people").status_code == 403


def test_role_changes_for_unknown_people_or_bad_values_are_refused(client, people):
    sign_in_as(client, people["admin"])
    staff_id = people["staff"].id
    assert submit_form(client, "/staff/people/9999/role", {"user-9999-role": "admin"}, page_url="/staff/people").status_code == 404
    response = submit_form(client, f"/staff/people/{staff_id}/role", {f"user-{staff_id}-role": "owner"}, page_url="/staff/people")
    assert response.status_code == 400
    assert "Not a valid choice" in page_text(response)
    assert client.post(f"/staff/people/{staff_id}/remove").status_code == 400


def test_staff_cannot_change_roles(client, people, user_by_email):
    sign_in_as(client, people["staff"])
    admin_id = people["admin"].id
    response = submit_form(client, f"/staff/people/{admin_id}/remove", {}, page_url="/account/settings")
    assert response.status_code == 403
    assert user_by_email("admin@example.com").role is Role.admin


def test_a_failing_panel_does_not_take_the_dashboard_down(make_app, people, caplog):
    app = make_app()
    def broken(session, now):
        session.execute(select(AuditEntry.id).where(AuditEntry.action == "x").limit(1))
        raise RuntimeError("panel bug")

    register_dashboard_panel(app, broken)
    client = app.test_client()
    sign_in_as(client, people["staff"])
    response = client.get("/staff/")
    assert response.status_code == 200
    text = page_text(response)
    assert "1 part of the dashboard could not be shown just now" in text
    assert "<dt>Readers</dt><dd>1</dd>" in text
    assert "panel bug" not in text
    assert "panel bug" in caplog.text
