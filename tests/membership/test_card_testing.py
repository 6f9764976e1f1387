"""/donate is no card-testing tool: starts are rate-limited per address and per email, what is
typed never changes an account or reveals it, unpaid starts are not donors and are purged, and a
tampered or ambiguous amount gets a message, not a 500."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, update
from werkzeug.datastructures import MultiDict

from accounts.models import Role, User
from membership.models import Donation, Donor
from sight.db import utcnow
from sight.extensions import db
from tests.helpers import create_user, csrf_token_from, sign_in_as, submit_form


GIFT = {"amount": "2600", "other_amount": "", "frequency": "once", "name": "Alex Donor",
        "email": "alex@example.com", "message": "", "currency": "aud"}


def start(client, **changes):
    return submit_form(client, "/donate", {**GIFT, **changes})


def test_starts_are_limited_per_address_whatever_is_posted(make_app):
    client = make_app(DONATE_RATE_LIMIT="3 per hour").test_client()
    answers = [start(client, email=f"card{n}@example.com", other_amount="x" if n % 2 else "").status_code for n in range(4)]
    assert answers[:3] == [302, 200, 302] and answers[3] == 429
    assert "Too many attempts" in start(client).get_data(as_text=True)


def test_gifts_started_are_limited_per_email_in_any_case(make_app):
    app = make_app(DONATE_EMAIL_RATE_LIMIT="2 per hour")
    client = app.test_client()
    assert [start(client, email=email).status_code for email in ("Same@Example.com", "same@example.com")] == [302, 302]
    assert start(client, email="SAME@example.com").status_code == 429
    assert start(client, email="other@example.com").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count(Donation.id))) == 3


def test_typing_someones_email_neither_renames_nor_reveals_their_account(app, client, give, mailbox):
    with app.app_context():
        create_user(db.session, "victim@example.com", name="Victoria Private")
    response = start(client, email="Victim@Example.com", name="Mallory")
    pay = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Victoria" not in pay
    with app.app_context():
        assert db.session.scalar(select(User.name).where(User.email == "victim@example.com")) == "Victoria Private"

    # A receipt greets the donor by the name given with that gift.
    give("2600", email="victim@example.com", name="Vic")
    [receipt] = mailbox.to("victim@example.com")
    assert receipt.get_body(("plain",)).get_content().startswith("Dear Vic,")


def test_unpaid_starts_are_not_donors_and_are_purged(app, client, give):
    give("2600", email="paid@example.com")
    start(client, email="never.paid@example.com")
    with app.app_context():
        sign_in_as(client, create_user(db.session, "staff@sight.example", role=Role.staff))
    listing = client.get("/staff/members").get_data(as_text=True)
    csv = client.get("/staff/members/export.csv").get_data(as_text=True)
    for page in (listing, csv):
        assert "paid@example.com" in page and "never.paid@example.com" not in page

    runner = app.test_cli_runner()
    assert "Purged 0 unpaid gift start(s)." in runner.invoke(args=["membership", "purge"]).output
    with app.app_context():
        week_ago = utcnow() - timedelta(days=8)
        db.session.execute(update(Donation).values(created_at=week_ago))
        db.session.execute(update(Donor).values(created_at=week_ago))
        db.session.commit()
    assert "Purged 1 unpaid gift start(s)." in runner.invoke(args=["membership", "purge"]).output
    with app.app_context():
        donors = db.session.scalars(select(Donor)).all()
        assert [d.user.email for d in donors] == ["paid@example.com"]
        assert db.session.scalar(select(func.count(Donation.id))) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount": "abc"}, "Not a valid choice"),
        ({"amount": "2600.5"}, "Not a valid choice"),
        ({"amount": "99999999999999999999999"}, "Not a valid choice"),
        ({"amount": "5000", "other_amount": "30"}, "You chose $50 and typed “30”"),
    ],
)
def test_a_tampered_or_ambiguous_amount_gets_a_message_beside_it(app, client, changes, message):
    response = start(client, **changes)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="amount-error"' in html and message in html
    with app.app_context():
        assert db.session.scalar(select(func.count(Donation.id))) == 0


def test_the_surveys_captcha_can_guard_donate(make_app):
    from tests.conftest import TEST_SECRET_KEY
    from tests.surveys.test_spam import VerifyServer

    with VerifyServer() as provider:
        app = make_app(ENVIRON={
            "APP_ENV": "test", "SECRET_KEY": TEST_SECRET_KEY, "CAPTCHA_PROVIDER": "turnstile",
            "CAPTCHA_SITE_KEY": "site-key-1", "CAPTCHA_SECRET_KEY": "secret-key-1",
            "CAPTCHA_VERIFY_URL": provider.url, "DONATE_CAPTCHA": "on",
        })
        client = app.test_client()
        html = client.get("/donate").get_data(as_text=True)
        assert '<div class="cf-turnstile" data-sitekey="site-key-1"></div>' in html
        refused = start(client, **{"cf-turnstile-response": "bad-token"})
        assert refused.status_code == 400 and 'id="captcha-error"' in refused.get_data(as_text=True)
        assert 'value="Alex Donor"' in refused.get_data(as_text=True)  # what was typed is kept
        with app.app_context():
            assert db.session.scalar(select(func.count(Donation.id))) == 0
        assert start(client, **{"cf-turnstile-response": "good-token"}).status_code == 302
        assert provider.requests[-1]["secret"] == ["secret-key-1"]


def test_without_donate_captcha_the_form_asks_for_none(client):
    assert "data-sitekey" not in client.get("/donate").get_data(as_text=True)


FIELDS = ["amount", "other_amount", "frequency", "name", "email", "message", "currency", "csrf_token", "x"]
VALUES = st.one_of(
    st.sampled_from(["", "2600", "other", "once", "yearly", "aud", "usd", "abc", "2600.5", "1e9", "-5", "9" * 40,
                     "a@example.com", "$1,000.505", "NZ$5"]),
    st.text(max_size=200),
)


@pytest.fixture
def unlimited_client(make_app):
    """So that every example reaches the form, not the rate limit."""
    return make_app(DONATE_RATE_LIMIT="100000 per hour", DONATE_EMAIL_RATE_LIMIT="100000 per hour").test_client()

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fields=st.lists(st.tuples(st.sampled_from(FIELDS), VALUES), max_size=10))
def test_any_donate_form_gets_an_answer_never_a_server_error(unlimited_client, fields):
    token = csrf_token_from(unlimited_client.get("/donate").get_data(as_text=True))
    response = unlimited_client.post("/donate", data=MultiDict([("csrf_token", token), *fields]))
    assert response.status_code in (200, 302, 400), response.status_code

