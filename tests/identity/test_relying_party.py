"""An independent relying party (openid-client, certified) signs readers in through the real pages
and accepts every token the app issues: ID token signature from the JWKS, iss, aud, nonce, expiry;
userinfo; refresh rotation; revocation. A tampered ID token is refused by it."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from accounts.models import Role, User
from identity.models import Token
from membership.grants import grant_complimentary
from membership.models import LedgerEntry
from sight.db import utcnow
from sight.extensions import db
from tests.helpers import PASSWORD

SCOPE = "openid email profile sight_plus"


def make_user_id(app, email: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == email))


def sign_in(relying_party, site, email="reader@example.com", scope=SCOPE, **params) -> dict:
    result = relying_party("sign-in", site, email=email, password=PASSWORD, scope=scope, **params)
    assert "ok" in result, json.dumps(result.get("failed"))
    return result["ok"]


def test_openid_client_signs_a_non_member_in_through_the_sign_in_and_consent_pages(
    app, live_server, site, make_user, relying_party
):
    make_user("reader@example.com", name="Alex Reader")
    signed_in = sign_in(relying_party, site)

    assert signed_in["pages"] == ["/sign-in", "/oauth/authorize"]
    claims = signed_in["claims"]
    assert claims["iss"] == live_server and claims["aud"] == site.client_id
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert (claims["name"], claims["email"], claims["email_verified"]) == ("Alex Reader", "reader@example.com", False)
    assert claims["sight_plus"] is False and "sight_plus_until" not in claims
    assert signed_in["userinfo"] == {k: claims[k] for k in ("sub", "name", "email", "email_verified", "sight_plus")}
    assert signed_in["expires_in"] == 15 * 60 and signed_in["refresh_token"]

    # The sub is the site's own: not the account id, and stable for that site.
    with app.app_context():
        user_id = db.session.scalar(select(User.id))
    assert claims["sub"] != str(user_id)
    assert sign_in(relying_party, site)["claims"]["sub"] == claims["sub"]


def test_a_member_is_sight_plus_until_their_membership_ends(app, site, make_user, relying_party):
    make_user("member@example.com")
    admin = make_user("admin@example.com", role=Role.admin, totp=True)
    with app.app_context():
        grant_complimentary(db.session, user=db.session.get(User, make_user_id(app, "member@example.com")),
                            reason="Contributor", ends_at=utcnow() + timedelta(days=90),
                            actor=db.session.get(User, admin.id), now=utcnow(), version=1)
        db.session.commit()
    signed_in = sign_in(relying_party, site, email="member@example.com")
    assert signed_in["claims"]["sight_plus"] is True
    assert signed_in["userinfo"]["sight_plus"] is True
    assert signed_in["userinfo"]["sight_plus_until"] == signed_in["claims"]["sight_plus_until"]


def test_a_site_learns_only_the_scopes_it_asked_for(site, make_user, relying_party):
    make_user("reader@example.com")
    signed_in = sign_in(relying_party, site, scope="openid")
    assert set(signed_in["userinfo"]) == {"sub"}
    assert not {"email", "name", "sight_plus"} & set(signed_in["claims"])


def test_two_sites_get_different_subs_for_the_same_reader(register_site, make_user, relying_party):
    make_user("reader@example.com")
    one = register_site("The Sight website", first_party=True)
    other = register_site("A partner", redirect_uris=("https://partner.example/callback",))
    first = sign_in(relying_party, one)
    assert first["pages"] == ["/sign-in"]  # first party: no consent page
    assert sign_in(relying_party, other)["claims"]["sub"] != first["claims"]["sub"]


def test_a_public_client_signs_in_with_pkce_and_no_secret(register_site, make_user, relying_party):
    make_user("reader@example.com")
    site = register_site("The Sight app", auth_method="none", redirect_uris=("http://127.0.0.1:9/callback",))
    assert site.secret is None
    assert sign_in(relying_party, site)["userinfo"]["sight_plus"] is False


def test_a_donor_who_gives_26_is_sight_plus_and_not_after_a_refund_below_the_threshold(
    app, client, site, make_user, relying_party, give, stripe_client, signed_event
):
    make_user("donor@example.com")
    assert sign_in(relying_party, site, email="donor@example.com")["claims"]["sight_plus"] is False

    _, status, result = give("2600", email="donor@example.com")
    assert status == 200 and result.status_code == 302
    signed_in = sign_in(relying_party, site, email="donor@example.com")
    assert signed_in["claims"]["sight_plus"] is True and signed_in["claims"]["sight_plus_until"]

    with app.app_context():
        charge_id = db.session.scalar(select(LedgerEntry.charge_id))
    stripe_client.v1.refunds.create({"charge": charge_id, "amount": 100})
    body, headers = signed_event("charge.refunded", {"id": charge_id, "object": "charge"})
    assert client.post("/stripe/webhook", data=body, headers=headers).status_code == 200

    fresh = relying_party("userinfo", site, access_token=signed_in["access_token"], sub=signed_in["claims"]["sub"])
    assert fresh["ok"]["userinfo"]["sight_plus"] is False
    assert "sight_plus_until" not in fresh["ok"]["userinfo"]


def test_refresh_tokens_rotate_and_a_reused_one_revokes_the_family(app, site, make_user, relying_party):
    make_user("reader@example.com")
    signed_in = sign_in(relying_party, site)
    sub = signed_in["claims"]["sub"]

    refreshed = relying_party("refresh", site, refresh_token=signed_in["refresh_token"])["ok"]
    assert refreshed["refresh_token"] != signed_in["refresh_token"]
    assert relying_party("userinfo", site, access_token=refreshed["access_token"], sub=sub)["ok"]["userinfo"]["sub"] == sub

    # The old refresh token again: someone holds a copy. Refused, and every token of the family ends.
    reused = relying_party("refresh", site, refresh_token=signed_in["refresh_token"])["failed"]
    assert reused["error"] == "invalid_grant"
    assert relying_party("refresh", site, refresh_token=refreshed["refresh_token"])["failed"]["error"] == "invalid_grant"
    refused = relying_party("userinfo", site, access_token=refreshed["access_token"], sub=sub)["failed"]
    assert refused["status"] == 401
    with app.app_context():
        assert db.session.scalar(select(Token).where(Token.revoked_at.is_(None))) is None


def test_revoking_an_access_token_and_a_refresh_token(site, make_user, relying_party):
    make_user("reader@example.com")
    signed_in = sign_in(relying_party, site)
    sub = signed_in["claims"]["sub"]
    assert relying_party("revoke", site, token=signed_in["access_token"], hint="access_token")["ok"] == {"revoked": True}
    assert relying_party("userinfo", site, access_token=signed_in["access_token"], sub=sub)["failed"]["status"] == 401
    # The refresh token issued with it goes too (RFC 7009 §2.1 allows it; a site revoking means "sign out").
    assert relying_party("refresh", site, refresh_token=signed_in["refresh_token"])["failed"]["error"] == "invalid_grant"

    again = sign_in(relying_party, site)
    refreshed = relying_party("refresh", site, refresh_token=again["refresh_token"])["ok"]
    assert relying_party("revoke", site, token=refreshed["refresh_token"])["ok"] == {"revoked": True}
    assert relying_party("refresh", site, refresh_token=refreshed["refresh_token"])["failed"]["error"] == "invalid_grant"
    # Revoking a refresh token ends the access tokens of its family too.
    assert relying_party("userinfo", site, access_token=refreshed["access_token"], sub=sub)["failed"]["status"] == 401
    # An unknown token is no error (RFC 7009 §2.2).
    assert relying_party("revoke", site, token="not-a-token")["ok"] == {"revoked": True}


def test_openid_client_refuses_a_tampered_id_token(site, make_user, relying_party):
    make_user("reader@example.com")
    forged_signature = relying_party("sign-in", site, email="reader@example.com", password=PASSWORD, scope=SCOPE,
                                     tamper="signature")["failed"]
    assert (forged_signature["code"], forged_signature["cause"]["message"]) == (
        "OAUTH_INVALID_RESPONSE", "JWT signature verification failed")
    forged_claim = relying_party("sign-in", site, email="reader@example.com", password=PASSWORD, scope=SCOPE,
                                 tamper="claim")["failed"]
    assert (forged_claim["code"], forged_claim["cause"]["message"]) == (
        "OAUTH_INVALID_RESPONSE", "JWT signature verification failed")
