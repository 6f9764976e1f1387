import json

from sqlalchemy import select

from accounts.models import AccountToken, Role
from accounts.personal_data import register_erasure_step, register_personal_data
from sight.mail import queue_mail
from sight.models import OutboxMessage
from tests.accounts.conftest import PASSWORD, last_link, page_text, sign_in, sign_in_staff
from tests.helpers import submit_form

NEW = "a fresh passphrase for me"


def test_settings_need_a_signed_in_person(client):
    response = client.get("/account/settings")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?next=")


def test_settings_page_offers_every_action(client, make_user):
    make_user("reader@example.com")
    sign_in(client, "reader@example.com")
    text = page_text(client.get("/account/settings"))
    for words in ["Change your password", "Set up an authenticator app", "Download my data", "Close my account", "Sign out"]:
        assert words in text


def test_changing_the_password_keeps_this_session_and_ends_the_others(app, make_user):
    make_user("reader@example.com")
    here, elsewhere = app.test_client(), app.test_client()
    sign_in(here, "reader@example.com")
    sign_in(elsewhere, "reader@example.com")

    response = submit_form(here, "/account/settings/password", {"current_password": "wrong guess here", "password": NEW, "confirm": NEW})
    assert "That is not your current password." in page_text(response)

    response = submit_form(here, "/account/settings/password", {"current_password": PASSWORD, "password": NEW, "confirm": NEW})
    assert response.headers["Location"] == "/account/settings"
    assert here.get("/account/settings").status_code == 200
    assert elsewhere.get("/account/settings").status_code == 302
    assert sign_in(app.test_client(), "reader@example.com", NEW).status_code == 302


def test_someone_without_a_password_can_choose_one(client, make_user, mailbox):
    make_user("donor@example.com", password=None)
    submit_form(client, "/sign-in/link", {"email": "donor@example.com"})
    submit_form(client, last_link(mailbox, "donor@example.com"), {})
    page = page_text(client.get("/account/settings/password"))
    assert "Choose a password" in page and "Current password" not in page
    response = submit_form(client, "/account/settings/password", {"password": NEW, "confirm": NEW})
    assert response.headers["Location"] == "/account/settings"


def test_download_my_data_is_json_with_every_registered_part(app, make_user, read):
    register_personal_data(app, "donations", lambda session, user: {"gifts": [{"cents": 2600}]})
    user = make_user("reader@example.com", name="Robin Reader")

    def mail(session):
        queue_mail(session, to=user.email, subject="Receipt", body="Thanks", kind="receipt", user_id=user.id)
        session.commit()

    read(mail)
    client = app.test_client()
    sign_in(client, "reader@example.com")
    response = client.get("/account/settings/my-data.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["account"]["email"] == "reader@example.com"
    assert data["account"]["name"] == "Robin Reader"
    assert data["donations"] == {"gifts": [{"cents": 2600}]}
    assert [m["subject"] for m in data["mail"]["messages"]] == ["Receipt"]


def test_closing_an_account_removes_the_details_and_signs_out_everywhere(app, make_user, read, mailbox):
    erased = []
    register_erasure_step(app, lambda session, user, now: erased.append((user.email, now)))
    user = make_user("reader@example.com", name="Robin Reader")
    here, elsewhere = app.test_client(), app.test_client()
    sign_in(here, "reader@example.com")
    sign_in(elsewhere, "reader@example.com")
    submit_form(here, "/sign-in/link", {"email": "reader@example.com"}, page_url="/account/settings")

    response = submit_form(here, "/account/settings/close", {"password": "not the password"})
    assert "That is not your password." in page_text(response)
    assert erased == []

    response = submit_form(here, "/account/settings/close", {"password": PASSWORD})
    assert response.headers["Location"] == "/"
    assert [email for email, _ in erased] == ["reader@example.com"]
    assert here.get("/account/settings").status_code == 302
    assert elsewhere.get("/account/settings").status_code == 302

    closed = read(lambda s: s.get(type(user), user.id))
    assert closed.email == f"closed-{user.id}@invalid"
    assert closed.name == "" and closed.password_hash is None and closed.totp_secret is None
    assert closed.closed_at is not None
    assert read(lambda s: s.scalars(select(AccountToken).where(AccountToken.user_id == user.id)).all()) == []
    addresses = read(lambda s: s.scalars(select(OutboxMessage.to_address)).all())
    assert "reader@example.com" not in addresses

    # The address is free for a new account, and the old password opens nothing.
    assert "match an account" in page_text(sign_in(app.test_client(), "reader@example.com"))
    response = submit_form(app.test_client(), "/register", {"name": "New", "email": "reader@example.com", "password": NEW, "confirm": NEW})
    assert response.status_code == 302


def test_someone_without_a_password_closes_by_typing_the_words(client, make_user, mailbox, user_by_email):
    make_user("donor@example.com", password=None)
    submit_form(client, "/sign-in/link", {"email": "donor@example.com"})
    submit_form(client, last_link(mailbox, "donor@example.com"), {})
    response = submit_form(client, "/account/settings/close", {"confirmation": "yes"})
    assert 'Type "close my account" to confirm.' in page_text(response)
    response = submit_form(client, "/account/settings/close", {"confirmation": "Close my account"})
    assert response.headers["Location"] == "/"
    assert user_by_email("donor@example.com") is None


def test_the_last_admin_cannot_close_their_account(client, make_user):
    admin = make_user("admin@example.com", role=Role.admin, totp=True)
    sign_in_staff(client, admin)
    response = submit_form(client, "/account/settings/close", {"password": PASSWORD})
    assert response.headers["Location"] == "/account/settings"
    assert "make someone else an admin" in page_text(client.get("/account/settings"))
