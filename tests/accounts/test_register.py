from accounts.models import Role
from tests.helpers import submit_form

GOOD = {
    "name": "Robin Reader",
    "email": "Robin@Example.com",
    "password": "tram lines at dawn 42",
    "confirm": "tram lines at dawn 42",
}


def test_registering_creates_a_reader_and_signs_them_in(client, user_by_email):
    response = submit_form(client, "/register", GOOD)

    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    user = user_by_email("robin@example.com")
    assert user.name == "Robin Reader"
    assert user.role is Role.reader
    assert user.password_hash.startswith("$argon2id$")
    assert client.get("/account/settings").status_code == 200


def test_registering_goes_back_to_a_local_next_only(client):
    response = submit_form(client, "/register?next=/surveys/reader-survey", GOOD)
    assert response.headers["Location"] == "/surveys/reader-survey"


def test_an_offsite_next_is_ignored(client):
    response = submit_form(client, "/register?next=https://evil.example/", GOOD)
    assert response.headers["Location"] == "/account"


def test_short_common_and_mismatched_passwords_are_refused_beside_the_field(client, user_by_email):
    cases = [
        ({"password": "short", "confirm": "short"}, "Use at least 12 characters."),
        ({"password": "qwerty123456", "confirm": "qwerty123456"}, "too common"),
        ({"password": "aaaaaaaaaaaaaa", "confirm": "aaaaaaaaaaaaaa"}, "too easy to guess"),
        ({"confirm": "something else entirely"}, "The two passwords are not the same."),
    ]
    for change, message in cases:
        response = submit_form(client, "/register", {**GOOD, **change})
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert message in html
        assert 'aria-describedby="' in html and "-error" in html
        # What the person typed is kept, passwords excepted.
        assert 'value="Robin Reader"' in html
        assert 'value="Robin@Example.com"' in html
        assert "tram lines" not in html
    assert user_by_email("robin@example.com") is None


def test_a_bad_email_and_a_missing_name_are_explained(client):
    html = submit_form(client, "/register", {**GOOD, "name": "", "email": "not-an-email"}).get_data(as_text=True)
    assert "Enter your name." in html
    assert "Enter an email address like name@example.com." in html


def test_an_email_that_already_has_an_account_is_refused_whatever_its_case(client, make_user, user_by_email):
    make_user("robin@example.com", name="First Robin")
    response = submit_form(client, "/register", GOOD)
    assert response.status_code == 200
    assert "An account already uses this email." in response.get_data(as_text=True)
    assert user_by_email("robin@example.com").name == "First Robin"


def test_a_form_without_its_csrf_token_is_refused(client, user_by_email):
    response = client.post("/register", data=GOOD)
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert user_by_email("robin@example.com") is None
