"""Security defaults of the shell: headers, cookies, CSRF, body size, friendly errors, production start-up."""

from html import unescape

import pytest
from flask import abort

from sight import create_app
from sight.config import ConfigError
from sight.extensions import db
from tests.helpers import TEST_SIGNING_KEY_FILE, create_user, sign_in_as, submit_form

# An organisation's details as a receipt prints them (the ATO's example ABN, whose checksum holds).
RECEIPT_IDENTITY = {
    "ORG_LEGAL_NAME": "Sight Media Ltd",
    "ORG_ABN": "51 824 753 556",
    "RECEIPT_TAX_STATEMENT": "Sight Media Ltd is not a deductible gift recipient: gifts are not tax deductible.",
}
PRODUCTION_SECRETS = {
    "SECRET_KEY": "a-long-random-production-secret-key-0123456789",
    "STRIPE_SECRET_KEY": "sk_live_example",
    "STRIPE_PUBLISHABLE_KEY": "pk_live_example",
    "STRIPE_WEBHOOK_SECRET": "whsec_example",
    "MAIL_URL": "smtp://mail.example.org:587",
    "IDENTITY_SIGNING_KEY_FILE": TEST_SIGNING_KEY_FILE,
    **RECEIPT_IDENTITY,
}


@pytest.fixture
def production_app(database_url):
    app = create_app({"ENVIRON": {"APP_ENV": "production", "DATABASE_URL": database_url, **PRODUCTION_SECRETS}})
    yield app
    with app.app_context():
        db.engine.dispose()


def csp_directives(response) -> dict[str, list[str]]:
    directives = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_security_headers(response, stripe_origin: str) -> None:
    """Only our own origin and Stripe's; never inline code; no one may frame us."""
    csp = csp_directives(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert stripe_origin in csp["script-src"]
    for sources in csp.values():
        for source in sources:
            assert source in {"'self'", "'none'", "data:"} or "stripe" in source or source.startswith("http://127.0.0.1:"), source
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_every_kind_of_response_carries_the_security_headers(client, localstripe_url):
    responses = {
        "page": client.get("/"),
        "form page": client.get("/sign-in"),
        "json": client.get("/healthz"),
        "static file": client.get("/static/site.css"),
        "redirect": client.get("/account/settings"),
        "not found": client.get("/no-such-page"),
        "csrf refusal": client.post("/sign-in", data={"email": "a@example.com"}),
    }
    for kind, response in responses.items():
        response.close()
        assert_security_headers(response, localstripe_url), kind
        assert "Strict-Transport-Security" not in response.headers, kind


def test_development_cookies_are_not_secure_only(client):
    cookie = client.get("/sign-in").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_production_adds_hsts_and_secure_cookies(production_app):
    client = production_app.test_client()
    response = client.get("/sign-in", base_url="https://sight.example")
    assert response.status_code == 200
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert_security_headers(response, "https://js.stripe.com")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/healthz", base_url="https://sight.example").headers["Strict-Transport-Security"]


def test_production_allows_the_frames_stripe_js_needs_for_3d_secure(production_app):
    """Stripe's published list for Stripe.js: its scripts, the Card Element's and 3-D Secure's
    frames, its API; and nothing else beyond our own origin."""
    response = production_app.test_client().get("/donate", base_url="https://sight.example")
    csp = csp_directives(response)
    assert {"https://js.stripe.com", "https://*.js.stripe.com"} <= set(csp["script-src"])
    assert {"https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"} <= set(csp["frame-src"])
    assert "https://api.stripe.com" in csp["connect-src"]
    assert "'unsafe-inline'" not in csp["script-src"] and csp["style-src"] == ["'self'"]


def test_production_refuses_to_start_naming_each_missing_secret():
    with pytest.raises(ConfigError) as error:
        create_app({"ENVIRON": {"APP_ENV": "production"}})
    for name in PRODUCTION_SECRETS:
        assert name in str(error.value)

    partial = {**PRODUCTION_SECRETS}
    del partial["STRIPE_WEBHOOK_SECRET"]
    with pytest.raises(ConfigError) as error:
        create_app({"ENVIRON": {"APP_ENV": "production", **partial}})
    assert "STRIPE_WEBHOOK_SECRET" in str(error.value)
    assert "STRIPE_SECRET_KEY" not in str(error.value)

    # Without MAIL_URL, sign-in and reset links would be written to the log.
    without_mail = {name: value for name, value in PRODUCTION_SECRETS.items() if name != "MAIL_URL"}
    with pytest.raises(ConfigError) as error:
        create_app({"ENVIRON": {"APP_ENV": "production", **without_mail}})
    assert str(error.value) == "MAIL_URL is not set: production needs it."

    with pytest.raises(ConfigError) as error:
        create_app({"ENVIRON": {"APP_ENV": "production", **PRODUCTION_SECRETS, "SECRET_KEY": "dev"}})
    assert "SECRET_KEY is a placeholder: set a real, random value" in str(error.value)

    with pytest.raises(ConfigError) as error:
        create_app({"ENVIRON": {"APP_ENV": "production", **PRODUCTION_SECRETS, "PASSWORD_HASHING": "fast"}})
    assert "PASSWORD_HASHING=fast is for the test suite only" in str(error.value)


def test_a_form_posted_without_its_csrf_token_is_refused(client):
    response = client.post("/sign-in", data={"email": "reader@example.com", "password": "whatever it is"})
    assert response.status_code == 400
    assert "This form has expired" in unescape(response.get_data(as_text=True))
    response = client.post("/sign-in", data={"email": "reader@example.com", "password": "x", "csrf_token": "forged"})
    assert response.status_code == 400


def test_an_oversized_body_gets_the_friendly_413(client):
    big = "email=" + "x" * (client.application.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post("/sign-in", data=big, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert "That was too large" in response.get_data(as_text=True)


@pytest.fixture
def failing_app(make_app):
    app = make_app()

    @app.get("/test-only/boom")
    def boom():
        raise RuntimeError("database password is hunter2 at /srv/secret/path.py")

    @app.get("/test-only/bad-request")
    def bad_request():
        abort(400)

    return app


def test_error_pages_are_friendly_and_leak_nothing(failing_app, session):
    client = failing_app.test_client()
    reader = create_user(session, "reader@example.com")
    session.refresh(reader)
    session.expunge(reader)
    session.rollback()  # no transaction may stay open while the app writes (SQLite)

    pages = {
        400: client.get("/test-only/bad-request"),
        404: client.get("/no-such-page"),
        405: client.post("/healthz"),
        500: client.get("/test-only/boom"),
    }
    sign_in_as(client, reader)
    pages[403] = client.get("/staff/")
    for _ in range(3):
        submit_form(client, "/sign-in/link", {"email": "someone@example.com"})
    pages[429] = submit_form(client, "/sign-in/link", {"email": "someone@example.com"})

    for code, response in pages.items():
        html = unescape(response.get_data(as_text=True))
        assert response.status_code == code
        assert response.mimetype == "text/html"
        assert f"Error {code}" in html
        assert "<h1>" in html and "Back to the home page" in html
        for secret in ("Traceback", "hunter2", "/srv/secret", "RuntimeError", "werkzeug", "sqlalchemy"):
            assert secret not in html, (code, secret)
    assert "Something went wrong on our side" in unescape(pages[500].get_data(as_text=True))
    assert "Too many attempts" in unescape(pages[429].get_data(as_text=True))


def test_nul_characters_anywhere_in_a_request_are_refused_not_a_500(client):
    # PostgreSQL refuses NUL in text; such a request never reaches a query.
    for response in (
        client.get("/staff/audit?action=%00"),
        client.get("/sign-in/link/abc%00def"),
        submit_form(client, "/register", {"name": "Nul\x00Name", "email": "a@example.com", "password": "x", "confirm": "x"}),
    ):
        assert response.status_code == 400
        assert "That request didn't make sense" in unescape(response.get_data(as_text=True))
