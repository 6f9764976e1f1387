"""Whatever is typed into an accounts form, the answer is a page, never a server error."""

import pytest
from sqlalchemy import func, select

from accounts.models import Role, User
from tests.helpers import sign_in_as, submit_form

HOSTILE = [
    "",
    "   ",
    "x" * 5000,
    "émoji 🎉 and עברית and 'quotes' \"double\" <b>tags</b>",
    "=cmd|' /C calc'!A0",
    "a@b",
    "@@@@",
    "reader@example.com\r\nBcc: victim@example.com",
    "١٢٣٤٥٦",
]

PUBLIC_FORMS = {
    "/register": ["name", "email", "password", "confirm"],
    "/sign-in": ["email", "password"],
    "/sign-in/link": ["email"],
    "/password/reset": ["email"],
}


@pytest.mark.parametrize("url", PUBLIC_FORMS)
def test_public_forms_answer_hostile_input_with_a_page(app, make_user, read, url):
    make_user("reader@example.com")
    for value in HOSTILE:
        client = app.test_client()
        response = submit_form(client, url, dict.fromkeys(PUBLIC_FORMS[url], value))
        assert response.status_code in (200, 400, 429), (url, value[:20], response.status_code)
    assert read(lambda s: s.scalar(select(func.count()).select_from(User))) == 1


def test_signed_in_forms_answer_hostile_input_with_a_page(app, make_user):
    reader = make_user("reader@example.com")
    admin = make_user("admin@example.com", role=Role.admin, totp=True)
    staff = app.test_client()
    sign_in_as(staff, admin)
    for value in HOSTILE:
        client = app.test_client()
        sign_in_as(client, reader)
        for url, fields in {
            "/account/settings/password": ["current_password", "password", "confirm"],
            "/account/settings/close": ["password", "confirmation"],
            "/account/settings/second-factor": ["code"],
        }.items():
            response = submit_form(client, url, dict.fromkeys(fields, value))
            assert response.status_code in (200, 400, 429), (url, value[:20])
        response = submit_form(staff, "/staff/people/invite", {"email": value, "name": value, "role": value}, page_url="/staff/people")
        assert response.status_code in (302, 400), value[:20]


def test_hostile_codes_and_tokens_get_pages(app, make_user):
    admin = make_user("admin@example.com", role=Role.admin, totp=True)
    client = app.test_client()
    submit_form(client, "/sign-in", {"email": admin.email, "password": "correct horse battery staple"})
    for value in HOSTILE[:4]:
        assert submit_form(client, "/sign-in/totp", {"code": value}).status_code in (200, 302, 429)
    for token in ["x" * 3000, "%E2%80%AE", "..%2F..%2Fetc", "🎉"]:
        assert client.get(f"/sign-in/link/{token}").status_code == 404
        assert client.get(f"/password/reset/{token}").status_code == 404
