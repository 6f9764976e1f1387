"""Shared fixtures: a real database (SQLite, or PostgreSQL when TEST_DATABASE_URL is set),
a real SMTP server (aiosmtpd), a real localstripe process, a live app server and Chromium.

Package-specific fixtures live in tests/<package>/conftest.py.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from email import message_from_bytes
from email.policy import default as email_policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text
from werkzeug.serving import make_server

from accounts.models import Role, User
from accounts.passwords import use_profile as use_password_profile
from sight import create_app
from sight.extensions import db, limiter
from tests import helpers

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET_KEY = "test-secret-key-not-for-production"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


# --- mail ------------------------------------------------------------------------------


class Mailbox:
    """What the SMTP server received: a list of email.message.Message.

    Requests only queue mail; `flask mail worker` sends it. Reading `messages` first does what
    the worker does on each look at the outbox, for the apps of the running test, as a reader
    opening their inbox a moment later would find it. `received` is what arrived so far, without
    that pass."""

    def __init__(self):
        self.received = []
        self.refuse = False
        self.apps = []
        self._arrived = threading.Condition()

    def run_mail_worker(self) -> None:
        from sight.db import utcnow
        from sight.mail import deliver_due, transport_from_config

        # The test's own app first: its mail settings are the ones the test is about.
        for app in reversed(self.apps):
            with app.app_context():
                deliver_due(db.session, transport_from_config(app), utcnow())
                db.session.remove()

    @property
    def messages(self) -> list:
        self.run_mail_worker()
        return self.received

    def wait_for(self, address: str, timeout: float = 10):
        """The newest message to `address`, waiting for it (queued from another thread, then sent by the worker)."""
        deadline = time.monotonic() + timeout
        while not self.to(address):
            if time.monotonic() > deadline:
                raise AssertionError(f"no mail reached {address} in {timeout}s")
            with self._arrived:
                self._arrived.wait(0.1)
        return self.to(address)[-1]

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]

    def bodies(self, address: str | None = None) -> list[str]:
        messages = self.messages if address is None else self.to(address)
        return [m.get_body(("plain",)).get_content() for m in messages]


class SmtpHandler:
    """aiosmtpd's handler: files each message in the mailbox (kept apart from it, because
    aiosmtpd reads every attribute of its handler, and the mailbox's `messages` sends mail)."""

    def __init__(self, mailbox: Mailbox):
        self.mailbox = mailbox

    async def handle_DATA(self, server, session, envelope):
        if self.mailbox.refuse:
            return "451 Requested action aborted: try again later"
        with self.mailbox._arrived:
            self.mailbox.received.append(message_from_bytes(envelope.content, policy=email_policy))
            self.mailbox._arrived.notify_all()
        return "250 Message accepted for delivery"


@pytest.fixture(scope="session")
def smtp_server():
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(SmtpHandler(mailbox), hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


@pytest.fixture
def mailbox(smtp_server) -> Mailbox:
    mailbox, _ = smtp_server
    mailbox.received.clear()
    mailbox.refuse = False
    return mailbox


# --- Stripe ----------------------------------------------------------------------------


@contextmanager
def running_localstripe():
    """A localstripe process of its own on a free port, its address while it runs."""
    port = free_port()
    # Without --state, this localstripe keeps everything in memory: it neither reads nor writes
    # the /tmp/localstripe.pickle that a plain localstripe shares with every other on the machine.
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "localstripe_server.py"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def localstripe_url():
    with running_localstripe() as url:
        yield url


# --- database and app ------------------------------------------------------------------


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    return os.environ.get("TEST_DATABASE_URL") or (
        "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")
    )


@pytest.fixture(scope="session")
def app_config(database_url, smtp_server, localstripe_url, tmp_path_factory) -> dict:
    _, smtp_port = smtp_server
    return {
        "TESTING": True,
        "ENVIRON": {"APP_ENV": "test"},
        "SECRET_KEY": TEST_SECRET_KEY,
        # argon2id at its lowest cost; tests/accounts checks the production profile once.
        "PASSWORD_HASHING": "fast",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "MAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "STRIPE_API_BASE": localstripe_url,
        "STRIPE_JS_URL": f"{localstripe_url}/js.stripe.com/v3/",
        "SERVER_NAME": None,
    }


@pytest.fixture(scope="session")
def _migrated_schema(app_config):
    """The schema every test runs on is built by the migrations themselves."""
    from flask_migrate import upgrade

    app = create_app(dict(app_config))
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="module")
def _module_app(app_config, _migrated_schema):
    """One app per test module: building one costs more than most tests do."""
    app = create_app(dict(app_config))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def make_app(app_config, _module_app, smtp_server):
    """Build an app of the test's own, with extra config.

    After the test every table is emptied, rate limits are forgotten and the module's app gets
    its config back, so that each test starts from the same place.
    """
    mailbox, _ = smtp_server
    # The apps whose outbox the tests' mail worker empties.
    mailbox.apps[:] = [_module_app]
    apps = []
    saved_config = dict(_module_app.config)
    # Building an app picks the password-hashing profile for the whole process; an app made
    # elsewhere with production settings must not slow down the tests that follow it.
    use_password_profile(app_config["PASSWORD_HASHING"])

    def factory(**overrides):
        app = create_app({**app_config, **overrides})
        apps.append(app)
        mailbox.apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    _module_app.config.clear()
    _module_app.config.update(saved_config)
    # Limits are counted in one store per process, whichever app counted them.
    limiter.reset()
    mailbox.apps.clear()
    with _module_app.app_context():
        empty_all_tables()


@pytest.fixture
def app(make_app, _module_app):
    return _module_app


def empty_all_tables() -> None:
    db.session.remove()
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            quoted = ", ".join(f'"{name}"' for name in tables)
            conn.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f'DELETE FROM "{name}"'))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(app):
    """`make_user(email, role=..., totp=True, ...)`: tests.helpers.make_user on the test's app."""
    return functools.partial(helpers.make_user, app)


@pytest.fixture
def staff_user(app) -> User:
    return helpers.make_user(app, "staff@sight.example", role=Role.staff, name="Sam Staff")


@pytest.fixture
def staff_client(client, staff_user):
    """The test client, signed in as a staff member."""
    helpers.sign_in_as(client, staff_user)
    return client


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(app):
    """A database session inside an app context, for domain functions."""
    with app.app_context():
        yield db.session
        db.session.rollback()


# --- live server and browser -----------------------------------------------------------


@pytest.fixture
def live_server(app):
    """The test app served over real HTTP on 127.0.0.1, for localstripe webhooks and Chromium."""
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser tab (its own cookies) sized like a phone; fails the test on a CSP violation."""
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.csp_violations = []
    page.on(
        "console",
        lambda msg: page.csp_violations.append(msg.text)
        if "Content Security Policy" in msg.text
        else None,
    )
    yield page
    context.close()
    assert not page.csp_violations, page.csp_violations
