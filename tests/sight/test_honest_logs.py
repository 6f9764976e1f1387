"""The log of a whole journey, as `make run` writes it (`flask run --debug`, the development
server) and as production's gunicorn writes it: one JSON line per request with its time and
level, and none of the secrets the journey was handed (sign-in, reset, pay, thanks and manage
links, a survey's resume link, an OIDC code)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from accounts.models import User
from membership.context import context_for
from membership.models import Donor
from sight import create_app
from sight.extensions import db
from tests.conftest import free_port, wait_for_port
from tests.helpers import CSRF_INPUT, PASSWORD

ROOT = Path(__file__).resolve().parent.parent.parent
BIN = Path(sys.executable).parent
FLASK = str(BIN / "flask")
SERVERS = {
    "make run": lambda port: [FLASK, "run", "--host", "127.0.0.1", "--port", str(port), "--debug", "--no-reload"],
    "gunicorn": lambda port: [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
                              "--workers", "1", "wsgi:app"],
}
EMAIL = "journey@example.com"


class Journey:
    """A reader's browser without JavaScript: it counts every request it makes, redirects included."""

    def __init__(self, base: str):
        self.base = base
        self.http = requests.Session()
        self.requests_made = 0
        self.http.hooks["response"].append(self._count)

    def _count(self, response, *args, **kwargs):
        self.requests_made += 1

    def get(self, path: str) -> requests.Response:
        return self.http.get(path if path.startswith("http") else self.base + path, timeout=30)

    def submit(self, path: str, data: dict, page: str | None = None) -> requests.Response:
        """Open the page with the form, then post it with that page's CSRF token."""
        html = self.get(page or path).text
        token = CSRF_INPUT.search(html).group(1)
        return self.http.post(self.base + path, data={**data, "csrf_token": token}, timeout=30)


def token_in(url: str, prefix: str) -> str:
    return url.split(prefix, 1)[1].split("/")[0].split("?")[0]


def emailed_link(mailbox, prefix: str) -> str:
    text = mailbox.wait_for(EMAIL).get_body(("plain",)).get_content()
    [link] = re.findall(rf"http\S+{re.escape(prefix)}\S+", text)
    return link


@pytest.fixture(params=SERVERS)
def served_app(request, tmp_path, smtp_server, localstripe_url, mailbox):
    """The app served as `make run` serves it, or as gunicorn does, on a database of its own, writing
    its log to a file; and an app on the same settings for what the reader's mail and the test look up."""
    _, smtp_port = smtp_server
    port = free_port()
    env = {
        "APP_ENV": "development",
        "SECRET_KEY": "a-development-key-for-the-log-journey-test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'sight.sqlite3'}",
        "MAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "STRIPE_API_BASE": localstripe_url,
        "STRIPE_JS_URL": f"{localstripe_url}/js.stripe.com/v3/",
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PASSWORD_HASHING": "fast",
    }
    process_env = {**os.environ, **env, "FLASK_APP": "wsgi.py", "PYTHONUNBUFFERED": "1"}
    subprocess.run([FLASK, "db", "upgrade"], cwd=ROOT, env=process_env, check=True, capture_output=True)
    subprocess.run([FLASK, "seed"], cwd=ROOT, env=process_env, check=True, capture_output=True)
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log_file:
        server = subprocess.Popen(
            SERVERS[request.param](port), cwd=ROOT, env=process_env, stdout=subprocess.DEVNULL, stderr=log_file,
        )
    app = create_app({"ENVIRON": env, "TESTING": True})
    mailbox.apps[:] = [app]
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}", app, log_path
    finally:
        server.terminate()
        server.wait(timeout=10)
        mailbox.apps.clear()
        with app.app_context():
            db.engine.dispose()


def test_a_journey_logs_one_json_line_per_request_and_none_of_its_secrets(served_app, mailbox):
    base, app, log_path = served_app
    reader = Journey(base)
    secrets = []

    assert reader.get("/").status_code == 200
    registered = reader.submit("/register", {"name": "Jo Journey", "email": EMAIL, "password": PASSWORD,
                                             "confirm": PASSWORD})
    assert registered.status_code == 200 and registered.url.endswith("/account")
    reader.submit("/sign-out", {})

    # A sign-in link, opened and used.
    reader.submit("/sign-in/link", {"email": EMAIL})
    sign_in = emailed_link(mailbox, "/sign-in/link/")
    secrets.append(token_in(sign_in, "/sign-in/link/"))
    assert reader.submit(sign_in.removeprefix(base), {}).url.endswith("/account")
    reader.submit("/sign-out", {})

    # A password reset.
    reader.submit("/password/reset", {"email": EMAIL})
    reset = emailed_link(mailbox, "/password/reset/")
    secrets.append(token_in(reset, "/password/reset/"))
    new_password = "a different horse battery staple"
    assert reader.submit(reset.removeprefix(base), {"password": new_password, "confirm": new_password}).status_code == 200

    # An annual gift as far as its pay page, and the thank-you page's address.
    paying = reader.submit("/donate", {"amount": "2600", "frequency": "yearly", "name": "Jo Journey", "email": EMAIL,
                                       "currency": "aud", "other_amount": "", "message": ""})
    assert "/donate/pay/" in paying.url, paying.text
    pay_token = token_in(paying.url, "/donate/pay/")
    secrets.append(pay_token)
    reader.get(f"/donate/thanks/{pay_token}")

    # The donor's manage link, and the new one it sends by email.
    with app.app_context():
        donor = db.session.scalar(select(Donor).join(User).where(User.email == EMAIL))
        manage = context_for(app).links.manage_url(donor.id, donor.manage_version)
    secrets.append(token_in(manage, "/manage/"))
    reader.get(manage.removeprefix(base))
    reader.submit(manage.removeprefix(base) + "/new-link", {}, page=manage.removeprefix(base))
    new_manage = emailed_link(mailbox, "/manage/")
    secrets.append(token_in(new_manage, "/manage/"))
    reader.get(new_manage.removeprefix(base))

    # A survey started, and its resume link.
    started = reader.submit("/surveys/reader-survey/start", {}, page="/surveys/reader-survey")
    [resume] = re.findall(r'class="resume-link">([^<]+)<', started.text)
    secrets.append(token_in(resume, "/resume/"))
    reader.get(resume.removeprefix(base))

    # An OIDC-style return with a code in the query string: queries are never logged.
    secrets.append("oidc-code-4f9a1c7e2b")
    reader.get("/sign-in?code=oidc-code-4f9a1c7e2b&state=xyz")

    log_text = log_path.read_text()
    for secret in secrets:
        assert len(secret) >= 10 and secret not in log_text
    assert EMAIL not in log_text

    # Every line is one JSON object with its time and level; exactly one per request.
    records = [json.loads(line) for line in log_text.splitlines() if line.strip()]
    request_lines = [r for r in records if r["logger"] == "sight.request"]
    assert len(request_lines) == reader.requests_made
    assert all(r["time"] and r["level"] == "INFO" and r["message"] == "request" for r in request_lines)
    assert not [r for r in records if r["logger"] == "werkzeug" and " HTTP/1.1" in r["message"]]
    paths = {r["path"] for r in request_lines}
    assert {"/sign-in/link/:token", "/password/reset/:token", "/donate/pay/:token", "/donate/thanks/:token",
            "/manage/:token", "/manage/:token/new-link", "/surveys/reader-survey/resume/:token"} <= paths
