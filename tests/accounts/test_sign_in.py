from argon2 import PasswordHasher

from accounts.models import User
from sight.extensions import db
from tests.accounts.conftest import PASSWORD, page_text, sign_in
from tests.helpers import submit_form

WRONG = "That email and password don't match an account."


def test_signing_in_with_email_and_password(client, make_user):
    make_user("reader@example.com")
    response = sign_in(client, "READER@example.com ", PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    assert client.get("/account/settings").status_code == 200


def test_sign_in_returns_to_a_local_next(client, make_user):
    make_user("reader@example.com")
    response = sign_in(client, "reader@example.com", next_url="/surveys/reader-survey?page=2")
    assert response.headers["Location"] == "/surveys/reader-survey?page=2"


def test_sign_in_never_sends_people_off_the_site(client, make_user):
    make_user("reader@example.com")
    for target in ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"]:
        with client.session_transaction() as flask_session:
            flask_session.clear()
        response = sign_in(client, "reader@example.com", next_url=target)
        assert response.headers["Location"] == "/account", target


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(client, make_user):
    make_user("reader@example.com")
    wrong = sign_in(client, "reader@example.com", "not my password at all")
    unknown = sign_in(client, "nobody@example.com", "not my password at all")
    for response in (wrong, unknown):
        html = page_text(response)
        assert response.status_code == 200
        assert WRONG in html
    assert 'value="nobody@example.com"' in page_text(unknown)
    assert client.get("/account/settings").status_code == 302


def test_an_account_without_a_password_cannot_sign_in_with_one(client, make_user):
    make_user("donor@example.com", password=None)
    assert WRONG in page_text(sign_in(client, "donor@example.com", "anything at all here"))


def test_a_closed_account_cannot_sign_in(client, make_user, read):
    user = make_user("reader@example.com")

    def close(session):
        session.get(User, user.id).closed_at = db.func.now()
        session.commit()

    read(close)
    assert WRONG in page_text(sign_in(client, "reader@example.com"))


def test_production_hashing_replaces_a_weaker_hash_at_sign_in(make_app, make_user, user_by_email):
    # The one test at production cost: the suite's own hashes are made with the fast profile.
    weak = make_user("reader@example.com").password_hash
    assert PasswordHasher().check_needs_rehash(weak)

    production_hashing = make_app(PASSWORD_HASHING="standard")
    assert sign_in(production_hashing.test_client(), "reader@example.com").status_code == 302
    stored = user_by_email("reader@example.com").password_hash
    assert stored.startswith("$argon2id$") and stored != weak
    assert not PasswordHasher().check_needs_rehash(stored)
    assert PasswordHasher().verify(stored, PASSWORD)


def test_signing_out_ends_the_session_on_the_server(app, make_user):
    make_user("reader@example.com")
    client = app.test_client()
    sign_in(client, "reader@example.com")
    copied = client.get_cookie("session").value

    response = submit_form(client, "/sign-out", {})
    assert response.status_code == 302
    assert client.get("/account/settings").status_code == 302

    # Someone who kept a copy of the cookie from before the sign-out gets nothing with it.
    thief = app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get("/account/settings")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_sign_out_page_asks_first_and_anonymous_visitors_go_home(client, make_user):
    assert client.get("/sign-out").headers["Location"] == "/"
    make_user("reader@example.com")
    sign_in(client, "reader@example.com")
    html = client.get("/sign-out").get_data(as_text=True)
    assert "You're signed in as reader@example.com" in html
    assert client.post("/sign-out").status_code == 400  # no CSRF token: nothing happens
    assert client.get("/account/settings").status_code == 200


def test_repeated_failed_sign_ins_for_an_address_are_rate_limited(client, make_user):
    make_user("reader@example.com")
    for _ in range(10):
        assert sign_in(client, "reader@example.com", "guessing again and again").status_code == 200
    response = sign_in(client, "reader@example.com", PASSWORD)
    assert response.status_code == 429
    html = page_text(response)
    assert "Too many attempts" in html
    # Another address is not held up by someone guessing this one.
    make_user("other@example.com")
    assert sign_in(client, "other@example.com").status_code == 302


def test_successful_sign_ins_do_not_use_up_the_limit(app, make_user):
    make_user("reader@example.com")
    for _ in range(12):
        client = app.test_client()
        assert sign_in(client, "reader@example.com").status_code == 302
