"""Identity fixtures: registered sites, and the steps of a sign-in as a site's server makes them."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from identity import operations as ops
from sight.db import utcnow
from sight.extensions import db
from tests.helpers import csrf_token_from
from tests.membership.conftest import confirm_card, give, signed_event, stripe_client  # noqa: F401  (fixtures)

REDIRECT_URI = "https://site.example/sight-plus/callback"
HERE = Path(__file__).resolve().parent
NODE = os.environ.get("NODE") or shutil.which("node") or "/usr/bin/node"
NPM = os.environ.get("NPM") or shutil.which("npm") or "/usr/bin/npm"


@pytest.fixture(scope="session")
def openid_client_installed():
    """openid-client exactly as package-lock.json pins it, in tests/identity/node_modules."""
    subprocess.run([NPM, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True, timeout=600,
                   capture_output=True)


@pytest.fixture
def relying_party(openid_client_installed, live_server):
    """`relying_party(command, site, **params)`: what openid-client did, {"ok": …} or {"failed": …}."""

    def run(command: str, site, **params) -> dict:
        request = {"command": command, "issuer": live_server, "client_id": site.client_id,
                   "client_secret": site.secret, "redirect_uri": site.redirect_uri, **params}
        result = subprocess.run([NODE, str(HERE / "relying_party.mjs")], input=json.dumps(request),
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    return run


@dataclass
class Site:
    client_id: str
    secret: str | None
    redirect_uri: str = REDIRECT_URI

    def basic_auth(self) -> dict:
        raw = f"{self.client_id}:{self.secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


@pytest.fixture
def register_site(app):
    """`register_site(name=..., auth_method=..., first_party=...)`: a site registered as staff would."""

    def register(name: str = "The Sight website", *, auth_method: str = "client_secret_basic",
                 first_party: bool = False, scopes=("openid", "email", "profile", "sight_plus"),
                 redirect_uris=(REDIRECT_URI,), logout_uris=()) -> Site:
        with app.app_context():
            client, secret = ops.register_client(
                db.session,
                ops.ClientValues(name, list(redirect_uris), list(scopes), auth_method, list(logout_uris), first_party),
                None, utcnow(),
            )
            db.session.commit()
            site = Site(client.client_id, secret, redirect_uris[0])
            db.session.remove()
        return site

    return register


@pytest.fixture
def site(register_site) -> Site:
    return register_site()


@dataclass
class Attempt:
    """One sign-in as a site starts it: its state, nonce and PKCE verifier."""

    site: Site
    scope: str = "openid email profile sight_plus"
    state: str = ""
    nonce: str = ""
    verifier: str = ""

    def __post_init__(self):
        self.state = self.state or secrets.token_urlsafe(16)
        self.nonce = self.nonce or secrets.token_urlsafe(16)
        self.verifier = self.verifier or secrets.token_urlsafe(48)

    def url(self, **changes) -> str:
        params = {
            "response_type": "code", "client_id": self.site.client_id, "redirect_uri": self.site.redirect_uri,
            "scope": self.scope, "state": self.state, "nonce": self.nonce,
            "code_challenge": create_s256_code_challenge(self.verifier), "code_challenge_method": "S256",
        }
        params.update(changes)
        return "/oauth/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})


def returned(response) -> dict[str, str]:
    """The parameters a redirect back to the site carries."""
    assert response.status_code == 302, response.get_data(as_text=True)
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["Location"]).query).items()}


def approve(client, attempt: Attempt, **changes):
    """Open the authorization URL signed in; allow on the consent page if it is shown."""
    url = attempt.url(**changes)
    response = client.get(url)
    if response.status_code == 200 and b"Allow" in response.data:
        response = client.post(url, data={"csrf_token": csrf_token_from(response.get_data(as_text=True)), "allow": "Allow"})
    return response


def code_for(client, attempt: Attempt, **changes) -> str:
    params = returned(approve(client, attempt, **changes))
    assert params["state"] == attempt.state
    return params["code"]


def redeem(client, attempt: Attempt, code: str, **changes):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": attempt.site.redirect_uri,
            "code_verifier": attempt.verifier}
    data.update(changes)
    data = {k: v for k, v in data.items() if v is not None}
    headers = attempt.site.basic_auth() if attempt.site.secret else {}
    if not attempt.site.secret:
        data["client_id"] = attempt.site.client_id
    return client.post("/oauth/token", data=data, headers=headers)
