"""The WordPress plugin's own check of ID tokens (PHP's openssl, no library), run by php-cli on
tokens this app really issued: RS256 and, after `flask identity rotate-key --algorithm ES256`,
ES256; anything tampered with, late, for another site or with another nonce is refused. The PHP
files are valid PHP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import sign_in_as
from tests.identity.conftest import Attempt, code_for, redeem

HERE = Path(__file__).resolve().parent
PLUGIN = HERE.parent.parent / "integrations" / "wordpress" / "sight-plus-sign-in"
PHP = os.environ.get("PHP") or shutil.which("php") or "/usr/bin/php"


def plugin_verifies(token: str, jwks: dict, *, issuer: str, client_id: str, nonce: str, now: int | None = None) -> dict:
    request = {"token": token, "jwks": jwks, "issuer": issuer, "client_id": client_id, "nonce": nonce,
               "now": now or int(time.time())}
    result = subprocess.run([PHP, str(HERE / "verify_id_token.php")], input=json.dumps(request),
                            capture_output=True, text=True, timeout=30, check=True)
    return json.loads(result.stdout)


@pytest.mark.parametrize("path", sorted(PLUGIN.glob("*.php")), ids=lambda p: p.name)
def test_the_plugin_is_valid_php(path):
    result = subprocess.run([PHP, "-l", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_the_plugin_accepts_the_apps_id_tokens_and_refuses_forgeries(app, client, site, make_user, runner, algorithm):
    if algorithm == "ES256":
        assert runner.invoke(args=["identity", "rotate-key", "--algorithm", "ES256"]).exit_code == 0
    sign_in_as(client, make_user("reader@example.com"))
    attempt = Attempt(site)
    token = redeem(client, attempt, code_for(client, attempt)).get_json()["id_token"]
    jwks = client.get("/oauth/jwks").get_json()
    issuer = app.config["PUBLIC_URL"].rstrip("/")
    expected = {"issuer": issuer, "client_id": site.client_id, "nonce": attempt.nonce}

    claims = plugin_verifies(token, jwks, **expected)["claims"]
    assert claims["sight_plus"] is False and claims["aud"] == site.client_id

    header, payload, signature = token.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    assert plugin_verifies(f"{header}.{payload}.{flipped}", jwks, **expected) == {"error": "bad signature"}
    assert plugin_verifies(token, jwks, **{**expected, "nonce": "another"}) == {"error": "wrong nonce"}
    assert plugin_verifies(token, jwks, **{**expected, "client_id": "another-site"}) == {"error": "not meant for this site"}
    assert plugin_verifies(token, jwks, **{**expected, "issuer": "https://evil.example"}) == {"error": "wrong issuer"}
    assert plugin_verifies(token, jwks, **expected, now=int(time.time()) + 3600) == {"error": "expired"}
    assert plugin_verifies(token, {"keys": []}, **expected) == {"error": "no such key"}
