"""Small helpers the tests share: real forms (with their CSRF token) and factories."""

from __future__ import annotations

import threading

import re
import tempfile
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pyotp
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from flask import Flask

from accounts.models import Role, User
from accounts.passwords import hash_password
from sight.extensions import db

PASSWORD = "correct horse battery staple"


def write_signing_key(path: Path) -> str:
    """A fresh EC P-256 private key (PEM) at `path`, as an operator makes one for production."""
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    path.chmod(0o600)
    return str(path)


# Production settings name a signing key file; the tests' production apps share this one.
_KEY_DIRECTORY = tempfile.TemporaryDirectory(prefix="sight-test-key-")
TEST_SIGNING_KEY_FILE = write_signing_key(Path(_KEY_DIRECTORY.name) / "identity-signing-key.pem")
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in_url(next_url: str) -> str:
    """Where an anonymous visitor to `next_url` is sent: the sign-in page, with the way back."""
    return f"/sign-in?next={quote(next_url, safe='')}"


def submit_form(client, url: str, data: dict, *, page_url: str | None = None, **kwargs):
    """Open the page that holds the form, then post it with that page's CSRF token."""
    page = client.get(page_url or url)
    token = csrf_token_from(page.get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token}, **kwargs)


def create_user(
    session,
    email: str = "reader@example.com",
    *,
    password: str | None = PASSWORD,
    role: Role = Role.reader,
    name: str = "Alex Reader",
    totp: bool | str = False,
    created_at: datetime | None = None,
) -> User:
    """The one way tests make a person: written and committed in `session`.

    `password=None` is a donor who never set one; `totp=True` gives a fresh second-factor
    secret (or pass the secret itself). Hashing uses the app's profile (fast in tests).
    """
    user = User(
        email=email.lower(),
        name=name,
        password_hash=hash_password(password) if password else None,
        role=role,
        totp_secret=pyotp.random_base32() if totp is True else (totp or None),
    )
    if created_at is not None:
        user.created_at = created_at
    session.add(user)
    session.commit()
    return user


def make_user(app: Flask, email: str = "reader@example.com", **kwargs) -> User:
    """`create_user` in an app context of its own, returned detached with its columns loaded.

    Use it from tests that then make requests: with a context pushed by the test, the
    client's requests would share the test's database session.
    """
    with app.app_context():
        user = create_user(db.session, email, **kwargs)
        db.session.refresh(user)
        db.session.expunge(user)
        db.session.rollback()
    return user


def sign_in_as(client, user: User) -> None:
    """Put `user` in the test client's session directly (skips the password and TOTP steps,
    which tests/accounts exercises through the real forms)."""
    with client.session_transaction() as flask_session:
        flask_session["_user_id"] = user.get_id()
        flask_session["_fresh"] = True


def download_my_data(client) -> dict:
    """The signed-in reader's data download, as the settings page offers it."""
    response = client.get("/account/settings/my-data.json")
    assert response.status_code == 200
    return response.get_json()


def close_my_account(client, password: str = PASSWORD) -> None:
    """Close the signed-in reader's account through the real form (a donor who never set a
    password types the confirmation instead)."""
    data = {"password": password, "confirmation": "close my account"}
    response = submit_form(client, "/account/settings/close", data)
    assert response.status_code == 302


def give_stripe_customer(session, gateway, donor) -> str:
    """A Stripe Customer for a donor now, for tests that pay outside the donate form (giving itself
    makes its customer in `open_card_setup`, with no transaction open)."""
    user = donor.user
    donor.stripe_customer_id = gateway.create_customer(
        user_id=user.id, idempotency_key=f"sight-donor-{donor.id}-customer"
    )
    session.flush()
    return donor.stripe_customer_id


def run_at_once(app: Flask, job, times: int = 2) -> list:
    """Run `job(session)` in `times` threads released together, each in an app context (and
    database session) of its own, committing after it; what each returned. A thread's exception
    fails the caller."""
    start = threading.Barrier(times)
    results, errors = [], []

    def run():
        try:
            with app.app_context():
                start.wait()
                results.append(job(db.session))
                db.session.commit()
                db.session.remove()
        except Exception as error:  # raised in the test's thread below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    return results
