"""What the provider refuses, each with the exact RFC error and nothing issued: unknown client,
wrong redirect URI, PKCE missing or wrong, a replayed code (its tokens then refused), an expired
code, a disabled client, a closed account, a reused refresh token. Never a 5xx, never a redirect to
an address the site did not register."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, update

from identity import operations as ops
from identity.models import AuthorizationCode, Token
from sight.db import utcnow
from sight.extensions import db
from tests.helpers import close_my_account, csrf_token_from, sign_in_as
from tests.identity.conftest import Attempt, code_for, redeem, returned


def tokens_issued(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Token.id)))


def codes_issued(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(AuthorizationCode.id)))


def userinfo(client, access_token: str):
    return client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {access_token}"})


@pytest.fixture
def reader(client, make_user):
    user = make_user("reader@example.com")
    sign_in_as(client, user)
    return user


def test_an_unknown_client_is_told_to_the_reader_not_redirected(app, client, site, reader):
    response = client.get(Attempt(site).url(client_id="no-such-site"))
    assert response.status_code == 400 and "Location" not in response.headers
    assert "invalid_client" in response.get_data(as_text=True)
    assert codes_issued(app) == 0


@pytest.mark.parametrize("redirect_uri", [
    "https://evil.example/sight-plus/callback",
    "https://site.example/sight-plus/callback/",
    "https://site.example/sight-plus/callback?next=https://evil.example",
    None,
])
def test_a_redirect_uri_not_registered_exactly_is_never_followed(app, client, site, reader, redirect_uri):
    response = client.get(Attempt(site).url(redirect_uri=redirect_uri))
    assert response.status_code == 400 and "Location" not in response.headers
    assert "invalid_request" in response.get_data(as_text=True)
    assert codes_issued(app) == 0


def test_a_public_client_without_pkce_is_refused(app, client, register_site, reader):
    public = register_site("An app", auth_method="none")
    params = returned(client.get(Attempt(public).url(code_challenge=None, code_challenge_method=None)))
    assert params["error"] == "invalid_request" and "code_challenge" in params["error_description"]
    plain = returned(client.get(Attempt(public).url(code_challenge_method="plain")))
    assert plain["error"] == "invalid_request"
    assert codes_issued(app) == 0


def test_a_missing_or_wrong_pkce_verifier_gets_no_tokens(app, client, site, reader):
    attempt = Attempt(site)
    missing = redeem(client, attempt, code_for(client, attempt), code_verifier=None)
    assert missing.status_code == 400
    assert missing.get_json() == {"error": "invalid_request", "error_description": "Missing 'code_verifier'"}

    attempt = Attempt(site)
    wrong = redeem(client, attempt, code_for(client, attempt), code_verifier="x" * 50)
    assert wrong.status_code == 400
    assert wrong.get_json() == {"error": "invalid_grant", "error_description": "Code challenge failed."}
    assert tokens_issued(app) == 0


def test_a_replayed_code_is_refused_and_revokes_what_it_issued(app, client, site, reader):
    attempt = Attempt(site)
    code = code_for(client, attempt)
    first = redeem(client, attempt, code)
    assert first.status_code == 200
    tokens = first.get_json()
    assert userinfo(client, tokens["access_token"]).status_code == 200

    replay = redeem(client, attempt, code)
    assert replay.status_code == 400
    assert replay.get_json()["error"] == "invalid_grant"
    assert tokens_issued(app) == 1
    refused = userinfo(client, tokens["access_token"])
    assert refused.status_code == 401 and refused.get_json()["error"] == "invalid_token"
    refresh = client.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                          headers=site.basic_auth())
    assert refresh.status_code == 400 and refresh.get_json()["error"] == "invalid_grant"


def test_a_code_older_than_60_seconds_is_refused(app, client, site, reader):
    attempt = Attempt(site)
    code = code_for(client, attempt)
    with app.app_context():
        [row] = db.session.scalars(select(AuthorizationCode)).all()
        assert row.expires_at - row.created_at == timedelta(seconds=60)
        db.session.execute(update(AuthorizationCode).values(
            created_at=utcnow() - timedelta(seconds=62), expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    expired = redeem(client, attempt, code)
    assert expired.status_code == 400
    assert expired.get_json() == {"error": "invalid_grant", "error_description": "Invalid 'code' in request."}
    assert tokens_issued(app) == 0


def test_a_code_is_redeemed_only_by_its_own_site_with_its_redirect_uri(app, client, site, register_site, reader):
    attempt = Attempt(site)
    code = code_for(client, attempt)
    other = register_site("Another site", redirect_uris=("https://other.example/callback",))
    stolen = redeem(client, Attempt(other, verifier=attempt.verifier), code)
    assert stolen.status_code == 400 and stolen.get_json()["error"] == "invalid_grant"
    moved = redeem(client, attempt, code, redirect_uri="https://site.example/elsewhere")
    assert moved.status_code == 400 and moved.get_json()["error"] == "invalid_grant"
    assert tokens_issued(app) == 0


def test_a_wrong_secret_is_invalid_client(app, client, site, reader):
    attempt = Attempt(site)
    code = code_for(client, attempt)
    attempt.site = type(site)(site.client_id, "wrong-secret", site.redirect_uri)
    response = redeem(client, attempt, code)
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"
    assert tokens_issued(app) == 0


def test_a_disabled_client_can_sign_no_one_in_and_its_tokens_stop(app, client, site, reader):
    attempt = Attempt(site)
    tokens = redeem(client, attempt, code_for(client, attempt)).get_json()
    pending = Attempt(site)
    code = code_for(client, pending)
    with app.app_context():
        ops.disable_client(db.session, ops.client_by_client_id(db.session, site.client_id), None, utcnow())
        db.session.commit()

    refused = client.get(Attempt(site).url())
    assert refused.status_code == 400 and "invalid_client" in refused.get_data(as_text=True)
    late = redeem(client, pending, code)
    assert late.status_code == 401 and late.get_json()["error"] == "invalid_client"
    assert userinfo(client, tokens["access_token"]).status_code == 401
    assert tokens_issued(app) == 1


def test_a_closed_account_gets_nothing_more(app, client, site, reader):
    attempt = Attempt(site)
    tokens = redeem(client, attempt, code_for(client, attempt)).get_json()
    pending = Attempt(site)
    code = code_for(client, pending)
    close_my_account(client)

    assert userinfo(client, tokens["access_token"]).get_json()["error"] == "invalid_token"
    refresh = client.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                          headers=site.basic_auth())
    assert refresh.status_code == 400 and refresh.get_json()["error"] == "invalid_grant"
    late = redeem(client, pending, code)
    assert late.status_code == 400 and late.get_json()["error"] == "invalid_grant"
    assert tokens_issued(app) == 1


def test_a_reused_refresh_token_is_refused_and_ends_the_family(app, client, site, reader):
    attempt = Attempt(site)
    tokens = redeem(client, attempt, code_for(client, attempt)).get_json()

    def refresh(token):
        return client.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": token},
                           headers=site.basic_auth())

    rotated = refresh(tokens["refresh_token"]).get_json()
    reused = refresh(tokens["refresh_token"])
    assert reused.status_code == 400 and reused.get_json() == {"error": "invalid_grant"}
    assert refresh(rotated["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert userinfo(client, rotated["access_token"]).status_code == 401
    assert tokens_issued(app) == 2


@pytest.mark.parametrize("data", [
    {},
    {"grant_type": "password", "username": "a", "password": "b"},
    {"grant_type": "client_credentials"},
    {"grant_type": "authorization_code"},
    {"grant_type": "authorization_code", "code": "x" * 5000},
    {"grant_type": "refresh_token"},
    {"grant_type": "refresh_token", "refresh_token": "nope"},
])
def test_bad_token_requests_answer_rfc_errors_never_5xx(app, client, site, data):
    response = client.post("/oauth/token", data=data, headers=site.basic_auth())
    assert 400 <= response.status_code < 500
    assert response.get_json()["error"] in {"invalid_request", "unsupported_grant_type", "invalid_grant",
                                            "unauthorized_client"}
    assert tokens_issued(app) == 0


@pytest.mark.parametrize("changes", [
    {"response_type": "token"},
    {"response_type": "id_token"},
    {"code_challenge": "too-short"},
    {"prompt": "none login"},
])
def test_bad_authorization_requests_go_back_to_the_registered_site_only(app, client, site, reader, changes):
    response = client.get(Attempt(site).url(**changes))
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        location = urlsplit(response.headers["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == site.redirect_uri
        assert "error=" in location.query
    assert codes_issued(app) == 0


def test_the_token_endpoint_is_rate_limited_with_a_json_answer(client, site):
    statuses = [client.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": "x"},
                            headers=site.basic_auth()) for _ in range(121)]
    assert {r.status_code for r in statuses[:120]} == {400}
    assert statuses[120].status_code == 429
    assert statuses[120].get_json()["error"] == "slow_down"


def test_consent_without_its_csrf_token_is_refused(app, client, site, reader):
    attempt = Attempt(site)
    response = client.post(attempt.url(), data={"allow": "Allow"})
    assert response.status_code == 400
    assert codes_issued(app) == 0


def test_a_reader_who_does_not_allow_sends_the_site_access_denied(app, client, site, reader):
    attempt = Attempt(site)
    page = client.get(attempt.url())
    denied = returned(client.post(attempt.url(), data={"csrf_token": csrf_token_from(page.get_data(as_text=True)),
                                                        "deny": "Don't allow"}))
    assert (denied["error"], denied["state"]) == ("access_denied", attempt.state)
    assert codes_issued(app) == 0


def test_an_anonymous_reader_is_sent_to_sign_in_and_back(client, site, make_user):
    attempt = Attempt(site)
    response = client.get(attempt.url())
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/sign-in?next=/oauth/authorize?response_type%3Dcode")
    # prompt=none for someone not signed in: the site hears login_required.
    assert returned(client.get(attempt.url(prompt="none")))["error"] == "login_required"
