"""Two app servers behind nginx, as deploy/ sets them up: what a reader, a donor's bank (Stripe)
and staff see must not depend on which server answers."""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import subprocess
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import psycopg
import pyotp
import pytest
import stripe
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy.engine import make_url

from tests.platform.conftest import BIN, ROOT, served_by, unit_environment, unit_exec_start

pytestmark = pytest.mark.topology

READER = "reader@example.com"
STAFF = "editor@example.com"
PASSWORD = "a topology test passphrase"


def sql(topology, query: str, *params):
    url = make_url(topology.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(query, params)
        return cursor.fetchall() if cursor.description else None


def from_both_servers(visitor, path: str, tries: int = 8) -> dict:
    """GET `path` until both app servers have answered it; their responses by server."""
    answers = {}
    for _ in range(tries):
        response = visitor.get(path)
        answers[served_by(response)] = response
        if len(answers) == 2:
            return answers
    raise AssertionError(f"only {list(answers)} answered {path}")


@pytest.fixture(scope="module")
def accounts(topology):
    """A reader and a staff member, made with the CLI an operator uses (`flask users create`)."""
    for email, role in ((READER, "reader"), (STAFF, "staff")):
        result = topology.flask("users", "create", email, "--role", role, input=PASSWORD + "\n")
        assert result.returncode == 0, result.stdout + result.stderr


def next_server(visitor) -> None:
    """nginx takes turns between the app servers; a form is a GET then a POST, so without an odd
    request between two forms every POST would reach the same server."""
    visitor.get("/healthz")


def sign_in(visitor, email: str = READER):
    response = visitor.submit("/sign-in", {"email": email, "password": PASSWORD})
    assert response.status_code == 302, response.text
    return response


def test_a_reader_signed_in_on_one_server_is_signed_in_on_the_other_until_signing_out_on_either(topology, accounts):
    reader = topology.client()
    assert sign_in(reader).headers["Location"] == "/account"
    for response in from_both_servers(reader, "/account/settings").values():
        assert response.status_code == 200 and READER in response.text

    kept_cookie = reader.http.cookies.get("session")
    response = reader.submit("/sign-out", {}, page="/account/settings")
    assert response.status_code == 302

    # A copy of the cookie from before the sign-out opens nothing, whichever server it reaches.
    thief = topology.client()
    thief.http.cookies.set("session", kept_cookie, domain="127.0.0.1", path="/")
    for response in from_both_servers(thief, "/account/settings").values():
        assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")


def test_a_rate_limit_holds_across_both_servers(topology, accounts, smtp_server):
    mailbox, _ = smtp_server
    address = "limited@example.com"
    topology.flask("users", "create", address, input=PASSWORD + "\n")
    reader = topology.client()
    statuses, servers = [], set()
    for _ in range(5):
        response = reader.submit("/sign-in/link", {"email": address})
        statuses.append(response.status_code)
        servers.add(served_by(response))
        next_server(reader)
    # Three sign-in links per address in 15 minutes, counted once for every server and worker.
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429], statuses
    assert len(servers) == 2


def test_the_limiter_counts_the_reader_behind_nginx_not_nginx_nor_a_forged_header(topology):
    """X-Forwarded-For from a reader is not believed; the address nginx saw is (TRUSTED_PROXIES=1)."""
    first = topology.client(source_address="127.0.0.5")
    statuses = [
        first.submit("/register", {"email": "not an address"}, headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
        for n in range(11)
    ]
    assert statuses[:10] == [200] * 10 and statuses[10] == 429, statuses
    second = topology.client(source_address="127.0.0.6")
    assert second.submit("/register", {"email": "not an address"}).status_code == 200


def test_a_survey_started_on_one_server_is_finished_on_the_other(topology):
    reader = topology.client()
    intro = reader.get("/surveys/reader-survey")
    assert intro.status_code == 200
    start = reader.submit("/surveys/reader-survey/start", {}, page="/surveys/reader-survey")
    assert start.status_code == 302, start.text
    # The survey asks for at least 20 seconds of a reader's time; this reader took them.
    sql(topology, "UPDATE survey_response SET started_at = started_at - interval '5 minutes'")

    servers = {served_by(start)}
    next_server(reader)
    answers = {1: {"read_frequency": "weekly"}, 2: {}, 3: {"recommend": "9"}}
    for number, page_answers in answers.items():
        response = reader.submit(f"/surveys/reader-survey/page/{number}", {"action": "next", **page_answers})
        assert response.status_code == 302, response.text
        servers.add(served_by(response))
        next_server(reader)
    assert response.headers["Location"] == "/surveys/reader-survey/thanks"
    assert len(servers) == 2
    [(count,)] = sql(topology, "SELECT count(*) FROM survey_response WHERE submitted_at IS NOT NULL")
    assert count == 1


def test_stripe_webhooks_reach_the_app_through_the_proxy(topology):
    webhook = topology.client()
    payload = json.dumps({
        "id": "evt_topology_1", "object": "event", "type": "customer.created", "created": int(time.time()),
        "livemode": False, "api_version": "2017-08-15", "data": {"object": {"id": "cus_topology", "object": "customer"}},
    })
    signature = stripe.WebhookSignature.generate_signature_header(
        payload, topology.env["STRIPE_WEBHOOK_SECRET"], int(time.time())
    )
    headers = {"Stripe-Signature": signature, "Content-Type": "application/json"}
    assert webhook.post("/stripe/webhook", payload, headers=headers).status_code == 200
    forged = {**headers, "Stripe-Signature": signature.replace("v1=", "v1=0")}
    assert webhook.post("/stripe/webhook", payload.replace("evt_topology_1", "evt_topology_2"), headers=forged).status_code == 400
    assert sql(topology, "SELECT event_id FROM stripe_event ORDER BY id") == [("evt_topology_1",)]


def test_staff_sign_in_with_a_second_factor_and_export_through_the_proxy(topology, accounts):
    staff = topology.client()
    assert sign_in(staff, STAFF).headers["Location"] == "/sign-in/totp/setup"
    setup = staff.get("/sign-in/totp/setup").text
    secret = setup.split('<p class="secret"><code>')[1].split("</code>")[0].replace(" ", "")
    response = staff.submit("/sign-in/totp/setup", {"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 302, response.text

    export = staff.http.get(f"{topology.url}/staff/surveys/reader-survey/export.csv", timeout=30, stream=True)
    assert export.status_code == 200
    assert export.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["response_id", "survey_version", "submitted_at"]


def test_nginx_serves_the_static_files_itself(topology):
    response = topology.client().get("/static/site.css")
    assert response.status_code == 200 and "X-Served-By" not in response.headers
    assert response.headers["Content-Type"].startswith("text/css")


@pytest.mark.parametrize(
    "unit",
    ["sight-mail-send.service", "sight-remind.service", "sight-lapse-reminders.service", "sight-reconcile.service",
     "sight-membership-purge.service", "sight-surveys-purge.service", "sight-settle.service"],
)
def test_the_timers_commands_run_against_the_topology(topology, unit):
    command = unit_exec_start(unit)
    assert command[0] == str(BIN / "flask")
    result = subprocess.run(
        command, cwd=ROOT, env={**topology.env, **unit_environment(unit)}, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_mail_worker_unit_sends_a_sign_in_link_requested_through_nginx(topology, accounts, smtp_server):
    mailbox, _ = smtp_server
    unit = "sight-mail-worker.service"
    log = topology.logs / "mail-worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            unit_exec_start(unit), cwd=ROOT, env={**topology.env, **unit_environment(unit)},
            stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        address = "worker@example.com"
        topology.flask("users", "create", address, input=PASSWORD + "\n")
        assert topology.client().submit("/sign-in/link", {"email": address}).status_code == 200
        message = mailbox.wait_for(address, timeout=60)
        assert f"{topology.url}/sign-in/link/" in message.get_body(("plain",)).get_content()
    finally:
        worker.terminate()
        assert worker.wait(timeout=30) == 0, log.read_text()


def test_each_request_is_one_json_line_under_the_id_nginx_gave_it(topology):
    response = topology.client().get("/healthz")
    assert response.status_code == 200 and response.json()["database"] == "ok"
    request_id = response.headers["X-Request-ID"]
    lines = [
        json.loads(line)
        for port in topology.app_ports
        for line in topology.app_log(port).splitlines()
        if line.startswith("{")
    ]
    [line] = [line for line in lines if line.get("request_id") == request_id]
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", 200)


def test_the_doctor_finds_nothing_to_fix_and_reaches_redis_mail_and_the_database(topology):
    result = topology.flask("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK    The rate-limit store (redis://127.0.0.1) answers." in result.stdout
    assert "OK    The database answers and is at the newest migration." in result.stdout
    assert "The mail server at 127.0.0.1:" in result.stdout and "answers." in result.stdout
    # The topology uses localstripe's test keys: the doctor says so, as it would to an operator.
    assert "WARN  Stripe test keys in production" in result.stdout


def test_no_app_server_logged_an_error(topology):
    for port in topology.app_ports:
        log = topology.app_log(port)
        assert "Traceback" not in log and "ERROR" not in log, log


def test_a_sign_in_code_issued_by_one_server_is_redeemed_at_the_other(topology, accounts):
    """Sign in with Sight+: the code, the tokens and the signing key live in what both servers share."""
    added = topology.flask("identity", "clients", "add", "--name", "The Sight website", "--first-party",
                           "--redirect-uri", "https://site.example/callback")
    assert added.returncode == 0, added.stdout + added.stderr
    client_id = re.search(r"client_id: (\S+)", added.stdout).group(1)
    secret = re.search(r"client_secret: (\S+)", added.stdout).group(1)
    reader = topology.client()
    sign_in(reader)
    verifier = secrets.token_urlsafe(48)
    authorized = reader.get("/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": "https://site.example/callback",
        "scope": "openid sight_plus", "state": "s", "nonce": "n",
        "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256"}))
    assert authorized.status_code == 302, authorized.text
    code = parse_qs(urlsplit(authorized.headers["Location"]).query)["code"][0]
    issued_by = served_by(authorized)

    # nginx takes turns: once the issuing server has answered, the next request goes to the other.
    while served_by(reader.get("/healthz")) != issued_by:
        pass
    tokens = reader.http.post(topology.url + "/oauth/token", auth=(client_id, secret), timeout=30, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": "https://site.example/callback",
        "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.text
    assert served_by(tokens) != issued_by
    jwks = KeySet.import_key_set(reader.get("/oauth/jwks").json())
    claims = jwt.decode(tokens.json()["id_token"], jwks, algorithms=["RS256", "ES256"]).claims
    assert (claims["iss"], claims["aud"], claims["sight_plus"]) == (topology.url, client_id, False)
