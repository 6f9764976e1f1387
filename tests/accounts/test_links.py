import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from accounts.models import AccountToken, TokenPurpose
from sight.db import utcnow
from tests.accounts.conftest import PASSWORD, last_link, links_in, page_text, sign_in
from tests.helpers import csrf_token_from, submit_form

CHECK_EMAIL = "If {} belongs to a Sight account, we've sent it a"


def expire_links(read, user_id: int) -> None:
    def expire(session):
        session.execute(
            update(AccountToken)
            .where(AccountToken.user_id == user_id)
            .values(created_at=utcnow() - timedelta(hours=3), expires_at=utcnow() - timedelta(seconds=1))
        )
        session.commit()

    read(expire)


# --- sign-in links ---------------------------------------------------------------------


def test_an_emailed_link_signs_in_once(app, client, make_user, mailbox):
    make_user("reader@example.com", password=None)
    response = submit_form(client, "/sign-in/link", {"email": "Reader@Example.com"})
    assert CHECK_EMAIL.format("Reader@Example.com") in page_text(response)

    [message] = mailbox.to("reader@example.com")
    assert message["Subject"] == "Your link to sign in to Sight"
    assert "for the next 20 minutes" in message.get_body(("plain",)).get_content()
    link = last_link(mailbox, "reader@example.com")

    # Opening the link (as a mail scanner would) does not use it up; pressing the button does.
    assert "Press the button to sign in" in page_text(client.get(link))
    assert "Press the button to sign in" in page_text(client.get(link))
    response = submit_form(client, link, {})
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    assert client.get("/account/settings").status_code == 200

    other = app.test_client()
    response = other.get(link)
    assert response.status_code == 410
    text = page_text(response)
    assert "This link has already been used." in text
    assert "Email me a new sign-in link" in text
    assert 'action="/sign-in/link"' in text


def test_an_unknown_address_gets_the_same_answer_and_no_mail(client, mailbox):
    response = submit_form(client, "/sign-in/link", {"email": "nobody@example.com"})
    assert response.status_code == 200
    assert CHECK_EMAIL.format("nobody@example.com") in page_text(response)
    assert mailbox.messages == []


@pytest.mark.parametrize("request_url", ["/sign-in/link", "/password/reset"])
def test_an_expired_link_says_so_and_offers_a_new_one(client, make_user, mailbox, read, request_url):
    user = make_user("reader@example.com")
    submit_form(client, request_url, {"email": "reader@example.com"})
    link = last_link(mailbox, "reader@example.com")
    expire_links(read, user.id)

    response = client.get(link)
    assert response.status_code == 410
    assert "This link has expired." in page_text(response)
    assert f'action="{request_url}"' in page_text(response)
    form = {} if request_url == "/sign-in/link" else {"password": "a good new passphrase", "confirm": "a good new passphrase"}
    response = submit_form(client, link, form, page_url=request_url)
    assert response.status_code == 410
    assert client.get("/account/settings").status_code == 302

    # The offered form sends a fresh link that works.
    submit_form(client, request_url, {"email": "reader@example.com"})
    assert submit_form(client, last_link(mailbox, "reader@example.com"), form).status_code == 302


def test_a_made_up_link_is_not_valid(client):
    response = client.get("/sign-in/link/made-up-token")
    assert response.status_code == 404
    assert "This link is not valid." in page_text(response)


def test_a_reset_link_does_not_sign_in(client, make_user, mailbox):
    make_user("reader@example.com")
    submit_form(client, "/password/reset", {"email": "reader@example.com"})
    reset_path = last_link(mailbox, "reader@example.com")
    token = reset_path.rsplit("/", 1)[1]
    assert client.get(f"/sign-in/link/{token}").status_code == 404


def test_link_requests_for_an_address_are_rate_limited_without_revealing_it(client, mailbox):
    for _ in range(3):
        assert submit_form(client, "/sign-in/link", {"email": "nobody@example.com"}).status_code == 200
    response = submit_form(client, "/sign-in/link", {"email": "nobody@example.com"})
    assert response.status_code == 429
    assert "Too many attempts" in page_text(response)


def test_a_bad_email_is_explained_beside_the_field(client, mailbox):
    response = submit_form(client, "/sign-in/link", {"email": "not an email"})
    assert "Enter an email address like name@example.com." in page_text(response)
    assert 'value="not an email"' in page_text(response)


# --- password reset --------------------------------------------------------------------


def test_password_reset_by_emailed_link(app, make_user, mailbox, user_by_email):
    make_user("reader@example.com")
    elsewhere = app.test_client()
    sign_in(elsewhere, "reader@example.com")

    client = app.test_client()
    response = submit_form(client, "/password/reset", {"email": "reader@example.com"})
    assert CHECK_EMAIL.format("reader@example.com") in page_text(response)
    [message] = mailbox.to("reader@example.com")
    assert message["Subject"] == "Reset your Sight password"
    link = last_link(mailbox, "reader@example.com")

    response = submit_form(client, link, {"password": "a brand new passphrase", "confirm": "a brand new passphrase"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in"

    assert "match an account" in page_text(sign_in(client, "reader@example.com", PASSWORD))
    assert sign_in(client, "reader@example.com", "a brand new passphrase").status_code == 302
    # Sessions from before the reset have ended.
    assert elsewhere.get("/account/settings").status_code == 302

    response = app.test_client().get(link)
    assert response.status_code == 410
    assert "This link has already been used." in page_text(response)
    assert "Email me a new reset link" in page_text(response)


def test_a_reset_refuses_a_weak_password_and_the_link_still_works(client, make_user, mailbox):
    make_user("reader@example.com")
    submit_form(client, "/password/reset", {"email": "reader@example.com"})
    link = last_link(mailbox, "reader@example.com")
    response = submit_form(client, link, {"password": "password1234", "confirm": "password1234"})
    assert response.status_code == 200
    assert "That password is too common" in page_text(response)
    response = submit_form(client, link, {"password": "another good passphrase", "confirm": "another good passphrase"})
    assert response.status_code == 302


def test_a_used_reset_link_is_used_up_along_with_older_ones(client, make_user, mailbox, read):
    user = make_user("reader@example.com")
    submit_form(client, "/password/reset", {"email": "reader@example.com"})
    submit_form(client, "/password/reset", {"email": "reader@example.com"})
    first, second = mailbox.to("reader@example.com")
    submit_form(client, links_in(second)[0], {"password": "the newest passphrase", "confirm": "the newest passphrase"})
    assert client.get(links_in(first)[0]).status_code == 410
    tokens = read(lambda s: s.scalars(tokens_of(user.id)).all())
    assert len(tokens) == 2 and all(t.used_at is not None for t in tokens)


def test_reset_requests_never_reveal_whether_an_account_exists(client, make_user, mailbox):
    make_user("reader@example.com")
    known = page_text(submit_form(client, "/password/reset", {"email": "reader@example.com"}))
    unknown = page_text(submit_form(client, "/password/reset", {"email": "nobody@example.com"}))
    assert known.replace("reader@example.com", "X") == unknown.replace("nobody@example.com", "X")
    assert len(mailbox.messages) == 1


def test_links_are_stored_only_as_hashes(client, make_user, mailbox, read):
    user = make_user("reader@example.com")
    submit_form(client, "/sign-in/link", {"email": "reader@example.com"})
    token = last_link(mailbox, "reader@example.com").rsplit("/", 1)[1]
    stored = read(lambda s: s.scalars(tokens_of(user.id)).all())
    assert [t.purpose for t in stored] == [TokenPurpose.sign_in]
    assert token not in stored[0].token_hash
    assert stored[0].expires_at - stored[0].created_at == timedelta(minutes=20)


def tokens_of(user_id: int):
    return select(AccountToken).where(AccountToken.user_id == user_id)


def test_a_link_opened_in_the_same_browser_returns_to_where_the_person_was_going(client, make_user, mailbox):
    make_user("reader@example.com")
    submit_form(client, "/sign-in/link?next=%2Fsurveys%2Freader-survey", {"email": "reader@example.com"})
    response = submit_form(client, last_link(mailbox, "reader@example.com"), {})
    assert response.headers["Location"] == "/surveys/reader-survey"


def test_a_link_used_by_several_requests_at_once_signs_in_only_one(app, make_user, mailbox):
    make_user("reader@example.com")
    first = app.test_client()
    submit_form(first, "/sign-in/link", {"email": "reader@example.com"})
    link = last_link(mailbox, "reader@example.com")
    token = csrf_token_from(first.get(link).get_data(as_text=True))
    cookie = first.get_cookie("session").value

    clients = [app.test_client() for _ in range(4)]
    for client in clients:
        client.set_cookie("session", cookie)
    start = threading.Barrier(len(clients))

    def use(client):
        start.wait()
        return client.post(link, data={"csrf_token": token}).status_code

    with ThreadPoolExecutor(len(clients)) as pool:
        statuses = sorted(pool.map(use, clients))
    assert statuses == [302, 410, 410, 410]
