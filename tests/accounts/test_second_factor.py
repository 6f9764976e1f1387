from datetime import timedelta

import pyotp

from accounts import operations as ops
from accounts.models import Role
from sight.db import utcnow
from tests.accounts.conftest import give_code, last_link, page_text, sign_in
from tests.helpers import create_user, submit_form


def setup_secret(html: str) -> str:
    """The key the setup page shows, without the spaces that group it."""
    start = html.index('<p class="secret"><code>') + len('<p class="secret"><code>')
    return html[start : html.index("</code>", start)].replace(" ", "")


def test_first_staff_sign_in_sets_up_the_authenticator_before_signing_in(client, make_user, user_by_email):
    make_user("editor@example.com", role=Role.staff)
    response = sign_in(client, "editor@example.com", next_url="/staff/")
    assert response.headers["Location"] == "/sign-in/totp/setup"
    # The password alone signs no one in.
    assert client.get("/staff/").status_code == 302

    html = page_text(client.get("/sign-in/totp/setup"))
    secret = setup_secret(html)
    assert f"otpauth://totp/Sight:editor%40example.com?secret={secret}&amp;issuer=Sight" in client.get(
        "/sign-in/totp/setup"
    ).get_data(as_text=True)

    response = give_code(client, secret, "/sign-in/totp/setup", code="000000")
    assert "That code doesn't match" in page_text(response)
    assert client.get("/staff/").status_code == 302

    response = give_code(client, secret, "/sign-in/totp/setup")
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/"
    assert client.get("/staff/").status_code == 200
    assert user_by_email("editor@example.com").totp_secret == secret


def test_staff_with_an_authenticator_give_a_code_after_the_password(client, make_user):
    admin = make_user("admin@example.com", role=Role.admin, totp=True)
    response = sign_in(client, admin.email)
    assert response.headers["Location"] == "/sign-in/totp"
    assert client.get("/staff/").status_code == 302

    response = give_code(client, admin.totp_secret, code="123 456")
    assert "That code isn't right" in page_text(response)
    response = give_code(client, admin.totp_secret)
    assert response.headers["Location"] == "/staff/"  # staff land on their dashboard
    assert client.get("/staff/").status_code == 200


def test_a_code_works_only_once(app, make_user):
    admin = make_user("admin@example.com", role=Role.admin, totp=True)
    code = pyotp.TOTP(admin.totp_secret).now()
    first = app.test_client()
    sign_in(first, admin.email)
    assert give_code(first, admin.totp_secret, code=code).status_code == 302

    second = app.test_client()
    sign_in(second, admin.email)
    response = give_code(second, admin.totp_secret, code=code)
    assert response.status_code == 200
    assert "already been used" in page_text(response)


def test_the_code_page_without_a_password_first_starts_again(client):
    response = client.get("/sign-in/totp")
    assert response.headers["Location"] == "/sign-in"
    assert client.get("/sign-in/totp/setup").headers["Location"] == "/sign-in"


def test_five_wrong_codes_end_the_attempt(client, make_user):
    admin = make_user("admin@example.com", role=Role.admin, totp=True)
    sign_in(client, admin.email)
    for _ in range(4):
        assert give_code(client, admin.totp_secret, code="000000").status_code == 200
    response = give_code(client, admin.totp_secret, code="000000")
    assert response.headers["Location"] == "/sign-in"
    assert client.get("/sign-in/totp").headers["Location"] == "/sign-in"


def test_wrong_codes_count_across_sign_ins(app, make_user):
    admin = make_user("admin@example.com", role=Role.admin, totp=True)
    statuses = []
    for attempts in (3, 2):
        client = app.test_client()
        sign_in(client, admin.email)
        statuses += [give_code(client, admin.totp_secret, code="000000").status_code for _ in range(attempts)]
    # Starting again from the password buys no more guesses: the fifth wrong code in a row ends it.
    assert statuses == [200] * 4 + [302]


def test_an_emailed_link_still_asks_staff_for_their_code(client, make_user, mailbox):
    admin = make_user("admin@example.com", role=Role.admin, totp=True)
    submit_form(client, "/sign-in/link", {"email": admin.email})
    response = submit_form(client, last_link(mailbox, admin.email), {})
    assert response.headers["Location"] == "/sign-in/totp"
    assert client.get("/staff/").status_code == 302
    assert give_code(client, admin.totp_secret).status_code == 302
    assert client.get("/staff/").status_code == 200


def test_a_reader_can_add_an_authenticator_and_is_then_asked_for_codes(client, make_user, user_by_email):
    make_user("reader@example.com")
    sign_in(client, "reader@example.com")
    secret = setup_secret(page_text(client.get("/account/settings/second-factor")))
    response = give_code(client, secret, "/account/settings/second-factor")
    assert response.headers["Location"] == "/account/settings"
    assert user_by_email("reader@example.com").totp_secret == secret

    submit_form(client, "/sign-out", {})
    assert sign_in(client, "reader@example.com").headers["Location"] == "/sign-in/totp"


def test_verify_totp_accepts_one_step_of_drift_and_no_replay(session):
    user = create_user(session, "admin@example.com", role=Role.admin, totp=True)
    now = utcnow()
    totp = pyotp.TOTP(user.totp_secret)
    assert not ops.verify_totp(session, user, totp.at(now - timedelta(seconds=90)), now=now)
    assert ops.verify_totp(session, user, totp.at(now - timedelta(seconds=30)), now=now)
    assert not ops.verify_totp(session, user, totp.at(now - timedelta(seconds=30)), now=now)
    assert ops.verify_totp(session, user, totp.at(now), now=now)
    assert not ops.verify_totp(session, user, "abcdef", now=now)


def test_a_code_typed_in_other_digits_counts(session):
    user = create_user(session, "admin@example.com", role=Role.admin, totp=True)
    now = utcnow()
    code = pyotp.TOTP(user.totp_secret).at(now)
    arabic_indic = code.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert ops.verify_totp(session, user, arabic_indic, now=now)


def test_wrong_codes_are_counted_on_the_server_so_an_older_cookie_does_not_reset_them(app, make_user):
    admin = make_user("admin@example.com", role=Role.admin, totp=True)
    client = app.test_client()
    sign_in(client, admin.email)
    before_any_failure = client.get_cookie("session").value
    for _ in range(4):
        assert "That code isn't right" in page_text(give_code(client, admin.totp_secret, code="000000"))

    # Four wrong codes so far; the cookie from before them says none.
    client.set_cookie("session", before_any_failure)
    response = give_code(client, admin.totp_secret, code="000000")
    assert response.headers["Location"] == "/sign-in"
    assert "wrong too many times" in page_text(client.get("/sign-in"))

    # That waiting sign-in is over, whichever cookie comes back: the password is asked again.
    client.set_cookie("session", before_any_failure)
    assert client.get("/sign-in/totp").headers["Location"] == "/sign-in"
    assert client.get("/staff/").status_code == 302


def test_a_right_code_starts_the_count_again(app, make_user):
    admin = make_user("admin@example.com", role=Role.admin, totp=True)
    client = app.test_client()
    sign_in(client, admin.email)
    give_code(client, admin.totp_secret, code="000000")
    assert give_code(client, admin.totp_secret).headers["Location"] == "/staff/"
    submit_form(client, "/sign-out", {}, page_url="/account/settings")

    sign_in(client, admin.email)
    # One wrong code before, four after: five in all, but never five in a row.
    for _ in range(4):
        assert "That code isn't right" in page_text(give_code(client, admin.totp_secret, code="000000"))
