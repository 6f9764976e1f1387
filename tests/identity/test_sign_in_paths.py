"""Every way of signing in is the login page of the authorization endpoint, and each comes back to
it: a password, an emailed link (opened in the same browser), and staff's second factor."""

from __future__ import annotations

from accounts.models import Role
from tests.accounts.conftest import give_code, last_link
from tests.helpers import PASSWORD, submit_form
from tests.identity.conftest import Attempt, returned


def test_an_emailed_link_comes_back_to_the_site_that_asked(client, register_site, make_user, mailbox):
    site = register_site(first_party=True)
    make_user("reader@example.com", password=None)
    attempt = Attempt(site)
    sign_in_page = client.get(attempt.url()).headers["Location"]
    link_page = sign_in_page.replace("/sign-in?", "/sign-in/link?")
    assert submit_form(client, link_page, {"email": "reader@example.com"}).status_code == 200

    link = last_link(mailbox, "reader@example.com")
    back = submit_form(client, link, {})
    assert back.status_code == 302 and back.headers["Location"].startswith("/oauth/authorize?")
    params = returned(client.get(back.headers["Location"]))
    assert params["state"] == attempt.state and params["code"]


def test_staff_give_their_second_factor_then_go_back_to_the_site(client, register_site, make_user):
    site = register_site(first_party=True)
    staff = make_user("editor@example.com", role=Role.staff, totp=True)
    attempt = Attempt(site)
    sign_in_page = client.get(attempt.url()).headers["Location"]
    password = submit_form(client, sign_in_page, {"email": "editor@example.com", "password": PASSWORD})
    assert password.headers["Location"] == "/sign-in/totp"
    second_factor = give_code(client, staff.totp_secret)
    assert second_factor.headers["Location"].startswith("/oauth/authorize?")
    assert returned(client.get(second_factor.headers["Location"]))["state"] == attempt.state
