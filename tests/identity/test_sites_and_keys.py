"""Staff register sites (admins only; the secret shown once, kept hashed, every change audited), the
same from the command line; signing keys rotate with the old one published until its tokens expire;
production needs a key; readers see and revoke the sites they signed in to; RP-initiated logout."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from joserfc import jws, jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from accounts.models import Role
from identity import keys
from identity.models import Client, Grant, SigningKey
from sight import create_app
from sight.config import ConfigError
from sight.db import utcnow
from sight.extensions import db
from sight.models import AuditEntry
from tests.helpers import csrf_token_from, sign_in_as, submit_form, write_signing_key
from tests.identity.conftest import Attempt, code_for, redeem
from tests.sight.test_security import PRODUCTION_SECRETS

NEW_SITE = {
    "name": "The Sight website",
    "redirect_uris": "https://sight.example/wp-login.php\nhttps://www.sight.example/wp-login.php",
    "post_logout_redirect_uris": "",
    "scopes": ["openid", "email", "sight_plus"],
    "auth_method": "client_secret_basic",
}


def audit_actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_only_admins_open_the_sites_pages(client, make_user):
    assert client.get("/staff/sites").status_code == 302
    sign_in_as(client, make_user("staff@example.com", role=Role.staff, totp=True))
    assert client.get("/staff/sites").status_code == 403
    assert client.post("/staff/sites/new", data=NEW_SITE).status_code in (400, 403)


def test_an_admin_registers_a_site_and_sees_its_secret_once(app, client, make_user):
    admin = make_user("admin@example.com", role=Role.admin, totp=True)
    sign_in_as(client, admin)
    page = submit_form(client, "/staff/sites/new", NEW_SITE)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    secret = re.search(r'<code class="secret">([^<]+)</code>', html).group(1)
    with app.app_context():
        site = db.session.scalar(select(Client))
        assert site.client_id in html and secret not in (site.secret_hash or "")
        assert site.check_client_secret(secret) and not site.check_client_secret(secret + "x")
        assert site.allowed_scopes == "openid email sight_plus"
        assert site.redirect_uris == ["https://sight.example/wp-login.php", "https://www.sight.example/wp-login.php"]
    listing = client.get("/staff/sites").get_data(as_text=True)
    assert "The Sight website" in listing and secret not in listing
    assert secret not in client.get(f"/staff/sites/{site.id}").get_data(as_text=True)

    rotated = submit_form(client, f"/staff/sites/{site.id}/rotate-secret", {}, page_url=f"/staff/sites/{site.id}")
    new_secret = re.search(r'<code class="secret">([^<]+)</code>', rotated.get_data(as_text=True)).group(1)
    with app.app_context():
        site = db.session.get(Client, site.id)
        assert site.check_client_secret(new_secret) and not site.check_client_secret(secret)

    assert submit_form(client, f"/staff/sites/{site.id}/disable", {}, page_url=f"/staff/sites/{site.id}").status_code == 302
    assert audit_actions(app) == ["identity.client_added", "identity.client_secret_rotated", "identity.client_disabled"]
    with app.app_context():
        assert db.session.scalar(select(AuditEntry.actor_email)) == "admin@example.com"


def test_a_bad_redirect_address_is_explained_beside_its_field_and_nothing_is_saved(app, client, make_user):
    sign_in_as(client, make_user("admin@example.com", role=Role.admin, totp=True))
    page = submit_form(client, "/staff/sites/new", {**NEW_SITE, "redirect_uris": "http://sight.example/callback"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="redirect_uris-error"' in html and "is not an https:// address" in html
    assert 'value="The Sight website"' in html
    with app.app_context():
        assert db.session.scalar(select(Client)) is None


def test_the_command_line_adds_lists_rotates_and_disables_sites(app, runner):
    added = runner.invoke(args=["identity", "clients", "add", "--name", "Partner",
                                "--redirect-uri", "https://partner.example/callback", "--scope", "openid",
                                "--scope", "sight_plus"])
    assert added.exit_code == 0, added.output
    client_id = re.search(r"client_id: (\S+)", added.output).group(1)
    secret = re.search(r"client_secret: (\S+)", added.output).group(1)
    listed = runner.invoke(args=["identity", "clients", "list"])
    assert client_id in listed.output and "Partner" in listed.output and "active" in listed.output and secret not in listed.output

    rotated = runner.invoke(args=["identity", "clients", "rotate-secret", client_id])
    new_secret = re.search(r"client_secret: (\S+)", rotated.output).group(1)
    assert runner.invoke(args=["identity", "clients", "disable", client_id]).exit_code == 0
    assert "disabled" in runner.invoke(args=["identity", "clients", "list"]).output
    with app.app_context():
        site = db.session.scalar(select(Client))
        assert site.check_client_secret(new_secret) and not site.check_client_secret(secret)
    assert audit_actions(app) == ["identity.client_added", "identity.client_secret_rotated", "identity.client_disabled"]

    refused = runner.invoke(args=["identity", "clients", "add", "--name", "Bad", "--redirect-uri", "ftp://x"])
    assert refused.exit_code == 1 and "is not an https:// address" in refused.output


def _id_token(client, site, reader) -> str:
    sign_in_as(client, reader)
    attempt = Attempt(site)
    return redeem(client, attempt, code_for(client, attempt)).get_json()["id_token"]


def test_a_rotated_key_stays_in_the_jwks_until_its_tokens_expire(app, client, site, make_user, runner):
    reader = make_user("reader@example.com")
    old_token = _id_token(client, site, reader)
    old_kid = jws.extract_compact(old_token.encode()).headers()["kid"]

    rotated = runner.invoke(args=["identity", "rotate-key", "--algorithm", "ES256"])
    assert rotated.exit_code == 0, rotated.output
    new_token = _id_token(client, site, reader)
    header = jws.extract_compact(new_token.encode()).headers()
    assert header["alg"] == "ES256" and header["kid"] != old_kid

    published = KeySet.import_key_set(client.get("/oauth/jwks").get_json())
    for token in (old_token, new_token):
        jwt.decode(token, published, algorithms=["RS256", "ES256"])  # both still verify
    with app.app_context():
        later = keys.published_keys(db.session, None, utcnow() + keys.ID_TOKEN_LIFETIME + timedelta(seconds=1))
        assert [k["kid"] for k in later["keys"]] == [header["kid"]]
        assert db.session.scalar(select(SigningKey.private_pem).where(SigningKey.kid == old_kid))
    assert "identity.key_rotated" in audit_actions(app)


def test_a_key_file_signs_and_rotating_it_keeps_the_old_public_key(app, client, site, make_user, runner, tmp_path):
    key_file = write_signing_key(tmp_path / "signing.pem")
    app.config["IDENTITY_SIGNING_KEY_FILE"] = key_file
    reader = make_user("reader@example.com")
    first = jws.extract_compact(_id_token(client, site, reader).encode()).headers()
    assert first["alg"] == "ES256"
    assert runner.invoke(args=["identity", "rotate-key"]).exit_code == 0
    second = jws.extract_compact(_id_token(client, site, reader).encode()).headers()
    assert second["alg"] == "RS256" and second["kid"] != first["kid"]
    assert {k["kid"] for k in client.get("/oauth/jwks").get_json()["keys"]} == {first["kid"], second["kid"]}
    assert (tmp_path / "signing.pem").stat().st_mode & 0o777 == 0o600
    with app.app_context():
        # Only the public half of the file's old key went into the database.
        assert db.session.scalar(select(SigningKey.private_pem).where(SigningKey.kid == first["kid"])) is None


def test_production_refuses_to_start_without_a_signing_key(tmp_path):
    without = {name: value for name, value in PRODUCTION_SECRETS.items() if name != "IDENTITY_SIGNING_KEY_FILE"}
    with pytest.raises(ConfigError) as error:
        create_app({"ENVIRON": {"APP_ENV": "production", **without}})
    assert error.value.problems == ["IDENTITY_SIGNING_KEY_FILE is not set: production needs it."]

    (tmp_path / "not-a-key.pem").write_text("hello")
    with pytest.raises(ConfigError) as error:
        create_app({"ENVIRON": {"APP_ENV": "production", **PRODUCTION_SECRETS,
                                "IDENTITY_SIGNING_KEY_FILE": str(tmp_path / "not-a-key.pem")}})
    assert error.value.problems == [f"IDENTITY_SIGNING_KEY_FILE={tmp_path / 'not-a-key.pem'} does not hold an unencrypted PEM private key."]


def test_the_settings_page_lists_the_sites_and_a_reader_revokes_one(app, client, site, make_user):
    reader = make_user("reader@example.com")
    sign_in_as(client, reader)
    assert "You haven't used “Sign in with Sight+” on any site." in client.get("/account/settings").get_data(as_text=True)
    attempt = Attempt(site)
    tokens = redeem(client, attempt, code_for(client, attempt)).get_json()

    settings = client.get("/account/settings").get_data(as_text=True)
    assert "Sites you've signed in to" in settings and "The Sight website" in settings
    with app.app_context():
        grant_id = db.session.scalar(select(Grant.id))
    revoked = client.post(f"/account/sites/{grant_id}/revoke", data={"csrf_token": csrf_token_from(settings)})
    assert revoked.status_code == 302
    assert "The Sight website" not in client.get("/account/settings").get_data(as_text=True)
    assert client.get("/oauth/userinfo", headers={"Authorization": "Bearer " + tokens["access_token"]}).status_code == 401
    # The next sign-in asks for consent again.
    assert b"Allow" in client.get(Attempt(site).url()).data

    # Someone else's grant is not theirs to revoke.
    other = make_user("other@example.com")
    sign_in_as(client, other)
    page = client.get("/account/settings").get_data(as_text=True)
    assert client.post(f"/account/sites/{grant_id}/revoke", data={"csrf_token": csrf_token_from(page)}).status_code == 404


def test_a_site_signs_the_reader_out_of_sight_too(app, client, register_site, make_user):
    site = register_site(logout_uris=("https://site.example/signed-out",))
    reader = make_user("reader@example.com")
    id_token = _id_token(client, site, reader)
    response = client.get("/oauth/end-session", query_string={
        "id_token_hint": id_token, "post_logout_redirect_uri": "https://site.example/signed-out", "state": "s1"})
    assert response.status_code == 302
    assert response.headers["Location"] == "https://site.example/signed-out?state=s1"
    assert client.get("/account/settings").status_code == 302  # signed out

    # Another reader's ID token signs no one out unasked.
    sign_in_as(client, make_user("third@example.com"))
    kept = client.get("/oauth/end-session", query_string={"id_token_hint": id_token})
    assert kept.status_code == 200 and "Sign out of Sight?" in kept.get_data(as_text=True)
    assert client.get("/account/settings").status_code == 200

    # Without a hint the reader is asked, and an unregistered address is never followed.
    sign_in_as(client, make_user("other@example.com"))
    asked = client.get("/oauth/end-session", query_string={"post_logout_redirect_uri": "https://evil.example/"})
    assert asked.status_code == 200 and "Sign out of Sight?" in asked.get_data(as_text=True)
    done = client.post("/oauth/end-session?post_logout_redirect_uri=https://evil.example/",
                       data={"csrf_token": csrf_token_from(asked.get_data(as_text=True))})
    assert done.status_code == 200 and "signed out" in done.get_data(as_text=True)


def test_an_admin_changes_what_a_site_may_ask_and_it_is_audited(app, client, site, make_user):
    sign_in_as(client, make_user("admin@example.com", role=Role.admin, totp=True))
    with app.app_context():
        pk = db.session.scalar(select(Client.id))
    page = client.get(f"/staff/sites/{pk}").get_data(as_text=True)
    assert "https://site.example/sight-plus/callback" in page
    saved = submit_form(client, f"/staff/sites/{pk}", {
        "name": "The Sight website", "redirect_uris": "https://site.example/sight-plus/callback",
        "post_logout_redirect_uris": "https://site.example/", "scopes": ["openid", "sight_plus"], "first_party": "y"})
    assert saved.status_code == 302
    with app.app_context():
        changed = db.session.get(Client, pk)
        assert (changed.allowed_scopes, changed.first_party, changed.post_logout_redirect_uris) == (
            "openid sight_plus", True, ["https://site.example/"])
        assert changed.token_endpoint_auth_method == "client_secret_basic"
    assert audit_actions(app) == ["identity.client_added", "identity.client_changed"]


def test_the_data_download_names_the_sites_a_reader_signed_in_to(client, site, make_user):
    sign_in_as(client, make_user("reader@example.com"))
    attempt = Attempt(site)
    redeem(client, attempt, code_for(client, attempt))
    data = client.get("/account/settings/my-data.json").get_json()
    [entry] = data["sign_in_with_sight_plus"]["sites"]
    assert (entry["site"], entry["scopes"], entry["signed_out_at"]) == (
        "The Sight website", "openid email profile sight_plus", None)
    assert "token" not in str(data["sign_in_with_sight_plus"])


def test_flask_doctor_says_which_key_signs(app, runner, tmp_path):
    before = runner.invoke(args=["doctor"])
    assert "Sign in with Sight+ cannot sign ID tokens: there is no signing key" in before.output
    assert runner.invoke(args=["identity", "rotate-key"]).exit_code == 0
    with app.app_context():
        kid = db.session.scalar(select(SigningKey.kid))
    assert f"ID tokens are signed with RS256 key {kid} from the database; the JWKS publishes 1 key." in runner.invoke(
        args=["doctor"]).output

    app.config["IDENTITY_SIGNING_KEY_FILE"] = str(tmp_path / "gone.pem")
    after = runner.invoke(args=["doctor"])
    assert after.exit_code == 1
    assert "Sign in with Sight+ cannot sign ID tokens: it cannot be read (No such file or directory)." in after.output
